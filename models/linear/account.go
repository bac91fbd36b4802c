package linear

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/etcdchaos/etcdchaos/history"
)

// explanation is the account of a violation: in words, the operations
// involved, the offending moment, and the operation the model refused and
// why (refused is 0 when none could be singled out).
type explanation struct {
	account  string
	evidence []int64
	at       int64
	refused  int64
	refusal  string
}

// explain writes the plain-language account of a violation. It replays
// porcupine's longest partial linearization, then keeps going in return
// order (a real-time respecting order) until the model refuses an
// operation, and has the family say why, given who held what since when.
func (p *nameHistory) explain(ops []porcupine.Operation, info *porcupine.LinearizationInfo) explanation {
	t := newTrace(p)
	lin, rest := longestAndRest(ops, info)
	for _, m := range lin {
		t.apply(m)
	}
	for _, f := range rest {
		if why := t.apply(f); why != accepted {
			account, evidence := p.family.account(t, f, why)
			return explanation{account: account, evidence: evidence, at: at(f), refused: f.op.ID, refusal: why.String()}
		}
	}
	return explanation{account: fmt.Sprintf("no linearization of %s exists (the conflicting operations could not be singled out in time)", p.name)}
}

// longestAndRest returns porcupine's longest partial linearization and the
// other operations in return order. Without info, the linearization is
// empty.
func longestAndRest(ops []porcupine.Operation, info *porcupine.LinearizationInfo) ([]*mop, []*mop) {
	var longest []porcupine.Operation
	if info != nil {
		if parts := info.PartialLinearizationsOperations(); len(parts) > 0 {
			for _, l := range parts[0] {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
	}
	lin := make([]*mop, len(longest))
	done := make(map[*mop]bool, len(longest))
	for i, o := range longest {
		lin[i] = o.Input.(*mop)
		done[lin[i]] = true
	}
	rest := make([]*mop, 0, len(ops)-len(lin))
	for _, o := range ops {
		if m := o.Input.(*mop); !done[m] {
			rest = append(rest, m)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		return rest[i].ret < rest[j].ret || (rest[i].ret == rest[j].ret && rest[i].call < rest[j].call)
	})
	return lin, rest
}

// at is when an operation is known to have taken effect: its return, or its
// invoke when it never returned.
func at(m *mop) int64 {
	if m.op.Return == history.Never || m.kind == opDeath {
		return m.ret
	}
	return m.op.Return
}

// since is when an operation's effect began at the latest: the return of
// an operation that completed, else its invoke.
func since(m *mop) int64 {
	if m.certain() {
		return m.op.Return
	}
	return m.op.Call
}

// heldSince describes who held (or led) since when, from the op that made
// them holder.
func heldSince(m *mop, verb string) string {
	if m == nil {
		return "someone " + verb + " it"
	}
	if m.certain() {
		return fmt.Sprintf("client %d %s it since %s (op %d)", m.op.Client, verb, secs(since(m)), m.op.ID)
	}
	return fmt.Sprintf("client %d may have %s it since %s (op %d, outcome %s)", m.op.Client, pastParticiple(verb), secs(since(m)), m.op.ID, m.out)
}

func pastParticiple(verb string) string {
	if verb == "led" {
		return "led"
	}
	return "held"
}

// deathDesc describes how a lease ended.
func deathDesc(m *mop) string {
	if m == nil {
		return "it was gone"
	}
	switch m.op.F {
	case history.FLeaseLost:
		return fmt.Sprintf("client %d saw it lost at %s, last alive at %s (op %d)", m.op.Client, secs(m.op.Completed), secs(m.call), m.op.ID)
	case history.FRevoke:
		return fmt.Sprintf("client %d revoked it at %s (op %d)", m.op.Client, secs(m.op.Call), m.op.ID)
	}
	if m.certain() {
		return fmt.Sprintf("a %s fault on client %d at %s ended it by %s", m.op.F, m.op.Client, secs(m.op.Call), secs(m.op.Return))
	}
	return fmt.Sprintf("a %s fault on client %d at %s may have ended it", m.op.F, m.op.Client, secs(m.op.Call))
}

// aliveUntil is the latest time the lease of holder h certainly existed,
// from the operations that prove it: the invoke of a successful grant,
// guarded write, campaign, proclaim or leader read naming its key, and
// last_alive of a lease-lost.
func (p *nameHistory) aliveUntil(h int32) int64 {
	var t int64 = -1
	for _, m := range p.mops {
		if m.holder != h || !m.certain() {
			continue
		}
		switch {
		case m.kind == opDeath && m.op.F == history.FLeaseLost:
			t = max(t, m.call)
		case m.kind == opWrite && m.fenced, m.kind == opLock, m.kind == opCampaign, m.kind == opProclaim, m.kind == opLeader:
			t = max(t, m.op.Call)
		}
	}
	return t
}

// aliveClause says until when the holder that made op m its own was alive,
// when that is after from.
func (p *nameHistory) aliveClause(m *mop, from int64) string {
	if m == nil {
		return ""
	}
	if t := p.aliveUntil(m.holder); t >= from && t > since(m) {
		return fmt.Sprintf("; client %d's lease was alive until %s", m.op.Client, secs(t))
	}
	return ""
}

// describeOp describes an operation for visualizations.
func (p *nameHistory) describeOp(m *mop) string {
	op := m.op
	s := fmt.Sprintf("%s(", op.F)
	switch m.kind {
	case opLock, opDeath:
		s += p.holderName(m.holder)
	case opCampaign:
		s += fmt.Sprintf("%q, %s", p.valueOf[m.value], p.holderName(m.holder))
	case opUnlock, opWrite, opProclaim, opResign:
		s += op.Input.Key
		if m.rev != 0 {
			s += fmt.Sprintf("@%d", m.rev)
		}
		if m.kind == opProclaim {
			s += fmt.Sprintf(", %q", p.valueOf[m.value])
		}
	}
	s += ") -> " + string(m.out)
	if !m.certain() {
		return s
	}
	switch m.kind {
	case opLock, opCampaign:
		s += fmt.Sprintf(" %s rev %d", op.Output.Key, m.rev)
	case opWrite:
		s += fmt.Sprintf(" rev %d", m.wrev)
	case opLeader:
		if m.none {
			return s + " none"
		}
		s += fmt.Sprintf(" %s rev %d %q", op.Output.Key, m.rev, p.valueOf[m.value])
	}
	return s
}
