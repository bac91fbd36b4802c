// Package hazard decides, write by write, whether an unfenced write is
// etcd's documented lock hazard: a write made after the writer's lease was
// lost while its client still believed it held the lock. Only a write this
// package explains may be classified as the hazard (unsafe without
// fencing); any other unfenced write a check refuses stays a violation.
//
// With server truth the hazard is known exactly: the write is stale when
// the writer's own key had owned the lock and was deleted, not by the
// writer's own unlock, before the write's revision. Without it (or where a
// gap hides the key), only what could have ended the writer's lease
// explains a write: a loss of that lease the client recorded, or a fault
// aimed at the writer, its lease or its member, or a partition, whose
// effect can reach the write (see Explainer.reach).
package hazard

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Explanation is why an unfenced write may be stale.
type Explanation struct {
	// Account says so in words, citing the truth or the record.
	Account string
	// Loss measures the write after its key's loss (server truth only).
	Loss *models.UnfencedLoss
}

// Explainer explains the unfenced writes of one history.
type Explainer struct {
	rec     *truth.Record
	ops     []history.Operation
	faults  []history.Fault
	timing  models.Timing
	leaseOf map[string]int64                // lock key -> its lease, from the grants
	holders map[keyLife]int                 // the client granted each key
	granted map[keyLife]int64               // when the grant of each key was invoked
	unlocks map[string][]*history.Operation // key -> its unlocks
	lostOps map[int64][]*history.Operation  // lease -> its lease-lost operations
}

// keyLife names one life of a key: the key and its create revision.
type keyLife struct {
	key    string
	create int64
}

// New prepares the explanations of h's unfenced writes; rec is its server
// truth (nil without).
func New(h *history.History, ops []history.Operation, rec *truth.Record) *Explainer {
	e := &Explainer{rec: rec, ops: ops, faults: h.Faults(), timing: models.TimingOf(h.Header),
		leaseOf: truth.Leases(h), holders: map[keyLife]int{}, granted: map[keyLife]int64{}, unlocks: map[string][]*history.Operation{},
		lostOps: map[int64][]*history.Operation{}}
	if e.leaseOf == nil {
		e.leaseOf = map[string]int64{}
	}
	for i := range ops {
		op := &ops[i]
		switch {
		case op.F == history.FLock && op.Outcome == history.Ok:
			if op.Output.Lease != 0 {
				e.leaseOf[op.Output.Key] = op.Output.Lease
			}
			id := keyLife{op.Output.Key, op.Output.Rev}
			e.holders[id] = op.Client
			if t, ok := e.granted[id]; !ok || op.Call < t {
				e.granted[id] = op.Call
			}
		case op.F == history.FUnlock:
			e.unlocks[op.Input.Key] = append(e.unlocks[op.Input.Key], op)
		case op.F == history.FLeaseLost && op.Input.Lease != 0:
			e.lostOps[op.Input.Lease] = append(e.lostOps[op.Input.Lease], op)
		}
	}
	return e
}

// Explain says why w, an unfenced write that succeeded, may have been
// stale; ok is false when nothing does.
func (e *Explainer) Explain(w *history.Operation) (Explanation, bool) {
	if x, decided := e.byTruth(w); decided {
		return x, x.Account != ""
	}
	return e.byRecord(w)
}

// Stale are the losses server truth measures exactly: every unfenced write
// that succeeded after its key had owned the lock and was lost.
func (e *Explainer) Stale() []models.UnfencedLoss {
	var out []models.UnfencedLoss
	for i := range e.ops {
		w := &e.ops[i]
		if w.F != history.FWrite || w.Outcome != history.Ok || w.Input.IsFenced() {
			continue
		}
		if x, decided := e.byTruth(w); decided && x.Loss != nil {
			out = append(out, *x.Loss)
		}
	}
	return out
}

