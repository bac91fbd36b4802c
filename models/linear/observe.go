package linear

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/models"
)

// Observe check: the order and provenance of what Observe streams deliver.
//
// One client's observe operations are one long-lived stream: each ok is one
// delivered value (leader key, its create revision, mod_rev, value). What
// concurrency.Election.observe (which the gRPC v3election Observe relays)
// does, and hence what it may deliver:
//
//  1. Get the lowest-create-revision key under the prefix (the leader) and
//     deliver it with its current value; with no key, watch for the first
//     put and deliver that.
//  2. Watch that one key from the next revision and deliver every put of it,
//     in revision order, until it is deleted.
//  3. Go to 1.
//
// So a stream may skip: leaders that came and went between a delete and
// the next Get, and the proclamations a new leader made before that Get (it
// delivers the leader's value at the time of the Get, not its campaign
// value). It may not go back: the leader's create revision never decreases
// (the leader is the oldest key; keys made later are newer), and within one
// leader key the mod_rev strictly increases (every put of the watched key is
// delivered once, in order). The order is therefore (create revision,
// mod_rev), not mod_rev alone: a new leader's key was often created while it
// waited, so its mod_rev can be below the old leader's last proclamation.
//
// Rules checked, per stream:
//   - each delivery is strictly greater than the previous in (create
//     revision, mod_rev); a stream that broke (an observe op that failed or
//     is indeterminate) and was reopened restarts at step 1 and may repeat
//     the current value, so across such a break the order must only not
//     decrease;
//   - each delivered value was produced by a campaign or proclaim (of any
//     outcome but fail) of the same lease (and create revision, when both are
//     known) invoked before the delivery returned; anything else is a
//     phantom.
type observeCheck struct {
	p         *nameHistory
	producers map[producerKey][]*mop
}

type producerKey struct {
	holder int32
	value  int32
}

func checkObserve(p *nameHistory) models.CheckResult {
	res := models.CheckResult{Check: models.CheckObserve, Name: p.name, Verdict: models.Empty}
	oc := observeCheck{p: p, producers: map[producerKey][]*mop{}}
	streams := map[int][]*mop{}
	var clients []int
	for _, m := range p.mops {
		switch {
		case m.kind == opObserve:
			res.Ops++
			if _, ok := streams[m.op.Client]; !ok {
				clients = append(clients, m.op.Client)
			}
			streams[m.op.Client] = append(streams[m.op.Client], m)
			if m.certain() && res.Verdict == models.Empty {
				res.Verdict = models.Ok
			}
		case (m.kind == opCampaign || m.kind == opProclaim) && !m.failed():
			k := producerKey{m.holder, m.value}
			oc.producers[k] = append(oc.producers[k], m)
		}
	}
	var worst *observeFinding
	for _, c := range clients {
		if f := oc.stream(streams[c]); f != nil && (worst == nil || f.at < worst.at) {
			worst = f
		}
	}
	if worst != nil {
		res.Verdict, res.Fails = models.Violation, true
		res.Account, res.Evidence, res.At = worst.account, worst.evidence, worst.at
		res.Porcupine = &models.PorcupineRun{Refused: worst.evidence[len(worst.evidence)-1], Refusal: RefusalObserve}
	}
	res.Recorded = res.Verdict
	return res
}

type observeFinding struct {
	account  string
	evidence []int64
	at       int64
}

// stream checks one client's deliveries and returns its first violation.
func (oc *observeCheck) stream(ms []*mop) *observeFinding {
	var prev *mop
	broke := false
	for _, m := range ms {
		if !m.certain() {
			broke = true
			continue
		}
		if f := oc.phantom(m); f != nil {
			return f
		}
		if prev != nil && m.rev != 0 && prev.rev != 0 && !observeAfter(prev, m, broke) {
			return oc.reversal(prev, m)
		}
		prev, broke = m, false
	}
	return nil
}

// observeAfter reports whether delivering b after a is in order.
func observeAfter(a, b *mop, broke bool) bool {
	if b.rev != a.rev {
		return b.rev > a.rev
	}
	if a.wrev == 0 || b.wrev == 0 {
		return true
	}
	if broke {
		return b.wrev >= a.wrev
	}
	return b.wrev > a.wrev
}

func (oc *observeCheck) phantom(m *mop) *observeFinding {
	for _, src := range oc.producers[producerKey{m.holder, m.value}] {
		if src.call <= m.op.Return && revMatch(src.rev, m.rev) {
			return nil
		}
	}
	return &observeFinding{
		account: fmt.Sprintf("client %d's observe stream on %s delivered value %q of %s at %s (op %d), "+
			"which no campaign or proclaim of that key produced",
			m.op.Client, oc.p.name, oc.p.valueOf[m.value], oc.p.keyDesc(m), secs(m.op.Return), m.op.ID),
		evidence: []int64{m.op.ID},
		at:       m.op.Return,
	}
}

func (oc *observeCheck) reversal(prev, m *mop) *observeFinding {
	what := "an older proclamation of the same leader"
	if m.rev < prev.rev {
		what = "an older leader"
	}
	return &observeFinding{
		account: fmt.Sprintf("client %d's observe stream on %s delivered %q of %s (create rev %d, mod rev %d) at %s (op %d) "+
			"after %q of %s (create rev %d, mod rev %d) at %s (op %d): it went back to %s",
			m.op.Client, oc.p.name, oc.p.valueOf[m.value], oc.p.keyDesc(m), m.rev, m.wrev, secs(m.op.Return), m.op.ID,
			oc.p.valueOf[prev.value], oc.p.keyDesc(prev), prev.rev, prev.wrev, secs(prev.op.Return), prev.op.ID, what),
		evidence: []int64{prev.op.ID, m.op.ID},
		at:       m.op.Return,
	}
}

// keyDesc names the key an operation concerns.
func (p *nameHistory) keyDesc(m *mop) string {
	for _, k := range []string{m.op.Output.Key, m.op.Input.Key} {
		if k != "" {
			return "key " + k
		}
	}
	return p.holderName(m.holder)
}

// secs formats a history time as accounts write it.
func secs(t int64) string { return models.Secs(t) }
