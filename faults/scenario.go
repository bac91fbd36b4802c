package faults

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Workload kinds a scenario can run, in the history's vocabulary.
const (
	WorkloadLock     = string(history.WorkloadLock)
	WorkloadElection = string(history.WorkloadElection)
)

// Scenario is a named chaos scenario: which workloads run and which faults
// the nemesis may inject. It is plain data, so a scenario can be listed,
// printed and put in a matrix.
type Scenario struct {
	Name        string
	Description string
	// Workloads run side by side (lock, election or both).
	Workloads []string
	// Injectors the nemesis picks from (see Injectors); none for a healthy run.
	Injectors []string
	// Quiet is the healthy gap before each fault.
	Quiet time.Duration
	// FaultFor is how long an interval fault lasts.
	FaultFor time.Duration
	// LeaseTTL of every client's lease.
	LeaseTTL time.Duration
	// Unfenced is the fraction of critical-section writes that trust the lock
	// instead of fencing on its revision, from 0 (none) to 1; it is handed to
	// workloads.Config.Unfenced as is.
	Unfenced float64
	// LongHold is the fraction of critical sections and terms held longer
	// than a lease TTL (workloads.Config.LongHold), so that waiters wait
	// longer than their leases live.
	LongHold float64
	// OpTimeout bounds each client operation but lock and campaign (0: the
	// workloads' default). Shorter than a link cut, it makes a release fail
	// and be retried while the client's lease still lives.
	OpTimeout time.Duration
	// Clients per workload when the run does not choose (0: the runner's
	// default, 5).
	Clients int
	// Names per workload when the run does not choose (0: the runner's
	// default, 2); more names keep each name's history small to check.
	Names int
	// TTLProbe is how often every client's lease keeper asks TimeToLive
	// between keep-alives (workloads.Config.TTLProbe; 0: never).
	TTLProbe time.Duration
	// Writes per critical section and proclaims per term
	// (workloads.Config.Writes; 0: the workloads' default).
	Writes int
	// RetryUnlockLater: a lock client retries an unlock that did not
	// succeed after its next lock grant, not at once
	// (workloads.Config.RetryUnlockLater).
	RetryUnlockLater bool
	// CampaignBackoff: an election client whose campaign returned an
	// error keeps its lease this long before it gives it up
	// (workloads.Config.CampaignBackoff).
	CampaignBackoff time.Duration
	// EveryEndpoint: every client has every member as an endpoint
	// (workloads.Config.EveryEndpoint), so it can go on through the others
	// when one member stops answering.
	EveryEndpoint bool
	// LeaseKeys is how many extra keys every client puts with each lease
	// it grants (workloads.Config.LeaseKeys; 0: none).
	LeaseKeys int
}

