package linear

import (
	"fmt"
	"slices"
)

// trace replays a linearization through a name's model and remembers which
// operation caused what, so that the family's account can say why the model
// refused the next operation. The rules are the model's own: the trace
// learns why from the step function that refused.
type trace struct {
	p        *nameHistory
	s        state
	holderOp *mop           // made the current holder (owner or leader) hold
	revOp    *mop           // set the highest create revision
	markOp   *mop           // set what the family's account cites besides the holder (see state.marks)
	endedBy  map[int32]*mop // last ended each holder's hold
	deathOf  map[int32]*mop // first ended each holder's lease
}

func newTrace(p *nameHistory) *trace {
	return &trace{p: p, s: p.family.initial(), endedBy: map[int32]*mop{}, deathOf: map[int32]*mop{}}
}

// apply steps the model with m, remembering what m did; on a refusal it
// leaves the state as it was and returns why.
func (t *trace) apply(m *mop) refusal {
	n, why := t.s.step(m)
	if why != accepted {
		return why
	}
	if was, now := t.s.heldBy(), n.heldBy(); now != was {
		if was != 0 {
			t.endedBy[was] = m
		}
		if now != 0 {
			t.holderOp = m
		}
	}
	if n.highestRev() != t.s.highestRev() {
		t.revOp = m
	}
	if n.marks(t.s, m) {
		t.markOp = m
	}
	if m.kind == opDeath && t.deathOf[m.holder] == nil {
		t.deathOf[m.holder] = m
	}
	t.s = n
	return accepted
}

// lockAccount is the lock family's account of a refusal.
func lockAccount(t *trace, f *mop, why refusal) (string, []int64) {
	s, p := t.s.(*lockState), t.p
	if f.kind == opWrite {
		return lockWriteAccount(t, f, why)
	}
	head := fmt.Sprintf("client %d was granted %s at %s (op %d)", f.op.Client, p.name, secs(at(f)), f.op.ID)
	switch why {
	case refuseGone:
		d := t.deathOf[f.holder]
		return fmt.Sprintf("%s with %s, which was already gone: %s", head, p.holderName(f.holder), deathDesc(d)), ids(f, d)
	case refuseHeld:
		return head + " while " + heldSince(t.holderOp, "held") + p.aliveClause(t.holderOp, at(f)), ids(f, t.holderOp)
	case refuseOwnRev:
		return fmt.Sprintf("%s with revision %d, but its lease's key already held it at revision %d%s",
			head, f.rev, s.ownerRev, by(t.holderOp)), ids(f, t.holderOp)
	case refuseRevOrder:
		return fmt.Sprintf("%s with revision %d, not above revision %d granted earlier%s",
			head, f.rev, s.lastRev, to(t.revOp)), ids(f, t.revOp)
	}
	return cannotFollow(t, f)
}

func lockWriteAccount(t *trace, f *mop, why refusal) (string, []int64) {
	s, p := t.s.(*lockState), t.p
	kind := "unfenced"
	if f.fenced {
		kind = "fenced"
	}
	head := fmt.Sprintf("client %d's %s write to %s at %s (op %d)", f.op.Client, kind, p.name, secs(at(f)), f.op.ID)
	switch why {
	case refuseNoOwner:
		e := t.endedBy[f.holder]
		ended := "; its lease never held the lock"
		switch {
		case e != nil && e.kind == opDeath:
			ended = "; its lease was gone: " + deathDesc(e)
		case e != nil:
			ended = fmt.Sprintf("; client %d had released it at %s (op %d)", e.op.Client, secs(at(e)), e.op.ID)
		}
		return head + " took effect while nobody held the lock" + ended, ids(f, e)
	case refuseNotOwner:
		return head + " took effect while " + heldSince(t.holderOp, "held") + p.aliveClause(t.holderOp, at(f)), ids(f, t.holderOp)
	case refuseGuard:
		return fmt.Sprintf("%s was guarded on lock revision %d, but the lock was held at revision %d%s",
			head, f.rev, s.ownerRev, by(t.holderOp)), ids(f, t.holderOp)
	case refuseBelowKey:
		return fmt.Sprintf("%s has revision %d, not above its lock key's revision %d", head, f.wrev, f.rev), ids(f)
	case refuseWriteOrder:
		return fmt.Sprintf("%s has revision %d, not above revision %d of an earlier write%s",
			head, f.wrev, s.lastWrite, by(t.markOp)), ids(f, t.markOp)
	case refuseRevOrder:
		return fmt.Sprintf("%s was guarded on lock revision %d, not above revision %d granted earlier%s",
			head, f.rev, s.lastRev, to(t.revOp)), ids(f, t.revOp)
	}
	return cannotFollow(t, f)
}

