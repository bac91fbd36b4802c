package models

import (
	"fmt"
	"sort"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// The lease check holds what etcd answered about leases (keep-alives and
// TimeToLive, history functions keepalive and lease-ttl) to etcd's lease
// contract, rule by rule, each refutation a Finding with the operations,
// times and revisions that prove it:
//
//   - a TTL etcd answered is -1 (not found) or in [0, granted];
//   - a lease is not expired before the invoke time of a keep-alive that
//     renewed it plus the TTL that keep-alive returned: keys deleted by an
//     expiry before then are an early expiry (needs server truth);
//   - a keep-alive invoked after a revoke of its lease completed fails.
//
// A lease may outlive its TTL (every leader change extends it), so that is
// never flagged. Keep-alives and TimeToLive answers prove nothing to the
// other checks: a lease is alive for them only by what its keys did.

// CheckLease is the check of etcd's answers about leases; its one result
// per history is named LeaseCheckName, since a lease holds keys on every
// name its client uses.
const (
	CheckLease     = "lease"
	LeaseCheckName = "leases"
)

// leaseOp reports whether operations of function f are lease answers the
// lease check reads.
func leaseOp(f string) bool { return f == history.FKeepAlive || f == history.FLeaseTTL }

// leaseFacts is what a history says about one lease.
type leaseFacts struct {
	keepAlives []*history.Operation // ok keep-alives, by invoke time
	alive      []int64              // invoke times of answers that found the lease (ok keep-alive, TTL >= 0)
	revoked    []revocation         // completed revokes
	explainers []actSpan            // what may delete its keys
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

// leaseChecker checks one history's lease answers.
type leaseChecker struct {
	h         *history.History
	leases    map[int64]*leaseFacts
	keyOps    map[string][]actSpan // key -> its unlocks and resigns
	born      map[[2]string]int64  // key and create revision -> invoke time of the grant that created it
	checked   int
	findings  []Finding
	undecided int
}

// checkLeases checks every lease answer in ops; nil when there is none.
func checkLeases(h *history.History, ops []history.Operation) *leaseChecker {
	l := &leaseChecker{h: h, leases: map[int64]*leaseFacts{}, keyOps: map[string][]actSpan{},
		born: map[[2]string]int64{}}
	for i := range ops {
		l.learn(&ops[i])
	}
	if l.checked == 0 {
		return nil
	}
	for _, f := range h.Faults() {
		// A one-shot lease fault (revoke-lease) ends the lease at once, which
		// explains a deletion of its keys. An interval one (expire-lease, a
		// pause) only stops renewals: the lease then expires, and its expiry
		// is held to the rules.
		if f.Lease == 0 || !endsLease(f.Kind) || !history.FaultKindOf(f.Kind).OneShot {
			continue
		}
		facts := l.lease(f.Lease)
		facts.explainers = append(facts.explainers, actSpan{f.Start, history.Never})
		// As in faultDeaths: a one-shot lease fault that recorded its end
		// certainly ended the lease by then.
		if f.Ended {
			facts.revoked = append(facts.revoked, revocation{at: f.End,
				desc: fmt.Sprintf("a %s fault at %s, done by %s", f.Kind, secs(f.Start), secs(f.End))})
		}
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
		}
	}
	if h.Header.ServerTruth {
		l.earlyExpiries()
	}
	return l
}

func (l *leaseChecker) lease(id int64) *leaseFacts {
	f := l.leases[id]
	if f == nil {
		f = &leaseFacts{}
		l.leases[id] = f
	}
	return f
}

// learn files op under its lease: an answer to check, or what may explain
// a deletion of the lease's keys (a revoke, a lock or campaign that did not
// succeed, whose backend may delete its waiting key) or of one key (an
// unlock, a resign).
func (l *leaseChecker) learn(op *history.Operation) {
	switch op.F {
	case history.FKeepAlive, history.FLeaseTTL:
		l.checked++
		f := l.lease(op.Input.Lease)
		if op.Outcome != history.Ok {
			return
		}
		if op.F == history.FKeepAlive {
			f.keepAlives = append(f.keepAlives, op)
		}
		if op.Output.TTL != nil && *op.Output.TTL >= 0 {
			f.alive = append(f.alive, op.Call)
		}
	case history.FRevoke:
		f := l.lease(op.Input.Lease)
		f.explainers = append(f.explainers, actSpan{op.Call, history.Never}) // the lease is gone after it
		if op.Outcome == history.Ok {
			f.revoked = append(f.revoked, revocation{at: op.Return, op: op.ID,
				desc: fmt.Sprintf("client %d's revoke (op %d), done at %s", op.Client, op.ID, secs(op.Return))})
		}
	case history.FLock, history.FCampaign:
		switch {
		case op.Outcome == history.Ok:
			// The first grant of a key at its revision (a relock finds it again).
			if id := lifeID(op.Output.Key, op.Output.Rev); l.born[id] == 0 || op.Call < l.born[id] {
				l.born[id] = op.Call
			}
		case op.Input.Lease != 0:
			f := l.lease(op.Input.Lease)
			f.explainers = append(f.explainers, actSpan{op.Call, op.Return})
		}
	case history.FUnlock, history.FResign:
		l.keyOps[op.Input.Key] = append(l.keyOps[op.Input.Key], actSpan{op.Call, op.Return})
	}
}

// ttlInRange: a TTL etcd answered is -1 (not found) or between 0 and the
// lease's granted TTL (a keep-alive's invoke carries the grant's).
func (l *leaseChecker) ttlInRange(op *history.Operation) {
	if op.Output.TTL == nil {
		return
	}
	ttl, granted := *op.Output.TTL, op.Output.GrantedTTL
	if op.F == history.FKeepAlive {
		granted = op.Input.GrantedTTL
		if granted == 0 {
			return // no grant to compare with
		}
	}
	if ttl == -1 || ttl >= 0 && ttl <= granted {
		return
	}
	l.find(Finding{Kind: FindingLeaseTTLOutOfRange, Name: leaseName(op.Input.Lease), F: op.F, Op: op.ID,
		At: op.Return, Evidence: []int64{op.ID}, AboveGranted: ttl > granted,
		Account: fmt.Sprintf("client %d's %s of lease %x (op %d) returned ok at %s with TTL %ds, outside [-1, %ds], the TTL the lease was granted with",
			keeperOwner(op.Client), op.F, op.Input.Lease, op.ID, secs(op.Return), ttl, granted)})
}

// afterRevoke: a keep-alive invoked after a revoke of its lease completed
// must not succeed.
func (l *leaseChecker) afterRevoke(op *history.Operation) {
	f := l.leases[op.Input.Lease]
	for _, r := range f.revoked {
		if r.at >= op.Call {
			continue
		}
		ev := []int64{op.ID}
		if r.op != 0 {
			ev = append(ev, r.op)
		}
		l.find(Finding{Kind: FindingKeepAliveAfterRevoke, Name: leaseName(op.Input.Lease), F: op.F, Op: op.ID,
			At: op.Return, Evidence: ev,
			Account: fmt.Sprintf("client %d's keep-alive of lease %x (op %d), invoked at %s, returned ok with TTL %ds, but %s, had revoked the lease before",
				keeperOwner(op.Client), op.Input.Lease, op.ID, secs(op.Call), ttlOf(op), r.desc)})
		return
	}
}

// earlyExpiries finds keys the server deleted by their lease's expiry before
// a keep-alive's renewal ran out. A deletion counts as an expiry only when
// nothing else may explain it: no unlock or resign of the key, no revoke of
// the lease (an operation, or a revoke-lease fault; an expire-lease fault
// only stops renewals) and no lock or campaign with it that did not
// succeed, invoked by the time the observer saw the deletion and not
// returned before the key's grant was invoked (see explained); every key the
// lease then held deleted at the same revision, as a revoke does; and no
// answer invoked later that still found the lease.
func (l *leaseChecker) earlyExpiries() {
	byName := map[string][]history.ServerEvent{}
	for _, s := range l.h.ServerEvents() {
		if s.Role != history.RoleData {
			byName[s.Name] = append(byName[s.Name], s)
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	type keyOf struct {
		name string
		q    *queue
		k    *keyLife
	}
	var keys []keyOf
	held := map[int64][]*keyLife{} // lease -> its keys
	for _, name := range names {
		q := newQueue(byName[name])
		for _, k := range q.byRev {
			if k.lease != 0 {
				keys = append(keys, keyOf{name, q, k})
				held[k.lease] = append(held[k.lease], k)
			}
		}
	}
	for _, kk := range keys {
		k := kk.k
		f := l.leases[k.lease]
		if f == nil || k.deleted == inf || len(f.keepAlives) == 0 {
			continue
		}
		at, born := k.deletedAt, l.born[lifeID(k.key, k.create)]
		if explained(f.explainers, born, at) || explained(l.keyOps[k.key], born, at) || f.aliveAfter(at) || partial(held[k.lease], k) {
			continue
		}
		ka, until := f.renewedPast(at)
		if ka == nil {
			continue
		}
		if !kk.q.complete(k.deleted-1, k.deleted) {
			l.undecided++
			continue
		}
		l.find(Finding{Kind: FindingLeaseEarlyExpiry, Name: kk.name, F: history.FKeepAlive, Op: ka.ID, At: at,
			Evidence: []int64{ka.ID}, Revisions: []int64{k.create, k.deleted},
			Account: fmt.Sprintf("lease %x's key %s (created at revision %d) was deleted at revision %d, seen at %s, with no unlock, resign or revoke that explains it: an expiry, but client %d's keep-alive (op %d), invoked at %s, had renewed the lease for %ds, until %s at the earliest",
				k.lease, k.key, k.create, k.deleted, secs(at), keeperOwner(ka.Client), ka.ID, secs(ka.Call), ttlOf(ka), secs(until))})
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
func partial(keys []*keyLife, k *keyLife) bool {
	for _, j := range keys {
		if j != k && j.create < k.deleted && j.deleted > k.deleted {
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

func (l *leaseChecker) find(f Finding) { l.findings = append(l.findings, f) }

// checkLease classifies the lease check's findings, as truth's are; nil
// when the history has no lease answers.
func (c *checker) checkLease() *checkFindings {
	start := time.Now()
	l := checkLeases(c.h, c.ops)
	if l == nil {
		return nil
	}
	cf := c.classify(CheckLease, LeaseCheckName, l.findings, l.undecided, l.checked)
	cf.result.Elapsed = time.Since(start)
	return cf
}
