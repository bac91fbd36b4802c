package linear

import (
	"fmt"
	"slices"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// A family is one kind of name a workload exercises, a lock or an election,
// held together as one value in the spirit of porcupine's Model: the
// operations on its names, the checks run on each name, the model's
// initial state, the account of what the model refuses, and what the
// shrinker needs to cut a name's history into cycles. Check, the accounts
// and the shrinker go through the families; none of them branches on one.
type family struct {
	workload history.Workload
	// ops are the operations on the family's names and their history
	// functions (a short list: scanning it is faster than a map lookup).
	ops []opFunc
	// checks names the checks run on the family's names; run runs those
	// that apply to one name.
	checks []string
	run    func(c *checker, p *nameHistory) []models.CheckResult
	// initial is the model's state before any operation.
	initial func() state
	// account puts the model's refusal of f in words from what the trace
	// remembers, and lists the operations involved.
	account func(t *trace, f *mop, why refusal) (string, []int64)

	// For the shrinker's cycles (see shrinker.run): the operation that
	// begins a hold; those that end one (any lease death also does); those
	// that change no hold, so dropping one never makes the rest illegal;
	// and, of those, the reads, made outside any hold.
	grant       opKind
	releases    []opKind
	constraints []opKind
	reads       []opKind
}

var lockFamily = &family{
	workload: history.WorkloadLock,
	ops:      []opFunc{{history.FLock, opLock}, {history.FUnlock, opUnlock}, {history.FWrite, opWrite}},
	checks:   []string{models.CheckLock, models.CheckFenced, models.CheckUnfenced},
	initial:  func() state { return &lockState{} },
	account:  lockAccount,

	grant:       opLock,
	releases:    []opKind{opUnlock},
	constraints: []opKind{opWrite},
}

var electionFamily = &family{
	workload: history.WorkloadElection,
	ops: []opFunc{{history.FCampaign, opCampaign}, {history.FProclaim, opProclaim},
		{history.FResign, opResign}, {history.FLeader, opLeader}, {history.FObserve, opObserve}},
	checks:  []string{models.CheckElection, models.CheckObserve},
	initial: func() state { return &electionState{} },
	account: electionAccount,

	grant:       opCampaign,
	releases:    []opKind{opResign},
	constraints: []opKind{opLeader, opObserve},
	reads:       []opKind{opLeader, opObserve},
}

// releaseF is the history function of the family's release (unlock,
// resign).
func (fam *family) releaseF() string {
	for _, o := range fam.ops {
		if o.kind == fam.releases[0] {
			return o.f
		}
	}
	return ""
}

// families are all the families, in the order their names' results are
// listed.
var families = []*family{lockFamily, electionFamily}

// opFunc pairs a history function with the model operation it is.
type opFunc struct {
	f    string
	kind opKind
}

// familyOf returns the family whose names operations of function f act
// on, and the model operation they are; nil and 0 for lease deaths, which
// concern leases, not names.
func familyOf(f string) (*family, opKind) {
	for _, fam := range families {
		for _, o := range fam.ops {
			if o.f == f {
				return fam, o.kind
			}
		}
	}
	return nil, 0
}

// familyOfCheck returns the family whose names a check runs on; nil for no
// such check.
func familyOfCheck(check string) *family {
	for _, fam := range families {
		if slices.Contains(fam.checks, check) {
			return fam
		}
	}
	return nil
}

// kindOf is the model operation of history function f: its family's, or
// opDeath for a lease death; 0 for anything else.
func kindOf(f string) opKind {
	if leaseDeath(f) {
		return opDeath
	}
	_, kind := familyOf(f)
	return kind
}

// leaseDeath reports whether operations of function f end a lease: they
// concern every name that used it.
func leaseDeath(f string) bool {
	return f == history.FLeaseLost || f == history.FRevoke
}

// state is a model's state. States are immutable: step returns a new one
// and never modifies its receiver, so porcupine can keep any of them.
type state interface {
	// step applies m: the next state, or why the model refuses m (the
	// refusal is accepted when it does not). The refusal is the account's
	// only source, so a rule is written once, where it refuses.
	step(m *mop) (state, refusal)
	equal(o state) bool
	hash() uint64
	describe(p *nameHistory) string
	// heldBy is the holder that owns the lock or leads (0 for none);
	// highestRev is the highest create revision it was ever held at.
	heldBy() int32
	highestRev() int64
	// marks reports whether m, stepping prev to this state, set what the
	// family's account cites besides the holder: the last write, the
	// current value.
	marks(prev state, m *mop) bool
}

// refusal is why a model refuses an operation, a small value that the
// family's account puts in words.
type refusal uint8

// Refusals.
const (
	accepted         refusal = iota // the model does not refuse
	refuseGone                      // a grant or campaign with a lease that is already gone
	refuseHeld                      // a grant or campaign while another lease holds or leads
	refuseOwnRev                    // the holder's key granted again at another revision
	refuseRevOrder                  // a create revision not above an earlier grant's or leader's
	refuseNoOwner                   // a write while nobody held the lock
	refuseNotOwner                  // a write while another lease held the lock
	refuseGuard                     // a write guarded on a revision other than the owner key's
	refuseBelowKey                  // a write revision not above its lock key's
	refuseWriteOrder                // a write revision not above an earlier write's
	refuseFailedLead                // a proclaim that failed although its key led
	refuseNotLeader                 // a proclaim by a key that did not lead
	refuseStaleRead                 // a leader read that was not the current leader
)

// Refusal names, as findings (models.Finding.Refusal) and the registry of
// known issues see them.
const (
	RefusalLeaseGone  = "lease-gone"
	RefusalHeld       = "held"
	RefusalOwnRev     = "own-rev"
	RefusalRevOrder   = "rev-order"
	RefusalNoOwner    = "no-owner"
	RefusalNotOwner   = "not-owner"
	RefusalGuard      = "guard"
	RefusalBelowKey   = "below-key"
	RefusalWriteOrder = "write-order"
	RefusalFailedLead = "failed-lead"
	RefusalNotLeader  = "not-leader"
	RefusalStaleRead  = "stale-read"
	// RefusalObserve is an Observe stream's reversal or phantom delivery.
	RefusalObserve = "observe"
)

var refusalNames = [...]string{
	refuseGone: RefusalLeaseGone, refuseHeld: RefusalHeld, refuseOwnRev: RefusalOwnRev, refuseRevOrder: RefusalRevOrder,
	refuseNoOwner: RefusalNoOwner, refuseNotOwner: RefusalNotOwner, refuseGuard: RefusalGuard, refuseBelowKey: RefusalBelowKey,
	refuseWriteOrder: RefusalWriteOrder, refuseFailedLead: RefusalFailedLead, refuseNotLeader: RefusalNotLeader,
	refuseStaleRead: RefusalStaleRead,
}

// String is the refusal's name ("" for accepted).
func (r refusal) String() string {
	if int(r) < len(refusalNames) {
		return refusalNames[r]
	}
	return fmt.Sprintf("refusal(%d)", r)
}

// certainly refuses m for why only if m certainly took effect: an
// operation of unknown outcome may not have.
func certainly(m *mop, why refusal) refusal {
	if m.certain() {
		return why
	}
	return accepted
}
