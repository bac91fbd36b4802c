package truth

import (
	"fmt"
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// A linearizable answer cannot be older than what was committed before its
// request was sent: etcd serves a read at or after the commit index it
// learns once the request arrived, and a write gets a revision above every
// committed one. A stale read is an answer that is: a leader read, or the
// grant of a lock or campaign (each records the header revision of a
// linearizable response it got after its invoke), below a revision that was
// provably committed before the invoke; or a write at or below one. etcd
// issue 20418 (a ReadIndex retry after a pause answered with an old read
// index) is such a bug.
//
// A revision is proven committed at a time by the observer, which received
// its event then, or by any answer that had seen it (a response header,
// a write's own revision, a lease answer's applied revision: each was
// committed by the time the answer returned). Nothing else is assumed.

// commitProof: revision rev was committed by time at, as proof shows.
type commitProof struct {
	at, rev int64
	op      int64 // the answer that showed it; 0: the observer
}

// commits are the proofs of a history, by time, each holding the highest
// revision proven by then.
type commits []commitProof

// newCommits gathers the commit proofs of the observer (observed) and of
// the operations' answers.
func newCommits(observed []commitProof, ops []history.Operation) commits {
	out := append(commits(nil), observed...)
	for i := range ops {
		op := &ops[i]
		if rev := answerRevision(op); rev > 0 {
			out = append(out, commitProof{at: op.Return, rev: rev, op: op.ID})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	for i := 1; i < len(out); i++ {
		if out[i].rev <= out[i-1].rev { // the earliest proof of the highest revision holds
			out[i] = out[i-1]
		}
	}
	return out
}

// observedCommits are the commit proofs of the observer's events.
func observedCommits(h *history.History) []commitProof {
	var out []commitProof
	for _, s := range h.ServerEvents() {
		if (s.Event == history.ServerPut || s.Event == history.ServerDelete) && s.Rev > 0 {
			out = append(out, commitProof{at: s.Time, rev: s.Rev})
		}
	}
	return out
}

// answerRevision is the revision an answer showed committed (0: none).
func answerRevision(op *history.Operation) int64 {
	if op.Outcome != history.Ok {
		return 0
	}
	if op.F == history.FWrite && op.Output.Rev > 0 {
		return op.Output.Rev
	}
	return op.Output.HeaderRev
}

// before is the highest revision proven committed strictly before t.
func (c commits) before(t int64) (commitProof, bool) {
	i := sort.Search(len(c), func(i int) bool { return c[i].at >= t })
	if i == 0 {
		return commitProof{}, false
	}
	return c[i-1], true
}

// staleRead checks one answer of op against what was committed before its
// invoke.
func (t *truthChecker) staleRead(op *history.Operation) {
	if op.Outcome != history.Ok || t.commits == nil {
		return
	}
	var rev int64
	what, verb := op.F, "answered at revision"
	switch op.F {
	case history.FLeader:
		rev, what = op.Output.HeaderRev, "leader read"
	case history.FLock, history.FCampaign:
		rev = op.Output.HeaderRev
	case history.FWrite:
		rev, verb = op.Output.Rev, "was written at revision"
	}
	if rev == 0 {
		return
	}
	p, ok := t.commits.before(op.Call)
	if !ok || rev > p.rev || rev == p.rev && op.F != history.FWrite {
		return
	}
	proof := fmt.Sprintf("the observer had seen it at %s", models.Secs(p.at))
	ev := []int64{op.ID}
	if p.op != 0 {
		proof = fmt.Sprintf("op %d had returned it at %s", p.op, models.Secs(p.at))
		ev = append(ev, p.op)
	}
	t.find(models.Finding{Kind: models.FindingStaleRead, F: op.F, Op: op.ID, At: op.Return, Evidence: ev,
		Revisions: []int64{rev, p.rev},
		Account: fmt.Sprintf("client %d's %s of %s, invoked at %s, %s %d, but revision %d was committed before it was invoked (%s): a linearizable answer older than a committed revision",
			op.Client, what, t.name, models.Secs(op.Call), verb, rev, p.rev, proof)})
}
