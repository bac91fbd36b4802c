package models

import (
	"fmt"
	"slices"
)

// lockTrace replays a linearization through the lock model and remembers
// which operation caused what, to explain the next operation's failure.
type lockTrace struct {
	p       *nameHistory
	check   string
	s       *lockState
	ownerOp *mop           // made the current owner the owner
	grantOp *mop           // granted the highest revision
	writeOp *mop           // the last write
	endedBy map[int32]*mop // last ended each holder's ownership
	deathOf map[int32]*mop
}

func newLockTrace(p *nameHistory, check string) *lockTrace {
	return &lockTrace{p: p, check: check, s: &lockState{}, endedBy: map[int32]*mop{}, deathOf: map[int32]*mop{}}
}

func (t *lockTrace) apply(m *mop) bool {
	ok, n := lockStep(t.s, m)
	if !ok {
		return false
	}
	if n.owner != t.s.owner {
		if t.s.owner != 0 {
			t.endedBy[t.s.owner] = m
		}
		if n.owner != 0 {
			t.ownerOp = m
		}
	}
	if n.lastRev != t.s.lastRev {
		t.grantOp = m
	}
	if n.lastWrite != t.s.lastWrite {
		t.writeOp = m
	}
	if m.kind == opDeath && t.deathOf[m.holder] == nil {
		t.deathOf[m.holder] = m
	}
	t.s = n
	return true
}

func (t *lockTrace) explain(f *mop) (string, []int64) {
	switch f.kind {
	case opLock:
		return t.explainGrant(f)
	case opWrite:
		return t.explainWrite(f, t.check)
	}
	return cannotFollow(t.p, f, t.p.describeLockState(t.s))
}

func (t *lockTrace) explainGrant(f *mop) (string, []int64) {
	s, p := t.s, t.p
	head := fmt.Sprintf("client %d was granted %s at %s (op %d)", f.op.Client, p.name, secs(at(f)), f.op.ID)
	switch {
	case s.dead.has(f.holder):
		d := t.deathOf[f.holder]
		return fmt.Sprintf("%s with %s, which was already gone: %s", head, p.holderName(f.holder), deathDesc(d)), ids(f, d)
	case s.owner != 0 && s.owner != f.holder:
		return head + " while " + heldSince(t.ownerOp, "held") + p.aliveClause(t.ownerOp, at(f)), ids(f, t.ownerOp)
	case s.owner == f.holder:
		return fmt.Sprintf("%s with revision %d, but its lease's key already held it at revision %d%s",
			head, f.rev, s.ownerRev, by(t.ownerOp)), ids(f, t.ownerOp)
	}
	return fmt.Sprintf("%s with revision %d, not above revision %d granted earlier%s",
		head, f.rev, s.lastRev, to(t.grantOp)), ids(f, t.grantOp)
}

