// Package liveness judges, from the history alone, whether locks and
// elections stayed live: the run's probe after healing (history function
// probe) must have acquired every name, and no waiter may have gone on
// waiting, per server truth, long after every key ahead of its own was
// deleted. `etcdchaos check` of a run's history therefore gives the same
// liveness verdict as the run.
package liveness

import (
	"fmt"
	"sort"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Check judges h's liveness probes and, with server truth (rec), its
// waiters; ok is false when there is neither.
func Check(h *history.History, ops []history.Operation, rec *truth.Record) (models.CheckResult, bool) {
	start := time.Now()
	var findings []models.Finding
	probes, undecided := 0, 0
	for i := range ops {
		op := &ops[i]
		if op.F != history.FProbe {
			continue
		}
		probes++
		switch op.Outcome {
		case history.Fail:
			findings = append(findings, models.Finding{Kind: models.FindingNotAcquired, Name: op.Name, F: op.F, Op: op.ID,
				At: op.Completed, Evidence: []int64{op.ID},
				Account: fmt.Sprintf("after healing, %s could not be acquired: %s (op %d, from %s to %s)",
					op.Name, op.Error, op.ID, models.Secs(op.Call), models.Secs(op.Completed))})
		case history.Info, history.Pending:
			undecided++
		}
	}
	if probes == 0 && rec == nil {
		return models.CheckResult{}, false
	}
	waiters := 0
	if rec != nil {
		bound := WaiterBound(models.TimingOf(h.Header).LeaseTTL)
		stuck, judged, gapped := stuckWaiters(rec, ops, h.Faults(), h.EndTime(), bound)
		waiters, undecided = judged, undecided+gapped
		for _, s := range stuck {
			findings = append(findings, s.finding(bound))
		}
	}
	r := models.ContractResult(models.CheckLiveness, models.LivenessCheckName, probes+waiters, findings, undecided,
		fmt.Sprintf("%d waits or probes could not be judged: a gap in the server truth covers the revisions they need, or the run was interrupted during its probe", undecided))
	r.Elapsed = time.Since(start)
	return r, true
}

// waiterSlack is added to two lease TTLs to bound how long a waiter may take
// to return once every key ahead of it is gone: a correct Lock or Campaign
// returns within a round trip, and the slack absorbs a busy machine.
const waiterSlack = 5 * time.Second

// WaiterBound is how long, after every key ahead of its key was deleted and
// with no fault in the way, a Lock or Campaign may still wait.
func WaiterBound(leaseTTL time.Duration) time.Duration { return 2*leaseTTL + waiterSlack }

// stuckWaiter is a client whose Lock or Campaign did not return although,
// per server truth, its key had become the oldest of its queue.
type stuckWaiter struct {
	op    *history.Operation
	key   *truth.Key // the waiter's key
	ahead *truth.Key // the key ahead of it that was deleted last
	from  int64      // when the wait should have ended: ahead's delete, or the end of a fault after it
	until int64      // when the client stopped waiting or its key went, or the end of the history
}

func (s stuckWaiter) finding(bound time.Duration) models.Finding {
	return models.Finding{Kind: models.FindingStuckWaiter, Name: s.op.Name, F: s.op.F, Op: s.op.ID, At: s.from,
		Key: s.key.Key, CreateRev: s.key.Create, Lease: s.key.Lease, Evidence: []int64{s.op.ID},
		Revisions: []int64{s.key.Create, s.ahead.Deleted},
		Account: fmt.Sprintf("client %d's %s on %s (op %d) did not return: its key %s (created at revision %d) "+
			"became the oldest when %s (created at revision %d) was deleted at revision %d, and it still waited %.1fs later (bound %v)",
			s.op.Client, s.op.F, s.op.Name, s.op.ID, s.key.Key, s.key.Create,
			s.ahead.Key, s.ahead.Create, s.ahead.Deleted, float64(s.until-s.from)/float64(time.Second), bound)}
}

// stuckWaiters finds, in the server truth, the waiters that never woke up.
// A key K of a queue is a stuck waiter's when every older key of the queue
// was deleted, the last at revision D, while K outlived D; the client's
// lock or campaign that created K (same name and lease) was still waiting,
// with no ok, and K was still there, more than bound after the later of
// D's and K's sightings and the end of any fault that could delay it (a
// cluster fault, or one aimed at that client). A client that gave up, or
// was stopped at the end of the run, within the bound is not stuck; neither
// is one whose key died with its lease before D or within the bound. A key
// no operation claims (the liveness probe's own) is not judged. A waiter
// whose key, or a key ahead of it, a gap may hide is not judged either: it
// is counted as undecided. Clients give up a wait after their wait timeout
// (three lease TTLs by default), so a wait shows as stuck only if its key
// became the oldest early enough in it, or if the client ignores its
// deadline. judged counts the waits that were judged.
func stuckWaiters(rec *truth.Record, ops []history.Operation, faults []history.Fault, end int64, bound time.Duration) (stuck []stuckWaiter, judged, undecided int) {
	grants := grantsByLease(ops)
	for _, name := range rec.Names() {
		q := rec.Queue(name)
		keys := q.Keys()
		var ahead *truth.Key // the older key deleted last
		for i, k := range keys {
			op := waiterOp(grants, name, k)
			if i > 0 {
				prev := keys[i-1]
				if ahead == nil || prev.Deleted > ahead.Deleted {
					ahead = prev
				}
			}
			if op == nil {
				continue
			}
			if op.Outcome == history.Ok {
				judged++ // it woke up
				continue
			}
			if !q.Complete(oldestAlive(keys[:i], k)-1, min(k.Deleted, q.Last())) {
				undecided++
				continue
			}
			judged++
			if ahead == nil || ahead.Deleted == truth.Inf || k.Deleted <= ahead.Deleted {
				continue // never the oldest while it waited
			}
			until := end
			if op.Outcome != history.Pending {
				until = op.Completed
			}
			if k.Deleted != truth.Inf {
				until = min(until, k.DeletedAt) // a waiter only while its key is there
			}
			from := undisturbedFrom(faults, op.Client, max(ahead.DeletedAt, k.CreatedAt), bound)
			if from != history.Never && until-from > int64(bound) {
				stuck = append(stuck, stuckWaiter{op: op, key: k, ahead: ahead, from: from, until: until})
			}
		}
	}
	sort.Slice(stuck, func(i, j int) bool { return stuck[i].op.ID < stuck[j].op.ID })
	return stuck, judged, undecided
}

// oldestAlive is the create revision of the oldest of older keys that still
// existed when k was created (k's own if none): the record must be complete
// from there on for k's wait to be judged.
func oldestAlive(older []*truth.Key, k *truth.Key) int64 {
	for _, j := range older {
		if j.Deleted > k.Create {
			return j.Create
		}
	}
	return k.Create
}

// nameLease names the grants of one lease on one name.
type nameLease struct {
	name  string
	lease int64
}

// grantsByLease are the locks and campaigns of each name and lease, in
// invoke order (ops are).
func grantsByLease(ops []history.Operation) map[nameLease][]*history.Operation {
	out := map[nameLease][]*history.Operation{}
	for i := range ops {
		if op := &ops[i]; (op.F == history.FLock || op.F == history.FCampaign) && op.Input.Lease != 0 {
			k := nameLease{op.Name, op.Input.Lease}
			out[k] = append(out[k], op)
		}
	}
	return out
}

// waiterOp is the lock (or campaign) that created k: the last one on name
// with k's lease invoked before k was seen.
func waiterOp(grants map[nameLease][]*history.Operation, name string, k *truth.Key) *history.Operation {
	if k.Lease == 0 {
		return nil
	}
	ops := grants[nameLease{name, k.Lease}]
	i := sort.Search(len(ops), func(i int) bool { return ops[i].Call > k.CreatedAt })
	if i == 0 {
		return nil
	}
	return ops[i-1]
}

// undisturbedFrom is the start of the first stretch of at least bound from
// t on that no fault which could delay client's wait overlaps: faults aimed
// at other clients or their leases do not count. It is history.Never if a
// fault never ends.
func undisturbedFrom(faults []history.Fault, client int, t int64, bound time.Duration) int64 {
	for _, f := range faults {
		if f.Start > t+int64(bound) {
			break
		}
		if f.Target != 0 && f.Target != client {
			continue
		}
		if f.End == history.Never {
			return history.Never
		}
		t = max(t, f.End)
	}
	return t
}