// electionAccount is the election family's account of a refusal.
func electionAccount(t *trace, f *mop, why refusal) (string, []int64) {
	s, p := t.s.(*electionState), t.p
	switch f.kind {
	case opCampaign:
		head := fmt.Sprintf("client %d became leader of %s at %s (op %d)", f.op.Client, p.name, secs(at(f)), f.op.ID)
		switch why {
		case refuseGone:
			d := t.deathOf[f.holder]
			return fmt.Sprintf("%s with %s, which was already gone: %s", head, p.holderName(f.holder), deathDesc(d)), ids(f, d)
		case refuseHeld:
			return "two leaders: " + head + " while " + heldSince(t.holderOp, "led") + p.aliveClause(t.holderOp, at(f)), ids(f, t.holderOp)
		case refuseOwnRev:
			return fmt.Sprintf("%s with revision %d, but its lease's key already led at revision %d%s",
				head, f.rev, s.leaderRev, by(t.holderOp)), ids(f, t.holderOp)
		case refuseRevOrder:
			return fmt.Sprintf("%s with revision %d, not above revision %d of an earlier leader%s",
				head, f.rev, s.lastRev, to(t.revOp)), ids(f, t.revOp)
		}
	case opProclaim:
		head := fmt.Sprintf("client %d proclaimed %q on %s at %s (op %d)", f.op.Client, p.valueOf[f.value], p.name, secs(at(f)), f.op.ID)
		switch why {
		case refuseFailedLead:
			return fmt.Sprintf("client %d's proclaim of %q on %s failed at %s (op %d) although its key was the leader: %s",
				f.op.Client, p.valueOf[f.value], p.name, secs(at(f)), f.op.ID, heldSince(t.holderOp, "led")), ids(f, t.holderOp)
		case refuseNotLeader:
			return head + " but its key was not the leader: " + leaderDesc(t, f.holder), ids(f, t.holderOp, t.endedBy[f.holder])
		case refuseRevOrder:
			return fmt.Sprintf("%s with revision %d, not above revision %d of an earlier leader%s",
				head, f.rev, s.lastRev, to(t.revOp)), ids(f, t.revOp)
		}
	case opLeader:
		if why == refuseStaleRead {
			read := "no leader"
			if !f.none {
				read = fmt.Sprintf("%s with value %q (create rev %d)", p.keyDesc(f), p.valueOf[f.value], f.rev)
			}
			return fmt.Sprintf("client %d read the leader of %s at %s (op %d) as %s, but %s",
				f.op.Client, p.name, secs(at(f)), f.op.ID, read, leaderDesc(t, f.holder)), ids(f, t.holderOp, t.markOp)
		}
	}
	return cannotFollow(t, f)
}

// leaderDesc describes the current leader; about is the holder the
// operation expected to lead, to say how its leadership ended.
func leaderDesc(t *trace, about int32) string {
	s, p := t.s.(*electionState), t.p
	if s.leader == 0 {
		if e := t.endedBy[about]; e != nil {
			if e.kind == opDeath {
				return "there was no leader since its lease was gone: " + deathDesc(e)
			}
			return fmt.Sprintf("there was no leader since client %d resigned at %s (op %d)", e.op.Client, secs(at(e)), e.op.ID)
		}
		return "there was no leader"
	}
	desc := heldSince(t.holderOp, "led") + fmt.Sprintf(" with value %q", p.valueOf[s.value])
	if v := t.markOp; v != nil && v != t.holderOp {
		desc += fmt.Sprintf(" (set by client %d at %s, op %d)", v.op.Client, secs(at(v)), v.op.ID)
	}
	return desc
}

// cannotFollow is the account of an operation refused for a reason no more
// specific account covers.
func cannotFollow(t *trace, f *mop) (string, []int64) {
	return fmt.Sprintf("client %d's %s on %s at %s (op %d) cannot follow the operations before it (state: %s)",
		f.op.Client, f.op.F, t.p.name, secs(at(f)), f.op.ID, t.s.describe(t.p)), ids(f)
}

// by names the operation that did something: " (op 7, client 3)".
func by(m *mop) string {
	if m == nil || m.op.ID == 0 {
		return ""
	}
	return fmt.Sprintf(" (op %d, client %d)", m.op.ID, m.op.Client)
}

// to names the client an operation concerned: " to client 3 (op 7)".
func to(m *mop) string {
	if m == nil || m.op.ID == 0 {
		return ""
	}
	return fmt.Sprintf(" to client %d (op %d)", m.op.Client, m.op.ID)
}

// ids lists the ids of the distinct non-nil operations.
func ids(ms ...*mop) []int64 {
	var out []int64
	for i, m := range ms {
		if m != nil && m.op.ID != 0 && !slices.Contains(ms[:i], m) {
			out = append(out, m.op.ID)
		}
	}
	return out
}
