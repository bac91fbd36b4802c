// Package netns runs the members of a cluster in network namespaces of their
// own, joined by a bridge in a hub namespace, and cuts the links between them
// with prohibit routes inside the members' namespaces. Linux only, as root.
package netns
