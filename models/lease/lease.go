// Package lease holds what etcd answered about leases (keep-alives and
// TimeToLive, history functions keepalive and lease-ttl) to etcd's lease
// contract, rule by rule, each refutation a finding with the operations,
// times and revisions that prove it:
//
//   - a TTL etcd answered is -1 (not found) or in [0, granted], granted
//     being the TTL the client recorded for the lease's grant;
//   - a lease is not expired before the invoke time of a keep-alive that
//     renewed it plus the TTL that keep-alive returned: keys deleted by an
//     expiry before then are an early expiry (needs server truth);
//   - a keep-alive invoked after a revoke of its lease completed fails;
//   - no answer finds the lease alive (a TTL above 0) at a response revision
//     at or after the revision at which server truth shows the lease's keys
//     deleted by its death (a revoke or an expiry): a renewal that lands
//     between a revoke's deletion of the keys and its removal of the lease
//     (etcd issue 14758) says so;
//   - a TimeToLive that finds the lease lists every extra key attached to
//     it before the question (history function attach): a lease's keys go
//     with it, all at once, and clients never delete these keys.
//
// A lease may outlive its TTL (every leader change extends it), so that is
// never flagged. Keep-alives and TimeToLive answers prove nothing to the
// other checks: a lease is alive for them only by what its keys did.
package lease

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Check checks every lease answer in ops against rec (nil without server
// truth) and returns the lease check's one result, its findings not yet
// classified; ok is false when the history has no lease answers.
func Check(h *history.History, ops []history.Operation, rec *truth.Record) (models.CheckResult, bool) {
	start := time.Now()
	l := check(h, ops, rec)
	if l.checked == 0 {
		return models.CheckResult{}, false
	}
	r := models.ContractResult(models.CheckLease, models.LeaseCheckName, l.checked, l.findings, l.undecided,
		fmt.Sprintf("%d lease answers could not be checked: a gap in the server truth covers the revisions they need, or no grant of their lease is recorded", l.undecided))
	r.Elapsed = time.Since(start)
	return r, true
}

// leaseFacts is what a history says about one lease.
type leaseFacts struct {
	granted    int64                // the TTL the client recorded for its grant, 0 if none
	keepAlives []*history.Operation // ok keep-alives, by invoke time
	answers    []*history.Operation // ok keep-alives and TimeToLive answers, in history order
	alive      []int64              // invoke times of answers that found the lease (ok keep-alive, TTL >= 0)
	revoked    []revocation         // completed revokes
	attached   []*history.Operation // ok attaches of extra keys
	ended      int64                // the earliest time the lease certainly ended (history.Never: not known)
	explainers []actSpan            // what may delete its keys
	cleanups   []actSpan            // of those, locks and campaigns that did not succeed (their backend may delete the key)
}

// actSpan is when an operation or fault may have acted: from its invoke (or
// start) to its return (history.Never when unknown or unbounded).
type actSpan struct{ from, to int64 }

// revocation is a revoke of a lease known to have completed by at: an ok
// revoke operation, or a revoke-lease fault that recorded its end.
type revocation struct {
	at   int64
	desc string
	op   int64 // the revoke operation, 0 for a fault
}

// checker checks one history's lease answers.
type checker struct {
	h         *history.History
	leases    map[int64]*leaseFacts
	keyOps    map[string][]actSpan // key -> its unlocks and resigns
	born      map[string]int64     // key and create revision -> invoke time of the grant that created it
	pending   []pendingSpan        // lock and campaign spans that end when their lease ends
	checked   int
	findings  []models.Finding
	undecided int
}

// pendingSpan is a lock or campaign that did not succeed: from its invoke
// it may delete its key, until its lease ends.
type pendingSpan struct {
	lease int64
	from  int64
}

func check(h *history.History, ops []history.Operation, rec *truth.Record) *checker {
	l := &checker{h: h, leases: map[int64]*leaseFacts{}, keyOps: map[string][]actSpan{}, born: map[string]int64{}}
	for i := range ops {
		l.learn(&ops[i])
	}
	if l.checked == 0 {
		return l
	}
	l.learnFaults(h.Faults())
	for _, p := range l.pending {
		f := l.lease(p.lease)
		f.explainers = append(f.explainers, actSpan{p.from, f.ended})
		f.cleanups = append(f.cleanups, actSpan{p.from, f.ended})
	}
	for _, f := range l.leases {
		sort.Slice(f.keepAlives, func(i, j int) bool { return f.keepAlives[i].Call < f.keepAlives[j].Call })
	}
	for i := range ops {
		if op := &ops[i]; leaseOp(op.F) && op.Outcome == history.Ok {
			l.ttlInRange(op)
			if op.F == history.FKeepAlive {
				l.afterRevoke(op)
			}
			if op.F == history.FLeaseTTL {
				l.keysListed(op)
			}
		}
	}
	if rec != nil {
		l.earlyExpiries(rec)
		l.aliveAfterKeysGone(rec)
	}
	return l
}

// leaseOp reports whether operations of function f are lease answers.
func leaseOp(f string) bool { return f == history.FKeepAlive || f == history.FLeaseTTL }

func (l *checker) lease(id int64) *leaseFacts {
	f := l.leases[id]
	if f == nil {
		f = &leaseFacts{ended: history.Never}
		l.leases[id] = f
	}
	return f
}

// learn files op under its lease: an answer to check (and the grant its
// invoke records), or what may explain a deletion of the lease's keys (a
// revoke, a lock or campaign that did not succeed, whose backend may delete
// its waiting key until the lease ends) or of one key (an unlock, a
// resign), or what ends the lease (a revoke that completed, a lease-lost).
func (l *checker) learn(op *history.Operation) {
	switch op.F {
	case history.FKeepAlive, history.FLeaseTTL:
		l.checked++
		f := l.lease(op.Input.Lease)
		if op.Input.GrantedTTL != 0 {
			f.granted = op.Input.GrantedTTL
		}
		if op.Outcome != history.Ok {
			return
		}
		f.answers = append(f.answers, op)
		if op.F == history.FKeepAlive {
			f.keepAlives = append(f.keepAlives, op)
		}
		if op.Output.TTL != nil && *op.Output.TTL >= 0 {
			f.alive = append(f.alive, op.Call)
		}
	case history.FAttach:
		if op.Outcome == history.Ok && op.Input.Keys != nil {
			f := l.lease(op.Input.Lease)
			f.attached = append(f.attached, op)
		}
	case history.FRevoke:
		f := l.lease(op.Input.Lease)
		f.explainers = append(f.explainers, actSpan{op.Call, history.Never}) // the lease is gone after it
		if op.Outcome == history.Ok {
			f.revoked = append(f.revoked, revocation{at: op.Return, op: op.ID,
				desc: fmt.Sprintf("client %d's revoke (op %d), done at %s", op.Client, op.ID, models.Secs(op.Return))})
			f.ended = min(f.ended, op.Return)
		}
	case history.FLeaseLost:
		if op.Outcome != history.Fail && op.Input.Lease != 0 {
			f := l.lease(op.Input.Lease)
			f.ended = min(f.ended, op.Call)
		}
	case history.FLock, history.FCampaign:
		switch {
		case op.Outcome == history.Ok:
			// The first grant of a key at its revision (a relock finds it again).
			if id := keyID(op.Output.Key, op.Output.Rev); l.born[id] == 0 || op.Call < l.born[id] {
				l.born[id] = op.Call
			}
		case op.Outcome == history.Fail:
			// A lock or campaign that certainly failed deleted nothing
			// after it returned.
			if op.Input.Lease != 0 {
				f := l.lease(op.Input.Lease)
				f.explainers = append(f.explainers, actSpan{op.Call, op.Return})
				f.cleanups = append(f.cleanups, actSpan{op.Call, op.Return})
			}
		case op.Input.Lease != 0:
			l.pending = append(l.pending, pendingSpan{lease: op.Input.Lease, from: op.Call})
		}
	case history.FUnlock, history.FResign:
		l.keyOps[op.Input.Key] = append(l.keyOps[op.Input.Key], actSpan{op.Call, op.Return})
	}
}

// learnFaults files lease faults. A one-shot lease fault (revoke-lease)
// ends the lease at once, which explains a deletion of its keys. An
// interval one (expire-lease, a pause) only stops renewals: the lease then
// expires, and its expiry is held to the rules.
func (l *checker) learnFaults(faults []history.Fault) {
	for _, f := range faults {
		kind := history.FaultKindOf(f.Kind)
		if f.Lease == 0 || !kind.Explains.Has(history.ExplainsLeaseDeath) || !kind.OneShot {
			continue
		}
		facts := l.lease(f.Lease)
		facts.explainers = append(facts.explainers, actSpan{f.Start, history.Never})
		// A one-shot lease fault that recorded its end certainly ended the
		// lease by then.
		if f.Ended {
			facts.revoked = append(facts.revoked, revocation{at: f.End,
				desc: fmt.Sprintf("a %s fault at %s, done by %s", f.Kind, models.Secs(f.Start), models.Secs(f.End))})
			facts.ended = min(facts.ended, f.End)
		}
	}
}

// ttlInRange: a TTL etcd answered is -1 (not found) or between 0 and the
// TTL the client recorded for the lease's grant. Without a recorded grant
// only the lower bound can be checked; an answer above 0 is then
// undecided.
func (l *checker) ttlInRange(op *history.Operation) {
	if op.Output.TTL == nil {
		return
	}
	ttl, granted := *op.Output.TTL, op.Input.GrantedTTL
	if granted == 0 {
		granted = l.leases[op.Input.Lease].granted
	}
	switch {
	case ttl == -1 || ttl >= 0 && granted != 0 && ttl <= granted:
		return
	case ttl >= 0 && granted == 0:
		l.undecided++
		return
	}
	bound := fmt.Sprintf("[-1, %ds], the TTL the lease was granted with", granted)
	if granted == 0 {
		bound = "[-1, the TTL the lease was granted with]"
	}
	l.find(models.Finding{Kind: models.FindingLeaseTTLOutOfRange, Name: leaseName(op.Input.Lease), F: op.F, Op: op.ID,
		Lease: op.Input.Lease, At: op.Return, Evidence: []int64{op.ID},
		Account: fmt.Sprintf("client %d's %s of lease %x (op %d) returned ok at %s with TTL %ds, outside %s",
			keeperOwner(op.Client), op.F, op.Input.Lease, op.ID, models.Secs(op.Return), ttl, bound)})
}

// afterRevoke: a keep-alive invoked after a revoke of its lease completed
// must not succeed.
func (l *checker) afterRevoke(op *history.Operation) {
	f := l.leases[op.Input.Lease]
	for _, r := range f.revoked {
		if r.at >= op.Call {
			continue
		}
		ev := []int64{op.ID}
		if r.op != 0 {
			ev = append(ev, r.op)
		}
		l.find(models.Finding{Kind: models.FindingKeepAliveAfterRevoke, Name: leaseName(op.Input.Lease), F: op.F, Op: op.ID,
			Lease: op.Input.Lease, At: op.Return, Evidence: ev,
			Account: fmt.Sprintf("client %d's keep-alive of lease %x (op %d), invoked at %s, returned ok with TTL %ds, but %s, had revoked the lease before",
				keeperOwner(op.Client), op.Input.Lease, op.ID, models.Secs(op.Call), ttlOf(op), r.desc)})
		return
	}
}

// keysListed: a TimeToLive answer that found the lease (it says with what
// TTL the lease was granted) lists every extra key an attach of the lease
// had put before the question was asked. A lease's keys are deleted with
// it, all at one revision, and clients never delete their extra keys, so
// an answer that finds the lease with fewer of them saw its death half
// done.
func (l *checker) keysListed(op *history.Operation) {
	if op.Output.Keys == nil || op.Output.GrantedTTL == 0 {
		return
	}
	f := l.leases[op.Input.Lease]
	for _, at := range f.attached {
		want := *at.Input.Keys
		if at.Return >= op.Call || *op.Output.Keys >= want {
			continue
		}
		l.find(models.Finding{Kind: models.FindingLeaseKeysPartlyGone, Name: leaseName(op.Input.Lease), F: op.F, Op: op.ID,
			Lease: op.Input.Lease, At: op.Return, Evidence: []int64{op.ID, at.ID},
			Account: fmt.Sprintf("client %d's lease-ttl of lease %x (op %d), invoked at %s, found the lease (TTL %ds) but listed %d of the %d keys attached to it (op %d, done at %s), from index %d: a lease alive with part of its keys gone",
				keeperOwner(op.Client), op.Input.Lease, op.ID, models.Secs(op.Call), ttlOf(op), *op.Output.Keys, want, at.ID, models.Secs(at.Return), op.Output.KeysFrom)})
		return
	}
}

// earlyExpiries finds keys the server deleted by their lease's expiry before
// a keep-alive's renewal ran out. A deletion counts as an expiry only when
// nothing else may explain it: no unlock or resign of the key, no revoke of
// the lease (an operation, or a revoke-lease fault; an expire-lease fault
// only stops renewals) and no lock or campaign with it that did not
// succeed, invoked by the time the observer saw the deletion and not
// returned (or its lease not ended) before the key's grant was invoked (see
// explained); every key the lease then held deleted at the same revision,
// as a revoke does; and no answer invoked later that still found the lease.
func (l *checker) earlyExpiries(rec *truth.Record) {
	type keyOf struct {
		name string
		q    *truth.Queue
		k    *truth.Key
	}
	var keys []keyOf
	held := map[int64][]*truth.Key{} // lease -> its keys
	for _, name := range rec.Names() {
		q := rec.Queue(name)
		for _, k := range q.Keys() {
			if k.Lease != 0 {
				keys = append(keys, keyOf{name, q, k})
				held[k.Lease] = append(held[k.Lease], k)
			}
		}
	}
	for _, kk := range keys {
		k := kk.k
		f := l.leases[k.Lease]
		if f == nil || k.Deleted == truth.Inf || len(f.keepAlives) == 0 {
			continue
		}
		at, born := k.DeletedAt, l.born[keyID(k.Key, k.Create)]
		if explained(f.explainers, born, at) || explained(l.keyOps[k.Key], born, at) || f.aliveAfter(at) || partial(held[k.Lease], k) {
			continue
		}
		ka, until := f.renewedPast(at)
		if ka == nil {
			continue
		}
		if !kk.q.Complete(k.Deleted-1, k.Deleted) {
			l.undecided++
			continue
		}
		l.find(models.Finding{Kind: models.FindingLeaseEarlyExpiry, Name: kk.name, F: history.FKeepAlive, Op: ka.ID, At: at,
			Key: k.Key, CreateRev: k.Create, Lease: k.Lease,
			Evidence: []int64{ka.ID}, Revisions: []int64{k.Create, k.Deleted},
			Account: fmt.Sprintf("lease %x's key %s (created at revision %d) was deleted at revision %d, seen at %s, with no unlock, resign or revoke that explains it: an expiry, but client %d's keep-alive (op %d), invoked at %s, had renewed the lease for %ds, until %s at the earliest",
				k.Lease, k.Key, k.Create, k.Deleted, models.Secs(at), keeperOwner(ka.Client), ka.ID, models.Secs(ka.Call), ttlOf(ka), models.Secs(until))})
	}
}

// aliveAfterKeysGone finds answers that found a lease alive (a TTL above
// 0) at a response revision at or after the revision at which the lease's
// keys were deleted by its death: every key the lease held deleted at that
// one revision, none made after it, nothing else that may have deleted the
// last (an unlock or resign of it, a lock or campaign with the lease that
// did not succeed, whose backend deletes its key), and the lease's end on
// record (a revoke, a loss the client recorded, a revoke-lease fault).
// Only keep-alives are judged: etcd fills a keep-alive's header before the
// member renews, so its revision had been applied by then. A TimeToLive's
// header is filled after the lessor answered (through a follower, by the
// follower), so its revision says nothing of when the lessor looked; a
// TimeToLive is judged by the keys it lists (keysListed).
func (l *checker) aliveAfterKeysGone(rec *truth.Record) {
	byLease := map[int64][]*truth.Key{}
	names := map[*truth.Key]string{}
	queues := map[*truth.Key]*truth.Queue{}
	for _, name := range rec.Names() {
		q := rec.Queue(name)
		for _, k := range q.Keys() {
			if k.Lease != 0 {
				byLease[k.Lease] = append(byLease[k.Lease], k)
				names[k], queues[k] = name, q
			}
		}
	}
	for _, lease := range slices.Sorted(maps.Keys(byLease)) {
		keys := byLease[lease]
		f := l.leases[lease]
		if f == nil || f.ended == history.Never {
			continue
		}
		last := keys[0]
		for _, k := range keys {
			if k.Create > last.Create {
				last = k
			}
		}
		born := l.born[keyID(last.Key, last.Create)]
		if last.Deleted == truth.Inf || partial(keys, last) ||
			explained(l.keyOps[last.Key], born, last.DeletedAt) || explained(f.cleanups, born, last.DeletedAt) {
			continue
		}
		for _, a := range f.answers {
			if a.F != history.FKeepAlive || a.Output.HeaderRev < last.Deleted || ttlOf(a) <= 0 {
				continue
			}
			if !queues[last].Complete(last.Deleted-1, last.Deleted) {
				l.undecided++
				continue
			}
			l.find(models.Finding{Kind: models.FindingAliveAfterKeysGone, Name: leaseName(lease), F: a.F, Op: a.ID,
				Key: last.Key, CreateRev: last.Create, Lease: lease, At: a.Return, Evidence: []int64{a.ID},
				Revisions: []int64{last.Deleted, a.Output.HeaderRev},
				Account: fmt.Sprintf("client %d's %s of lease %x (op %d) answered TTL %ds at revision %d, but the lease's keys were deleted by its death at revision %d (its last key %s on %s, seen at %s)",
					keeperOwner(a.Client), a.F, lease, a.ID, ttlOf(a), a.Output.HeaderRev, last.Deleted, last.Key, names[last], models.Secs(last.DeletedAt))})
		}
	}
}

// explained reports whether any of spans may have acted on a key between
// its creation, after born (the invoke of its grant; 0 when unknown), and
// at: invoked by at, and not returned before born. An earlier cycle's
// unlock of the same key, or a TryLock that failed before the key was
// created again, explains nothing.
func explained(spans []actSpan, born, at int64) bool {
	for _, s := range spans {
		if s.from <= at && s.to >= born {
			return true
		}
	}
	return false
}

// aliveAfter reports whether an answer invoked after at found the lease.
func (f *leaseFacts) aliveAfter(at int64) bool {
	for _, t := range f.alive {
		if t > at {
			return true
		}
	}
	return false
}

// renewedPast returns the keep-alive invoked before at that renewed the
// lease furthest, if that is past at, and until when.
func (f *leaseFacts) renewedPast(at int64) (*history.Operation, int64) {
	var best *history.Operation
	var until int64
	for _, ka := range f.keepAlives {
		if ka.Call >= at {
			break
		}
		if u := ka.Call + ttlOf(ka)*int64(time.Second); u > until {
			best, until = ka, u
		}
	}
	if until <= at {
		return nil, 0
	}
	return best, until
}

// partial reports whether another key of the lease existed across k's
// deletion: the lease's keys were not deleted together, as by a revoke.
func partial(keys []*truth.Key, k *truth.Key) bool {
	for _, j := range keys {
		if j != k && j.Create < k.Deleted && j.Deleted > k.Deleted {
			return true
		}
	}
	return false
}

func ttlOf(op *history.Operation) int64 {
	if op.Output.TTL == nil {
		return 0
	}
	return *op.Output.TTL
}

// keeperOwner is the client a lease keeper keeps the lease of (the client
// itself for the client's own operations).
func keeperOwner(client int) int {
	if client > history.KeeperBase {
		return client - history.KeeperBase
	}
	return client
}

// leaseName names a lease in findings that concern no lock or election.
func leaseName(lease int64) string { return fmt.Sprintf("lease %x", lease) }

// keyID names one life of a key.
func keyID(key string, create int64) string { return fmt.Sprintf("%s\x00%d", key, create) }

func (l *checker) find(f models.Finding) { l.findings = append(l.findings, f) }