var catalog = []Scenario{
	{Name: "smoke", Description: "lock and election workloads on a healthy cluster, no faults",
		Workloads: []string{WorkloadLock, WorkloadElection}},
	{Name: "lock-partition", Description: "locks under leader isolation, member isolation, majority/minority splits, bridges and client isolation",
		Workloads: []string{WorkloadLock},
		Injectors: []string{IsolateLeader, IsolateMember, Split, Bridge, IsolateClient}},
	{Name: "lock-lease", Description: "locks whose holders' leases are revoked or left to expire",
		Workloads: []string{WorkloadLock},
		Injectors: []string{RevokeLease, ExpireLease}},
	{Name: "lock-pause", Description: "lock holders paused longer than their lease TTL, then resumed (Jepsen's 2020 hazard)",
		Workloads: []string{WorkloadLock},
		Injectors: []string{PauseClient}, Unfenced: 0.5},
	{Name: "lock-kill", Description: "locks while members and the leader are killed and restarted, and leadership moves",
		Workloads: []string{WorkloadLock},
		Injectors: []string{KillMember, KillLeader, MoveLeader}},
	{Name: "election-partition", Description: "elections under leader isolation, splits, bridges, link latency and client isolation",
		Workloads: []string{WorkloadElection},
		Injectors: []string{IsolateLeader, IsolateMember, Split, Bridge, Latency, IsolateClient}},
	{Name: "election-lease", Description: "elections whose leaders' leases are revoked, expire, or whose clients pause",
		Workloads: []string{WorkloadElection},
		Injectors: []string{RevokeLease, ExpireLease, PauseClient}},
	{Name: "election-kill", Description: "elections while members and the leader are killed and restarted, and leadership moves",
		Workloads: []string{WorkloadElection},
		Injectors: []string{KillMember, KillLeader, MoveLeader}},
	{Name: "client-faults", Description: "lock and election workloads under client-side faults only (client isolation and pauses, lease revokes and expiry); runs against external clusters",
		Workloads: []string{WorkloadLock, WorkloadElection}, Unfenced: 0.25,
		Injectors: []string{IsolateClient, PauseClient, RevokeLease, ExpireLease}},
	{Name: "member-pause", Description: "locks and elections while member processes are paused (SIGSTOP) or killed (kill -9); pauses need --mode process",
		Workloads: []string{WorkloadLock, WorkloadElection},
		Injectors: []string{PauseMember, KillMember, KillLeader}},
	{Name: "waiters", Description: "locks and elections whose waiters' leases are revoked or expire, or whose waiters pause or are cut off, while holders sometimes hold longer than a lease TTL; holders cut off while releasing retry as applications do (etcd issues 19597 and 22123)",
		Workloads: []string{WorkloadLock, WorkloadElection}, LongHold: 0.3, OpTimeout: 500 * time.Millisecond,
		Injectors: []string{RevokeWaiter, ExpireWaiter, PauseWaiter, IsolateWaiter, IsolateHolder}},
	{Name: "election-retry", Description: "election leaders cut off from their member, for less than a lease TTL, while they proclaim and resign; a resign of unknown outcome is retried on the same Election, as applications do (etcd issue 22123)",
		Workloads: []string{WorkloadElection}, Quiet: time.Second, OpTimeout: 500 * time.Millisecond,
		Injectors: []string{IsolateHolder}},
	{Name: "mixed", Description: "lock and election workloads under every kind of fault (the default)",
		Workloads: []string{WorkloadLock, WorkloadElection}, Unfenced: 0.25,
		Injectors: []string{IsolateLeader, IsolateMember, Split, Bridge, Latency, IsolateClient,
			RevokeLease, ExpireLease, PauseClient, KillMember, KillLeader, MoveLeader}},

	// Compactions and leader pauses.
	{Name: "compaction", Description: "locks and elections while the keyspace is compacted under waiting Lock and Campaign calls and open Observe streams, and leases are revoked or expire",
		Workloads: []string{WorkloadLock, WorkloadElection},
		Injectors: []string{Compaction, RevokeLease, ExpireLease}},
	// Leases of 10 s outlive a leader pause and the keep-alives that a
	// follower forwarded to the frozen leader, which block until they time
	// out (about 6 s), so clients keep their leases through the new leader.
	{Name: "leader-pause", Description: "locks and elections while the leader is paused (SIGSTOP) past the election timeout, killed or moved, with leases that outlive the pause; pauses need --mode process",
		Workloads: []string{WorkloadLock, WorkloadElection},
		Injectors: []string{PauseLeader, KillLeader, MoveLeader}, LeaseTTL: 10 * time.Second, TTLProbe: 50 * time.Millisecond},
	// A leader paused past its clients' lease TTL comes back taking itself
	// for the lessor's primary until it hears of the newer term: every
	// lease looks expired to it, though the new leader kept them alive. It
	// revokes at most 16 leases at a time, and the more it revokes the
	// likelier one goes out after it stepped down, so 12 clients per
	// workload give it about 20 leases, spread over 4 names.
	// Keep-alives bounded by 500 ms and retried on a new stream reach the
	// new leader within the TTL, where a forwarded one would hang for the
	// follower's 6 s request timeout.
	{Name: "stale-leader", Description: "locks and elections while the leader is paused (SIGSTOP) for longer than the clients' lease TTL, then continued, while the clients keep their leases alive through the new leader: the stale leader must not revoke them (etcd issue 15247, fixed by PR 17425 in 3.5.13, and its return since 3.5.16, etcdchaos-1); needs --mode process",
		Workloads: []string{WorkloadLock, WorkloadElection}, Clients: 12, Names: 4,
		OpTimeout: 500 * time.Millisecond, Injectors: []string{PauseLeader}, TTLProbe: 50 * time.Millisecond},
	// An unlock whose delete commits while its answer is held times out;
	// its client locks again with the same lease, so the new lock key has
	// the old name, and then retries the old unlock. Answers are held for
	// 2-3 op timeouts (less than half a TTL), so leases live on.
	{Name: "stale-unlock", Description: "lock holders whose answers are held (requests still reach etcd) while they unlock: an unlock that committed but timed out is retried after the client locked again with the same lease, as asynchronous retry code does; the retry must not delete the newer lock (etcd issue 22082)",
		Workloads: []string{WorkloadLock}, Quiet: time.Second, OpTimeout: 500 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Clients: 4, Names: 1, Writes: 1, RetryUnlockLater: true, Injectors: []string{HoldAnswers}},
	// Pauses of any member from half to one and a half seconds, around
	// the election timeout and the 500 ms after which a member retries a
	// ReadIndex, and of the leader past it, while every client reads and
	// waits through its own member, followers included. Leases of 10 s
	// outlive every pause.
	{Name: "stale-read", Description: "locks and elections while members and the leader are paused (SIGSTOP) briefly and often, around the election timeout and ReadIndex's 500 ms retry, while every client reads the leader or waits through its own member, followers included: no linearizable answer may be older than a committed revision (etcd issue 20418, fixed in 3.5.28 and 3.6.9); needs --mode process",
		Workloads: []string{WorkloadLock, WorkloadElection}, Quiet: time.Second, FaultFor: time.Second, LeaseTTL: 10 * time.Second,
		Clients: 9, Injectors: []string{PauseMember, PauseLeader}},
	// A waiter cut off for one to three seconds, less than its 4 s lease,
	// resumes its watch from the revision it read before it waited, which
	// the compaction made while it was cut off has removed: Lock cleans up
	// its key and returns the error, Campaign returns it and leaves its key
	// (etcd 21128). One name and six clients per workload keep a queue of
	// waiters, so the key left behind soon becomes the oldest.
	{Name: "campaign-compaction", Description: "locks and elections whose waiters are cut off, for less than their lease lives, while the keyspace is compacted past the revision their watch resumes from: a Campaign that returns the compaction error must not leave its key to lead the election with nobody acting as leader (etcd issue 21128)",
		Workloads: []string{WorkloadLock, WorkloadElection}, Quiet: time.Second, LeaseTTL: 4 * time.Second,
		Clients: 6, Names: 1, CampaignBackoff: time.Second, Injectors: []string{CompactBehindWaiter}},
	// Clients with every member as an endpoint, as applications configure
	// them, while one member's client port (sometimes the leader's) hangs
	// for two to four and a half lease TTLs and its peer links work, so
	// quorum stays healthy. gRPC's balancer sends a share of each client's
	// requests, keep-alives included, to the hung member until its
	// keepalive gives up on the connection (pings at least 10 s apart),
	// longer than most hangs: how many leases that costs is measured.
	{Name: "hung-port", Description: "locks and elections whose clients have every member as an endpoint while one member's client port, sometimes the leader's, accepts and never answers for longer than a lease TTL, its peer links working: how many leases are lost while quorum is healthy (Milvus 47296, Patroni 3335)",
		Workloads: []string{WorkloadLock, WorkloadElection}, FaultFor: 6 * time.Second, EveryEndpoint: true,
		Injectors: []string{HangClientPort, HangLeaderPort}},
	// Every leader change has moments when the member that answers
	// TimeToLive is not the lessor's primary: the old leader just demoted,
	// or the new one before it applied its first entry. Probes every 20 ms
	// from every client, through every member, meet them.
	// A member's disk stalls, its writes and fsyncs held, while its links
	// stay up; the leader's in two stalls of three. A stalled leader's
	// raft loop stops at its next write, so its heartbeats stop and the
	// others elect a new leader while it still believes it leads, holds
	// its lessor, and has the requests it took queued; when its disk comes
	// back it learns of the newer term. Its stall outlasts the clients'
	// 2 s leases (etcd issue 15247's trigger). Keep-alives bounded by
	// 500 ms are retried soon after one hangs on a stalled member.
	{Name: "disk-stall", Description: "locks and elections while a member's disk, most often the leader's, stalls (its writes and fsyncs held) with its network up: the others elect a new leader while the stalled one still believes it leads (the trigger of etcd issue 15247); needs --mode process and root (FUSE)",
		Workloads: []string{WorkloadLock, WorkloadElection}, OpTimeout: 500 * time.Millisecond, TTLProbe: 50 * time.Millisecond,
		Injectors: []string{StallLeaderDisk, StallDisk}},
	{Name: "lease-ttl", Description: "locks and elections whose clients ask TimeToLive many times a second, through every member, while leadership moves and the leader is killed or cut off (etcd issue 17506)",
		Workloads: []string{WorkloadLock, WorkloadElection}, Quiet: time.Second, FaultFor: 2 * time.Second,
		Injectors: []string{MoveLeader, KillLeader, IsolateLeader}, TTLProbe: 20 * time.Millisecond},
	// A revoke deletes its lease's keys one by one, in key order, and only
	// then removes the lease from the lessor, which answers for the lease
	// as alive meanwhile: with a thousand keys, for tens of milliseconds.
	// A TimeToLive waits for the applied index, so it meets that moment
	// when it waited behind other work just as the revoke was queued:
	// holders' leases are revoked right behind a revoke of three thousand
	// keys (revoke-behind), waiters' leases on their own, leadership moves
	// in between, and every keeper asks TimeToLive, with the lease's keys,
	// every 20 ms through its own member.
	{Name: "lease-race", Description: "locks and elections whose clients' leases carry a thousand keys each and are revoked every half second or so, often right behind a revoke of three thousand keys, while leadership moves and every client's keeper asks TimeToLive, with the keys, many times a second through its own member: no answer may find a lease alive with part of its keys gone (etcd issue 14758)",
		Workloads: []string{WorkloadLock, WorkloadElection}, Quiet: 500 * time.Millisecond,
		Injectors: []string{RevokeBehind, RevokeWaiter, MoveLeader}, TTLProbe: 20 * time.Millisecond, LeaseKeys: 1000},
	// A new leader takes requests as soon as raft made it leader, and
	// promotes its lessor only once it has applied its term's first entry;
	// a TimeToLive that read a lease's remaining time before that and
	// checks Demoted() after it answers 9223372036 s. Copying a thousand
	// keys between the two widens the window; moving leadership every
	// 150 ms or so opens it a few hundred times a run.
	{Name: "lease-promote", Description: "locks and elections whose clients' leases carry a thousand keys each, while leadership moves every 150 ms or so and every client's keeper asks TimeToLive, with the keys, many times a second through its own member: no answer may be the 9223372036 s of a new leader's lessor not yet promoted (etcdchaos-4)",
		Workloads: []string{WorkloadLock, WorkloadElection}, Quiet: 150 * time.Millisecond,
		Injectors: []string{MoveLeader}, TTLProbe: 20 * time.Millisecond, LeaseKeys: 1000},
}

