package history

import "fmt"

// The kinds of fault a history records, declared once: the injectors that
// emit a kind, the reader that pairs its events, the checkers that decide
// what it explains and the report that colours it all read this table, so
// no layer can know a kind that another has forgotten.

// Fault kind names, as written in the "fault" field of fault events.
const (
	KindPartition     = "partition"
	KindLatency       = "latency"
	KindHangPort      = "hang-client-port"
	KindKillMember    = "kill-member"
	KindMoveLeader    = "move-leader"
	KindPauseMember   = "pause-member"
	KindStallDisk     = "stall-disk"
	KindIsolateClient = "isolate-client"
	KindPauseClient   = "pause-client"
	KindHoldAnswers   = "hold-answers"
	KindRevokeLease   = "revoke-lease"
	KindExpireLease   = "expire-lease"
	KindCompaction    = "compaction"
	// KindCompactBehindWaiter: a waiting client cut off while the keyspace
	// is compacted past the revision its watch resumes from.
	KindCompactBehindWaiter = "compact-behind-waiter"
)

// FaultKind is everything the project knows about one kind of fault.
type FaultKind struct {
	Name string
	// OneShot kinds happen at an instant and nothing heals them: the end
	// event they write once their action succeeded bounds when they took
	// effect. The others last from start to end.
	OneShot bool
	Target  FaultTarget
	// Explains is what a fault of this kind may explain to the checkers.
	Explains Explains
	// Class is the kind's colour family in reports.
	Class FaultClass
	// MovesLeader: a fault of this kind can make the cluster elect a new
	// leader (what a mechanism around a leader change needs).
	MovesLeader bool
}

// FaultTarget is what a fault acts on. The zero value means "not said".
type FaultTarget uint8

// Fault targets.
const (
	TargetMember FaultTarget = iota + 1 // a member's process or its role, or the store all members replicate
	TargetLink                          // the links between members
	TargetClient                        // one client and its link to its member
	TargetLease                         // one client's lease
)

// Explains says which hazards a fault may explain. A fault can only make a
// checker more lenient, so explaining nothing is the safe default; it is
// still said explicitly (ExplainsNothing), and the zero value means "not
// said", which the kinds table does not allow.
type Explains uint8

// Meanings of a fault for the checkers; a kind may combine all but
// ExplainsNothing.
const (
	// ExplainsNothing: the fault explains no hazard.
	ExplainsNothing Explains = 1 << iota
	// ExplainsLeaseDeath: the fault may end the lease it names, at any time
	// after its start; checkers treat it as a lease death of unknown outcome,
	// broadcast to every name that used the lease.
	ExplainsLeaseDeath
	// ExplainsClientStall: the fault may let the lease of the client it aims
	// at lapse while that client believes it still holds its lock; it
	// concerns the lease the event names, or else the client it targets.
	ExplainsClientStall
	// ExplainsClusterFault: the fault may cut the keep-alives of whichever
	// clients it touches, so it may explain any client's lapse after it.
	ExplainsClusterFault
)

// Has reports whether x includes meaning m.
func (x Explains) Has(m Explains) bool { return x&m != 0 }

// FaultClass is a kind's colour family in reports. The zero value means
// "not said".
type FaultClass uint8

// Fault classes. ClassNeutral is for kinds this version does not know.
const (
	ClassNeutral FaultClass = iota + 1
	ClassNetwork
	ClassMember
	ClassClient
	ClassLease
)

