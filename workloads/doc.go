// Package workloads drives concurrent lock and election clients against an
// etcd cluster started by package harness and records every operation they
// perform in a history (package history).
//
// A Workload owns N clients (default 5), each with its own etcd client that
// reaches one member through its own harness link (clients are spread over
// the members), its own lease, and its own seeded random source that decides
// what it does next (see Intent). A lock workload's clients take locks,
// write a shared per-lock resource key inside the critical section (fenced
// and unfenced writes) and unlock; an election workload's clients campaign,
// proclaim unique values and resign, or only read the leader, while
// long-lived Observe streams record every value they deliver.
//
// The lock and election implementations are behind two small interfaces,
// Locker and Elector (backend.go). Two backends are built in (the v3lock /
// v3election gRPC services and clientv3/concurrency); Config.Locker and
// Config.Elector plug in any other implementation: this is how a user tests
// a wrapper of their own around etcd, checked exactly as etcd's own (see
// the examples here and in harness/runner). A Locker may also implement
// TryLocker, and FencedWriter to make the critical section's fenced writes
// itself.
//
// Mutants (mutants.go, one mutant_*.go file each) are deliberately broken
// wrappers around a Locker or Elector, selected with Config.Mutant, each
// naming the check that must catch it: they prove that the checks find the
// bugs they are meant to find.
//
// Clients are exposed (Workload.Clients) so that a fault injector can act on
// them: pause a client's process (Client.Pause together with
// harness.Cluster.PauseClient), stop renewing its lease (StopKeepAlive), or
// find the lease to revoke (Client.Lease).
package workloads
