package linear

import (
	"slices"

	"github.com/etcdchaos/etcdchaos/history"
)

// Role is what an operation does to its client's hold of a lock or of
// leadership, as the shrinker cuts a history into cycles (from one grant to
// the next) that it can drop whole.
type Role uint8

// Roles.
const (
	Outside Role = iota // no part of a cycle: a read, or not a family's operation
	Within              // done while holding: a write, a proclaim
	Begins              // may begin a hold: a grant
	Ends                // ends a hold: a release, a lease death
)

// RoleOf returns op's role, from its family's shrink hooks, and whether it
// changes a hold at all (a failed grant or release changes nothing).
func RoleOf(op *history.Operation) (role Role, changes bool) {
	fam, _ := familyOf(op.F)
	m := mop{kind: kindOf(op.F), out: op.Outcome}
	switch {
	case m.kind == opDeath:
		role = Ends
	case fam == nil || slices.Contains(fam.reads, m.kind):
		role = Outside
	case m.kind == fam.grant:
		role = Begins
	case slices.Contains(fam.releases, m.kind):
		role = Ends
	default:
		role = Within
	}
	return role, !trivial(&m)
}

// Constraint reports whether op changes no hold, so that dropping it alone
// never makes the rest illegal: one the models leave out (trivial), a
// failed one (a failed proclaim is not trivial, as the election model may
// refuse it, but changes nothing), or a family's constraint (writes, leader
// reads, observations).
func Constraint(op *history.Operation) bool {
	fam, _ := familyOf(op.F)
	m := mop{kind: kindOf(op.F), out: op.Outcome}
	return trivial(&m) || m.failed() || fam != nil && slices.Contains(fam.constraints, m.kind)
}

// Family is the workload of the names op acts on ("" for lease deaths and
// operations of no family).
func Family(op *history.Operation) history.Workload {
	if fam, _ := familyOf(op.F); fam != nil {
		return fam.workload
	}
	return ""
}

// LeaseDeath reports whether operations of function f end a lease: they
// concern every name that used it.
func LeaseDeath(f string) bool { return leaseDeath(f) }