// faultKinds is the table of known kinds. Within a class, the order of
// kinds here is the order of their shades in reports.
var faultKinds = []FaultKind{
	{Name: KindPartition, Target: TargetLink, Explains: ExplainsClusterFault, Class: ClassNetwork, MovesLeader: true},
	{Name: KindLatency, Target: TargetLink, Explains: ExplainsNothing, Class: ClassNetwork},
	// A member's client port hung: its peer links work, so quorum stays
	// healthy, but the keep-alives of whichever clients send through it
	// wait until they give up.
	{Name: KindHangPort, Target: TargetMember, Explains: ExplainsClusterFault, Class: ClassNetwork},
	{Name: KindKillMember, Target: TargetMember, Explains: ExplainsClusterFault, Class: ClassMember, MovesLeader: true},
	{Name: KindMoveLeader, OneShot: true, Target: TargetMember, Explains: ExplainsNothing, Class: ClassMember, MovesLeader: true},
	{Name: KindPauseMember, Target: TargetMember, Explains: ExplainsClusterFault, Class: ClassMember, MovesLeader: true},
	{Name: KindIsolateClient, Target: TargetClient, Explains: ExplainsClientStall, Class: ClassClient},
	{Name: KindPauseClient, Target: TargetClient, Explains: ExplainsLeaseDeath | ExplainsClientStall, Class: ClassClient},
	// Held answers lose the client its answers, not its requests: its
	// keep-alives still renew its lease.
	{Name: KindHoldAnswers, Target: TargetClient, Explains: ExplainsNothing, Class: ClassClient},
	{Name: KindRevokeLease, OneShot: true, Target: TargetLease, Explains: ExplainsLeaseDeath | ExplainsClientStall, Class: ClassLease},
	{Name: KindExpireLease, Target: TargetLease, Explains: ExplainsLeaseDeath | ExplainsClientStall, Class: ClassLease},
	{Name: KindCompaction, OneShot: true, Target: TargetMember, Explains: ExplainsNothing, Class: ClassMember},
	// It acts on the store every member replicates, so it cannot run
	// against a cluster the harness did not start, and on the waiter it
	// cuts off, whose lapse it may explain as a client cut-off does.
	{Name: KindCompactBehindWaiter, Target: TargetMember, Explains: ExplainsClientStall, Class: ClassMember},
	// A member whose disk stalls keeps its links but stops its raft loop
	// at its next write: as a leader it stops its heartbeats and is
	// replaced, and the keep-alives it answers or forwards stop. (Last,
	// so that the kinds before it keep their colours.)
	{Name: KindStallDisk, Target: TargetMember, Explains: ExplainsClusterFault, Class: ClassMember, MovesLeader: true},
}

var faultKindByName = func() map[string]FaultKind {
	m := make(map[string]FaultKind, len(faultKinds))
	for _, k := range faultKinds {
		m[k.Name] = k
	}
	return m
}()

// FaultKinds returns every known kind, in table order.
func FaultKinds() []FaultKind { return append([]FaultKind(nil), faultKinds...) }

// FaultKindOf returns the kind named name. A kind this version does not
// know (say, from an older history) is an interval fault in the neutral
// class that explains nothing; Known reports which it is.
func FaultKindOf(name string) FaultKind {
	if k, ok := faultKindByName[name]; ok {
		return k
	}
	return FaultKind{Name: name, Explains: ExplainsNothing, Class: ClassNeutral}
}

// Known reports whether k is in the kinds table.
func (k FaultKind) Known() bool {
	_, ok := faultKindByName[k.Name]
	return ok
}

// Validate reports a kind whose facts are missing or contradictory: every
// kind says its target, its class (not the neutral one) and its meaning.
func (k FaultKind) Validate() error {
	switch {
	case k.Name == "":
		return fmt.Errorf("fault kind without a name")
	case k.Target < TargetMember || k.Target > TargetLease:
		return fmt.Errorf("fault kind %s: no target", k.Name)
	case k.Class <= ClassNeutral || k.Class > ClassLease:
		return fmt.Errorf("fault kind %s: no colour class", k.Name)
	case k.Explains == 0:
		return fmt.Errorf("fault kind %s: does not say what it explains", k.Name)
	case k.Explains.Has(ExplainsNothing) && k.Explains != ExplainsNothing:
		return fmt.Errorf("fault kind %s: explains nothing and something", k.Name)
	case k.Explains >= ExplainsClusterFault<<1:
		return fmt.Errorf("fault kind %s: unknown meaning %#x", k.Name, uint8(k.Explains))
	}
	return nil
}
