// Package examples holds no code: its tests check the example CI workflows
// (with actionlint) and Kubernetes manifests (decoded strictly with the
// Kubernetes API types) that sit beside them, so that they keep working as
// the commands they run change.
package examples