func (t *lockTrace) explainWrite(f *mop, check string) (string, []int64) {
	s, p := t.s, t.p
	kind := "unfenced"
	if f.fenced {
		kind = "fenced"
	}
	head := fmt.Sprintf("client %d's %s write to %s at %s (op %d)", f.op.Client, kind, p.name, secs(at(f)), f.op.ID)
	switch {
	case s.owner == 0:
		e := t.endedBy[f.holder]
		why := "; its lease never held the lock"
		switch {
		case e != nil && e.kind == opDeath:
			why = "; its lease was gone: " + deathDesc(e)
		case e != nil:
			why = fmt.Sprintf("; client %d had released it at %s (op %d)", e.op.Client, secs(at(e)), e.op.ID)
		}
		return head + " took effect while nobody held the lock" + why, ids(f, e)
	case s.owner != f.holder:
		return head + " took effect while " + heldSince(t.ownerOp, "held") + p.aliveClause(t.ownerOp, at(f)), ids(f, t.ownerOp)
	case f.rev != 0 && s.ownerRev != 0 && f.rev != s.ownerRev:
		return fmt.Sprintf("%s was guarded on lock revision %d, but the lock was held at revision %d%s",
			head, f.rev, s.ownerRev, by(t.ownerOp)), ids(f, t.ownerOp)
	case f.wrev <= f.rev:
		return fmt.Sprintf("%s has revision %d, not above its lock key's revision %d", head, f.wrev, f.rev), ids(f)
	case f.wrev <= s.lastWrite:
		return fmt.Sprintf("%s has revision %d, not above revision %d of an earlier write%s",
			head, f.wrev, s.lastWrite, by(t.writeOp)), ids(f, t.writeOp)
	}
	return fmt.Sprintf("%s cannot follow the operations before it in the %s check (state: %s)",
		head, check, p.describeLockState(s)), ids(f)
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

// electionTrace is lockTrace for the election model.
type electionTrace struct {
	p        *nameHistory
	s        *electionState
	leaderOp *mop // made the current leader the leader
	valueOp  *mop // set the current value
	revOp    *mop // set the highest leader revision
	endedBy  map[int32]*mop
	deathOf  map[int32]*mop
}

func newElectionTrace(p *nameHistory) *electionTrace {
	return &electionTrace{p: p, s: &electionState{}, endedBy: map[int32]*mop{}, deathOf: map[int32]*mop{}}
}

func (t *electionTrace) apply(m *mop) bool {
	ok, n := electionStep(t.s, m)
	if !ok {
		return false
	}
	if n.leader != t.s.leader {
		if t.s.leader != 0 {
			t.endedBy[t.s.leader] = m
		}
		if n.leader != 0 {
			t.leaderOp = m
		}
	}
	if n.value != t.s.value || n.leader != t.s.leader || m.kind == opProclaim && n != t.s {
		t.valueOp = m
	}
	if n.lastRev != t.s.lastRev {
		t.revOp = m
	}
	if m.kind == opDeath && t.deathOf[m.holder] == nil {
		t.deathOf[m.holder] = m
	}
	t.s = n
	return true
}

func (t *electionTrace) explain(f *mop) (string, []int64) {
	switch f.kind {
	case opCampaign:
		return t.explainCampaign(f)
	case opProclaim:
		return t.explainProclaim(f)
	case opLeader:
		return t.explainRead(f)
	}
	return cannotFollow(t.p, f, t.p.describeElectionState(t.s))
}

// cannotFollow is the account of an operation refused in a state that no
// more specific account covers.
func cannotFollow(p *nameHistory, f *mop, state string) (string, []int64) {
	return fmt.Sprintf("client %d's %s on %s at %s (op %d) cannot follow the operations before it (state: %s)",
		f.op.Client, f.op.F, p.name, secs(at(f)), f.op.ID, state), ids(f)
}

func (t *electionTrace) explainCampaign(f *mop) (string, []int64) {
	s, p := t.s, t.p
	head := fmt.Sprintf("client %d became leader of %s at %s (op %d)", f.op.Client, p.name, secs(at(f)), f.op.ID)
	switch {
	case s.dead.has(f.holder):
		d := t.deathOf[f.holder]
		return fmt.Sprintf("%s with %s, which was already gone: %s", head, p.holderName(f.holder), deathDesc(d)), ids(f, d)
	case s.leader != 0 && s.leader != f.holder:
		return "two leaders: " + head + " while " + heldSince(t.leaderOp, "led") + p.aliveClause(t.leaderOp, at(f)), ids(f, t.leaderOp)
	case s.leader == f.holder:
		return fmt.Sprintf("%s with revision %d, but its lease's key already led at revision %d%s",
			head, f.rev, s.leaderRev, by(t.leaderOp)), ids(f, t.leaderOp)
	}
	return fmt.Sprintf("%s with revision %d, not above revision %d of an earlier leader%s",
		head, f.rev, s.lastRev, to(t.revOp)), ids(f, t.revOp)
}

func (t *electionTrace) explainProclaim(f *mop) (string, []int64) {
	p := t.p
	if f.failed() {
		return fmt.Sprintf("client %d's proclaim of %q on %s failed at %s (op %d) although its key was the leader: %s",
			f.op.Client, p.valueOf[f.value], p.name, secs(at(f)), f.op.ID, heldSince(t.leaderOp, "led")), ids(f, t.leaderOp)
	}
	return fmt.Sprintf("client %d proclaimed %q on %s at %s (op %d) but its key was not the leader: %s",
		f.op.Client, p.valueOf[f.value], p.name, secs(at(f)), f.op.ID, t.leaderDesc(f.holder)), ids(f, t.leaderOp, t.endedBy[f.holder])
}

func (t *electionTrace) explainRead(f *mop) (string, []int64) {
	p := t.p
	read := "no leader"
	if !f.none {
		read = fmt.Sprintf("%s with value %q (create rev %d)", p.keyDesc(f), p.valueOf[f.value], f.rev)
	}
	return fmt.Sprintf("client %d read the leader of %s at %s (op %d) as %s, but %s",
		f.op.Client, p.name, secs(at(f)), f.op.ID, read, t.leaderDesc(f.holder)), ids(f, t.leaderOp, t.valueOp)
}

// leaderDesc describes the current leader; about is the holder the reader
// expected, to say how its leadership ended.
func (t *electionTrace) leaderDesc(about int32) string {
	s, p := t.s, t.p
	if s.leader == 0 {
		if e := t.endedBy[about]; e != nil {
			if e.kind == opDeath {
				return "there was no leader since its lease was gone: " + deathDesc(e)
			}
			return fmt.Sprintf("there was no leader since client %d resigned at %s (op %d)", e.op.Client, secs(at(e)), e.op.ID)
		}
		return "there was no leader"
	}
	desc := heldSince(t.leaderOp, "led") + fmt.Sprintf(" with value %q", p.valueOf[s.value])
	if v := t.valueOp; v != nil && v != t.leaderOp {
		desc += fmt.Sprintf(" (set by client %d at %s, op %d)", v.op.Client, secs(at(v)), v.op.ID)
	}
	return desc
}