// byTruth explains w from server truth; decided is false when the truth
// cannot say (none recorded, a gap, a key it never saw). A decided write
// with an empty account is not the hazard.
func (e *Explainer) byTruth(w *history.Operation) (x Explanation, decided bool) {
	if e.rec == nil || w.Output.Rev == 0 {
		return x, false
	}
	q := e.rec.Queue(w.Name)
	k := q.Key(w.Input.Key, w.Input.Rev)
	rev := w.Output.Rev
	if k == nil || !q.Complete(k.Create-1, min(rev, q.Last())) {
		return x, false
	}
	if !k.Owned() || rev < k.Deleted || e.releasedByWriter(w.Client, k) {
		return x, true
	}
	loss := &models.UnfencedLoss{Name: w.Name, Op: w.ID, Revisions: rev - k.Deleted, AfterNs: max(0, w.Call-k.DeletedAt)}
	owner := "no key owned it then"
	if j := q.OwnerAt(rev); j != nil {
		loss.Owner = e.holders[keyLife{j.Key, j.Create}]
		owner = fmt.Sprintf("key %s (created at revision %d) owned it then", j.Key, j.Create)
		if loss.Owner != 0 {
			owner = fmt.Sprintf("client %d's key %s (created at revision %d) owned it then", loss.Owner, j.Key, j.Create)
		}
	}
	x.Loss = loss
	x.Account = fmt.Sprintf("server truth: client %d's key %s (created at revision %d) owned %s and was deleted at revision %d (seen at %s), not by its own unlock; the write landed %d revisions after that, invoked %.2f s after the delete was seen, and %s",
		w.Client, k.Key, k.Create, w.Name, k.Deleted, models.Secs(k.DeletedAt), loss.Revisions, float64(loss.AfterNs)/1e9, owner)
	return x, true
}

// releasedByWriter reports whether the writer invoked an unlock of k, after
// the grant of this life of k and before the observer saw it deleted: the
// delete may be its own, and a write after its own unlock is no lapse of a
// lease. (An unlock names only the key, so an earlier cycle's unlock of the
// same key is told apart by its time, unless it names the create revision
// of the hold it releases: one of another life is not this one's.)
func (e *Explainer) releasedByWriter(client int, k *truth.Key) bool {
	from, ok := e.granted[keyLife{k.Key, k.Create}]
	if !ok {
		from = k.CreatedAt
	}
	for _, u := range e.unlocks[k.Key] {
		if u.Client == client && u.Outcome != history.Fail && u.Call >= from && u.Call <= k.DeletedAt &&
			(u.Input.Rev == 0 || u.Input.Rev == k.Create) {
			return true
		}
	}
	return false
}

// reach bounds how long after a fault ends it may still explain a stale
// write: a lease the fault let lapse is gone within its TTL of the last
// renewal, a new leader takes up to an election timeout, and the client
// learns of the loss by its next keep-alive, within another TTL.
func (e *Explainer) reach() int64 {
	return int64(2*e.timing.LeaseTTL + e.timing.ElectionTimeout)
}

// byRecord explains w from what clients and the nemesis recorded: a fault
// that could end the writer's lease (one aimed at the writer, its lease or
// its member, or a partition) started before the write returned and ended
// no more than reach before it was invoked, or a loss of the writer's lease
// whose window opens before the write returned.
func (e *Explainer) byRecord(w *history.Operation) (Explanation, bool) {
	lease := e.leaseOf[w.Input.Key]
	for _, f := range e.faults {
		if f.Start > w.Return || f.End != history.Never && w.Call > f.End+e.reach() {
			continue
		}
		if why, ok := e.endsLeaseOf(f, w, lease); ok {
			return Explanation{Account: fmt.Sprintf("a %s fault %s at %s, %s", f.Kind, why, models.Secs(f.Start), ended(f))}, true
		}
	}
	if lease != 0 {
		for _, l := range e.lostOps[lease] {
			last := l.Call
			if l.Input.LastAlive != nil {
				last = *l.Input.LastAlive
			}
			if last <= w.Return {
				return Explanation{Account: fmt.Sprintf("client %d's lease %x was lost after %s (op %d), before the write returned",
					l.Client, lease, models.Secs(last), l.ID)}, true
			}
		}
	}
	return Explanation{}, false
}

// endsLeaseOf reports whether fault f could end the lease of w's writer,
// and how it concerns the writer.
func (e *Explainer) endsLeaseOf(f history.Fault, w *history.Operation, lease int64) (string, bool) {
	explains := history.FaultKindOf(f.Kind).Explains
	switch {
	case explains.Has(history.ExplainsClientStall) && (f.Lease != 0 && f.Lease == lease || f.Lease == 0 && f.Target == w.Client):
		return fmt.Sprintf("aimed at client %d", w.Client), true
	case !explains.Has(history.ExplainsClusterFault):
		return "", false
	case f.Kind == history.KindPartition:
		return "(" + f.Detail + ")", true
	case f.Member != 0 && f.Member == w.Member:
		return fmt.Sprintf("on member %d, which client %d talks to", f.Member, w.Client), true
	}
	return "", false
}

func ended(f history.Fault) string {
	if f.End == history.Never {
		return "never healed"
	}
	return "healed at " + models.Secs(f.End)
}