// DefaultScenario is what `etcdchaos run` and `make run` use.
const DefaultScenario = "mixed"

// Scenarios returns the catalog, sorted by name, with defaults filled in.
func Scenarios() []Scenario {
	out := make([]Scenario, len(catalog))
	for i, s := range catalog {
		out[i] = s.withDefaults()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, error) {
	for _, s := range catalog {
		if s.Name == name {
			return s.withDefaults(), nil
		}
	}
	names := make([]string, 0, len(catalog))
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (expected one of %s)", name, strings.Join(names, ", "))
}

func (s Scenario) withDefaults() Scenario {
	if s.Quiet == 0 {
		s.Quiet = 2 * time.Second
	}
	if s.FaultFor == 0 {
		s.FaultFor = 4 * time.Second
	}
	if s.LeaseTTL == 0 {
		s.LeaseTTL = 2 * time.Second
	}
	s.Workloads = append([]string(nil), s.Workloads...)
	s.Injectors = append([]string(nil), s.Injectors...)
	return s
}

// StallsDisks reports whether the scenario stalls members' disks, for
// which its cluster needs stallable disks (harness.Config.StallableDisks).
func (s Scenario) StallsDisks() bool {
	for _, name := range s.Injectors {
		if injectors[name].kind.Name == history.KindStallDisk {
			return true
		}
	}
	return false
}

// Has reports whether the scenario runs the given workload kind.
func (s Scenario) Has(workload string) bool {
	for _, w := range s.Workloads {
		if w == workload {
			return true
		}
	}
	return false
}
