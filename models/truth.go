package models

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models/knownissues"
)

// Server truth (history format extension 1.1): what etcd itself applied to
// a name's keys, in revision order, checked against every client claim on
// that name. Each conclusion is a proof in revisions, and none is drawn
// from revisions a gap may hide.

// CheckTruth is the check of client claims against server truth.
const CheckTruth = "truth"

// Kinds of truth findings; the known-issue registry matches on them.
const (
	FindingPhantomGrant     = "phantom-grant"
	FindingFencedOutside    = "fenced-write-outside-ownership"
	FindingLostWrite        = "lost-write"
	FindingLostProclaim     = "lost-proclaim"
	FindingNotReleased      = "release-did-not-release"
	FindingUnfencedNotOwner = "unfenced-write-by-non-owner"

	// Lease findings (the lease check, leasecheck.go).
	FindingLeaseTTLOutOfRange   = "lease-ttl-out-of-range"
	FindingLeaseEarlyExpiry     = "lease-early-expiry"
	FindingKeepAliveAfterRevoke = "keepalive-after-revoke"
)

// Finding is one client claim that server truth refutes.
type Finding struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// F is the refuted operation's function (lock, campaign, write, ...).
	F  string `json:"f"`
	Op int64  `json:"op"`
	// Account says in plain words what happened, with the revisions.
	Account  string  `json:"account"`
	Evidence []int64 `json:"evidence,omitempty"`
	At       int64   `json:"at"`
	// Revisions are the revisions that prove the finding.
	Revisions []int64 `json:"revisions"`
	// DeletedWhileWaiting: a grant whose key the server deleted before it
	// could become the oldest key (its lease died while the client waited).
	DeletedWhileWaiting bool `json:"deleted_while_waiting,omitempty"`
	// Retried: a release that followed an earlier release of the same key
	// by the same client that did not succeed.
	Retried bool `json:"retried,omitempty"`
	// AboveGranted: a TTL answer larger than the TTL the lease was granted.
	AboveGranted bool `json:"above_granted,omitempty"`
}

// UnfencedLoss measures one unfenced write that landed after its writer's
// key had stopped owning the lock: etcd's documented hazard, in revisions.
type UnfencedLoss struct {
	Name string `json:"name"`
	Op   int64  `json:"op"`
	// Revisions is how many revisions after the writer's key was deleted
	// the write landed; AfterNs is how long after, at least.
	Revisions int64 `json:"revisions"`
	AfterNs   int64 `json:"after_ns"`
	// Owner is the client that owned the lock at the write's revision (0:
	// nobody).
	Owner int `json:"owner,omitempty"`
}

// inf stands for "not deleted as far as the truth goes".
const inf = int64(math.MaxInt64)

// keyLife is one key of a queue, from creation to deletion.
type keyLife struct {
	key       string
	create    int64
	lease     int64
	deleted   int64 // delete revision, inf if never seen deleted
	deletedAt int64 // when the observer saw the delete
	createdAt int64 // when the observer saw it created
	owner     int64 // revision at which it became the oldest key; inf: never
	values    []string
}

func (k *keyLife) owned() bool { return k.owner < k.deleted }

// queue is the truth of one name's lock or election queue, or its data.
type queue struct {
	keys   map[[2]string]*keyLife // by key and create revision
	byRev  []*keyLife             // by create revision
	gaps   [][2]int64             // (from, to]
	last   int64                  // the last revision the truth covers
	writes map[int64][]history.ServerEvent
}

func lifeID(key string, create int64) [2]string { return [2]string{key, fmt.Sprint(create)} }

// newQueue builds a queue from the server lines of one name and role(s).
func newQueue(events []history.ServerEvent) *queue {
	q := &queue{keys: map[[2]string]*keyLife{}, writes: map[int64][]history.ServerEvent{}}
	for _, s := range events {
		switch s.Event {
		case history.ServerGap:
			q.gaps = append(q.gaps, [2]int64{s.FromRev, s.ToRev})
			q.last = max(q.last, s.ToRev)
			continue
		case history.ServerPut:
			k := q.keys[lifeID(s.Key, s.CreateRev)]
			if k == nil {
				k = &keyLife{key: s.Key, create: s.CreateRev, lease: s.Lease, deleted: inf, createdAt: s.Time}
				q.keys[lifeID(s.Key, s.CreateRev)] = k
				q.byRev = append(q.byRev, k)
			}
			k.values = append(k.values, s.Value)
			q.writes[s.Rev] = append(q.writes[s.Rev], s)
		case history.ServerDelete:
			if k := q.keys[lifeID(s.Key, s.CreateRev)]; k != nil {
				k.deleted, k.deletedAt = s.Rev, s.Time
			}
		}
		q.last = max(q.last, s.Rev)
	}
	sort.Slice(q.byRev, func(i, j int) bool { return q.byRev[i].create < q.byRev[j].create })
	// A key owns from when every older key is gone, if it still exists.
	gone := int64(0) // latest deletion among older keys
	for _, k := range q.byRev {
		k.owner = max(k.create, gone)
		gone = max(gone, k.deleted)
	}
	return q
}

// complete reports whether the truth has every event with a revision in
// (lo, hi]: no gap may hide one there.
func (q *queue) complete(lo, hi int64) bool {
	for _, g := range q.gaps {
		if g[0] < hi && g[1] > lo {
			return false
		}
	}
	return true
}

// createdBy is the key that a lock or campaign invoked at op.Call made
// with its lease: the first key of that lease the observer saw after the
// invoke. Nil when that is not certain: no such key, or another key of the
// lease that may still have existed at the invoke (the call may have found
// it instead).
func (q *queue) createdBy(op *history.Operation) *keyLife {
	for _, k := range q.byRev {
		if k.lease != op.Input.Lease {
			continue
		}
		if k.createdAt >= op.Call {
			return k
		}
		if k.deleted == inf || k.deletedAt >= op.Call {
			return nil
		}
	}
	return nil
}

// ownerAt is the key that owned the queue at revision r, if any.
func (q *queue) ownerAt(r int64) *keyLife {
	for _, k := range q.byRev {
		if k.create > r {
			break
		}
		if k.owner <= r && r < k.deleted {
			return k
		}
	}
	return nil
}

// blocker is an older key that still existed when k was deleted (or at the
// end of the truth): the witness that k never owned.
func (q *queue) blocker(k *keyLife) *keyLife {
	for _, j := range q.byRev {
		if j.create >= k.create {
			break
		}
		if j.deleted >= k.deleted {
			return j
		}
	}
	return nil
}

// truthChecker checks the claims on one name.
type truthChecker struct {
	name    string
	ops     []*history.Operation // the name's operations, in invoke order
	queue   *queue
	data    *queue
	proofs  *revisionProofs
	holders map[[2]string]int // key and create revision -> client that was granted it
	// leaderReads are the leader reads that returned each key, by invoke
	// time.
	leaderReads map[[2]string][]*history.Operation
	findings    []Finding
	losses      []UnfencedLoss
	undecided   int
}

// checkTruth checks every claim on one name against its server lines.
func checkTruth(name string, ops []*history.Operation, server []history.ServerEvent, proofs *revisionProofs) *truthChecker {
	var queueLines, dataLines []history.ServerEvent
	for _, s := range server {
		if s.Role == history.RoleData {
			dataLines = append(dataLines, s)
		} else {
			queueLines = append(queueLines, s)
		}
	}
	t := &truthChecker{name: name, ops: ops, queue: newQueue(queueLines), data: newQueue(dataLines),
		proofs: proofs, holders: map[[2]string]int{}}
	t.leaderReads = map[[2]string][]*history.Operation{}
	for _, op := range ops { // in invoke order
		switch {
		case op.Outcome != history.Ok:
		case op.F == history.FLock || op.F == history.FCampaign:
			t.holders[lifeID(op.Output.Key, op.Output.Rev)] = op.Client
		case op.F == history.FLeader && op.Output.Key != "":
			id := lifeID(op.Output.Key, op.Output.Rev)
			t.leaderReads[id] = append(t.leaderReads[id], op)
		}
	}
	lockKey := map[int]history.Value{} // client -> its last granted lock key
	releases := map[[2]string]bool{}   // key and create revision -> an earlier release did not succeed
	for _, op := range ops {
		switch op.F {
		case history.FLock, history.FCampaign:
			if op.Outcome == history.Ok {
				t.grant(op)
				lockKey[op.Client] = op.Output
			}
		case history.FWrite:
			if op.Outcome == history.Ok {
				t.write(op)
			}
		case history.FProclaim:
			if op.Outcome == history.Ok {
				t.proclaim(op)
			}
		case history.FUnlock, history.FResign:
			rev := op.Input.Rev
			if op.F == history.FUnlock && lockKey[op.Client].Key == op.Input.Key {
				rev = lockKey[op.Client].Rev
			}
			id := lifeID(op.Input.Key, rev)
			if op.Outcome == history.Ok {
				t.release(op, rev, releases[id])
			} else {
				releases[id] = true
			}
		}
	}
	return t
}

func (t *truthChecker) find(f Finding) {
	f.Name = t.name
	t.findings = append(t.findings, f)
}

// grant checks that the key a lock or campaign was granted was at some
// revision the oldest key of its queue.
func (t *truthChecker) grant(op *history.Operation) {
	c := op.Output.Rev
	k := t.queue.keys[lifeID(op.Output.Key, c)]
	who := fmt.Sprintf("client %d's %s of %s", op.Client, op.F, t.name)
	if k == nil {
		if !t.queue.complete(c-1, c) {
			t.undecided++
			return
		}
		t.find(Finding{Kind: FindingPhantomGrant, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
			Revisions: []int64{c},
			Account: fmt.Sprintf("%s returned ok at %s for key %s created at revision %d, but the server never created that key at that revision",
				who, secs(op.Return), op.Output.Key, c)})
		return
	}
	if k.owned() {
		return
	}
	j := t.queue.blocker(k)
	end := min(k.deleted, t.queue.last)
	if j == nil || !t.queue.complete(j.create, end) {
		t.undecided++
		return
	}
	f := Finding{Kind: FindingPhantomGrant, F: op.F, Op: op.ID, At: op.Return, Evidence: t.evidence(op, j)}
	if k.deleted == inf {
		f.Revisions = []int64{j.create, k.create}
		f.Account = fmt.Sprintf("%s returned ok at %s for key %s (created at revision %d), but the older key %s (%screated at revision %d) still existed when the record ends at revision %d: %s was never the oldest key, so it never %s %s",
			who, secs(op.Return), k.key, k.create, j.key, t.whose(j), j.create, t.queue.last, short(k.key), ownVerb(op.F), t.name)
	} else {
		f.DeletedWhileWaiting = true
		f.Revisions = []int64{j.create, k.create, k.deleted}
		f.Account = fmt.Sprintf("%s returned ok at %s for key %s (created at revision %d), but the server deleted that key at revision %d (seen at %s) while the older key %s (%screated at revision %d) %s: %s was never the oldest key, so it never %s %s",
			who, secs(op.Return), k.key, k.create, k.deleted, secs(k.deletedAt), j.key, t.whose(j), j.create, stillExisted(j), short(k.key), ownVerb(op.F), t.name)
	}
	t.find(f)
}

// write checks a write that succeeded: it must be in the truth, and a
// fenced one must have landed while its key owned the lock.
func (t *truthChecker) write(op *history.Operation) {
	w := op.Output.Rev
	if w == 0 {
		return
	}
	t.lostWrite(op, w)
	k := t.queue.keys[lifeID(op.Input.Key, op.Input.Rev)]
	if k == nil {
		return // the grant's own check speaks for a key the server never had
	}
	if k.owner <= w && w < k.deleted {
		return
	}
	who := fmt.Sprintf("client %d's %s write to %s", op.Client, fencing(op), t.name)
	switch {
	case op.Input.IsFenced() && w >= k.deleted:
		t.find(Finding{Kind: FindingFencedOutside, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
			Revisions: []int64{k.create, k.deleted, w},
			Account: fmt.Sprintf("%s landed at revision %d, guarded by key %s (created at revision %d), which the server had deleted at revision %d",
				who, w, k.key, k.create, k.deleted)})
	case k.owned() && w >= k.deleted:
		// The documented hazard: the key owned the lock, then was lost.
		loss := UnfencedLoss{Name: t.name, Op: op.ID, Revisions: w - k.deleted, AfterNs: max(0, op.Call-k.deletedAt)}
		if j := t.queue.ownerAt(w); j != nil {
			loss.Owner = t.holders[lifeID(j.key, j.create)]
		}
		t.losses = append(t.losses, loss)
	default: // before the key owned the lock, or from a key that never did
		j := t.queue.ownerAt(w)
		lo := k.create
		if j != nil {
			lo = min(lo, j.create)
		}
		if !t.queue.complete(lo, w) {
			t.undecided++
			return
		}
		kind := FindingFencedOutside
		if !op.Input.IsFenced() {
			kind = FindingUnfencedNotOwner
		}
		owner := "no key owned " + t.name + " then"
		ev := []int64{op.ID}
		revs := []int64{k.create, w}
		if j != nil {
			owner = fmt.Sprintf("%s (created at revision %d) owned %s then", t.keyDesc(j), j.create, t.name)
			ev = t.evidence(op, j)
			revs = []int64{j.create, k.create, w}
		}
		never := ""
		if !k.owned() {
			never = ", and never was"
		}
		t.find(Finding{Kind: kind, F: op.F, Op: op.ID, At: op.Return, Evidence: ev, Revisions: revs,
			Account: fmt.Sprintf("%s landed at revision %d, when its key %s (created at revision %d) was not the oldest key%s: %s",
				who, w, k.key, k.create, never, owner)})
	}
}

// lostWrite checks that a write that succeeded at revision w is in the
// truth with its data.
func (t *truthChecker) lostWrite(op *history.Operation, w int64) {
	for _, s := range t.data.writes[w] {
		if s.Value == op.Input.Data {
			return
		}
	}
	if !t.data.complete(w-1, w) {
		t.undecided++
		return
	}
	t.find(Finding{Kind: FindingLostWrite, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
		Revisions: []int64{w},
		Account: fmt.Sprintf("client %d's write of %q to %s returned ok at %s with revision %d, but the server applied no such write at revision %d",
			op.Client, op.Input.Data, t.name, secs(op.Return), w, w)})
}

// proclaim checks that a proclamation that succeeded is in the truth: a put
// of the leader key with its value.
func (t *truthChecker) proclaim(op *history.Operation) {
	k := t.queue.keys[lifeID(op.Input.Key, op.Input.Rev)]
	if k != nil {
		for _, v := range k.values {
			if v == op.Input.Value {
				return
			}
		}
	}
	if !t.queue.complete(op.Input.Rev-1, min(t.queue.last, deletedOr(k, t.queue.last))) {
		t.undecided++
		return
	}
	t.find(Finding{Kind: FindingLostProclaim, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
		Revisions: []int64{op.Input.Rev},
		Account: fmt.Sprintf("client %d's proclaim of %q on %s returned ok at %s, but the server never wrote that value to key %s (created at revision %d)",
			op.Client, op.Input.Value, t.name, secs(op.Return), op.Input.Key, op.Input.Rev)})
}

// release checks that a key an unlock or resign released was gone by the
// time the release returned: no operation invoked after it may see it.
func (t *truthChecker) release(op *history.Operation, create int64, retried bool) {
	k := t.queue.keys[lifeID(op.Input.Key, create)]
	if k == nil {
		return
	}
	p, ok := t.proofs.firstAfter(op.Return)
	if !ok || p.rev < k.create || p.rev >= k.deleted || !t.queue.complete(k.create, p.rev) {
		if p, ok = t.leaderReadAfter(op.Return, k); !ok {
			return
		}
	}
	gone := "was still there when the record ends"
	revs := []int64{k.create, p.rev}
	if k.deleted != inf {
		gone = fmt.Sprintf("was deleted only at revision %d (seen at %s)", k.deleted, secs(k.deletedAt))
		revs = append(revs, k.deleted)
	}
	t.find(Finding{Kind: FindingNotReleased, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID, p.op},
		Revisions: revs, Retried: retried,
		Account: fmt.Sprintf("client %d's %s of %s returned ok at %s, but its key %s (created at revision %d) %s: op %d, invoked after that at %s, read revision %d, when the key still existed",
			op.Client, op.F, t.name, secs(op.Return), k.key, k.create, gone, p.op, secs(p.call), p.rev)})
}

// leaderReadAfter finds a leader read invoked after t that returned key k:
// the key existed after t.
func (t *truthChecker) leaderReadAfter(at int64, k *keyLife) (revisionProof, bool) {
	reads := t.leaderReads[lifeID(k.key, k.create)]
	i := sort.Search(len(reads), func(i int) bool { return reads[i].Call > at })
	if i == len(reads) {
		return revisionProof{}, false
	}
	o := reads[i]
	return revisionProof{op: o.ID, call: o.Call, rev: max(o.Output.HeaderRev, o.Output.ModRev)}, true
}

// evidence lists op and the operation that was granted key j, if any.
func (t *truthChecker) evidence(op *history.Operation, j *keyLife) []int64 {
	ids := []int64{op.ID}
	for _, o := range t.ops {
		if o.Outcome == history.Ok && (o.F == history.FLock || o.F == history.FCampaign) &&
			o.Output.Key == j.key && o.Output.Rev == j.create {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

func (t *truthChecker) keyDesc(k *keyLife) string {
	if c := t.holders[lifeID(k.key, k.create)]; c != 0 {
		return fmt.Sprintf("client %d's key %s", c, k.key)
	}
	return "key " + k.key
}

// whose names the client that was granted k, as "client 3's, ".
func (t *truthChecker) whose(k *keyLife) string {
	if c := t.holders[lifeID(k.key, k.create)]; c != 0 {
		return fmt.Sprintf("client %d's, ", c)
	}
	return ""
}

func stillExisted(j *keyLife) string {
	if j.deleted == inf {
		return "was never deleted"
	}
	return fmt.Sprintf("was deleted only at revision %d", j.deleted)
}

func deletedOr(k *keyLife, or int64) int64 {
	if k == nil || k.deleted == inf {
		return or
	}
	return k.deleted
}

func ownVerb(f string) string {
	if f == history.FCampaign {
		return "led"
	}
	return "held"
}

func fencing(op *history.Operation) string {
	if op.Input.IsFenced() {
		return "fenced"
	}
	return "unfenced"
}

// short is the last element of a key, as accounts name keys once spelled out.
func short(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// revisionProof is an operation whose response proves that a revision
// existed at some time after the operation was invoked.
type revisionProof struct {
	op   int64
	call int64
	rev  int64
}

// revisionProofs are every such operation of a history, by invoke time,
// with the lowest revision proven from each one on.
type revisionProofs struct {
	byCall []revisionProof
	minRev []int // index of the lowest revision in byCall[i:]
}

func newRevisionProofs(ops []history.Operation) *revisionProofs {
	p := &revisionProofs{}
	for i := range ops {
		op := &ops[i]
		if op.Outcome != history.Ok {
			continue
		}
		rev := op.Output.HeaderRev
		if op.F == history.FWrite && op.Output.Rev > 0 {
			rev = op.Output.Rev
		}
		if rev > 0 {
			p.byCall = append(p.byCall, revisionProof{op: op.ID, call: op.Call, rev: rev})
		}
	}
	sort.SliceStable(p.byCall, func(i, j int) bool { return p.byCall[i].call < p.byCall[j].call })
	p.minRev = make([]int, len(p.byCall))
	for i := len(p.byCall) - 1; i >= 0; i-- {
		p.minRev[i] = i
		if i+1 < len(p.byCall) && p.byCall[p.minRev[i+1]].rev < p.byCall[i].rev {
			p.minRev[i] = p.minRev[i+1]
		}
	}
	return p
}

// firstAfter returns, among the operations invoked after t, the one that
// proves the lowest revision.
func (p *revisionProofs) firstAfter(t int64) (revisionProof, bool) {
	i := sort.Search(len(p.byCall), func(i int) bool { return p.byCall[i].call > t })
	if i == len(p.byCall) {
		return revisionProof{}, false
	}
	return p.byCall[p.minRev[i]], true
}

// truthByName checks every name that has server lines or operations
// against its server truth; nil when the history records no server truth.
func truthByName(h *history.History, all []history.Operation) map[string]*truthChecker {
	if !h.Header.ServerTruth {
		return nil
	}
	proofs := newRevisionProofs(all)
	ops := map[string][]*history.Operation{}
	for i := range all {
		if op := &all[i]; op.Name != "" {
			ops[op.Name] = append(ops[op.Name], op)
		}
	}
	server := map[string][]history.ServerEvent{}
	for _, s := range h.ServerEvents() {
		server[s.Name] = append(server[s.Name], s)
	}
	out := map[string]*truthChecker{}
	for name, o := range ops {
		out[name] = checkTruth(name, o, server[name], proofs)
	}
	return out
}

// nameTruth is the truth check's outcome on one name.
type nameTruth struct {
	family *family
	*checkFindings
	t *truthChecker
}

// checkFindings is the outcome of a check that lists findings (truth,
// lease): its result, and the findings that are known etcd issues.
type checkFindings struct {
	result CheckResult
	known  []KnownIssueFinding
}

// checkTruth checks every name against the server truth and sorts its
// findings into known etcd issues (on a version the registry says they
// affect) and violations. Nil without server truth.
func (c *checker) checkTruth() map[string]*nameTruth {
	byName := truthByName(c.h, c.ops)
	if byName == nil {
		return nil
	}
	out := make(map[string]*nameTruth, len(byName))
	for name, t := range byName {
		start := time.Now()
		nt := &nameTruth{t: t, checkFindings: c.classify(CheckTruth, name, t.findings, t.undecided, len(t.ops))}
		for _, op := range t.ops {
			if fam, _ := familyOf(op.F); fam != nil {
				nt.family = fam
				break
			}
		}
		nt.result.Elapsed = time.Since(start)
		out[name] = nt
	}
	return out
}

// classify makes the result of check on name from its findings, the same
// way for every such check: a violation for the first finding that is no
// known issue (all of them are counted), a known issue when every finding
// is one (failing only under Strict), unknown when a gap kept undecided
// claims from being checked, empty with no operations, else ok.
func (c *checker) classify(check, name string, findings []Finding, undecided, ops int) *checkFindings {
	cf := &checkFindings{}
	r := CheckResult{Check: check, Name: name, Verdict: Ok, Ops: ops}
	var plain []Finding
	for _, f := range findings {
		hd := c.h.Header
		if issue, ok := knownissues.Match(f.facts(), knownissues.Versions{Server: hd.EtcdVersion, Client: hd.ClientVersion, Backend: hd.Backend}); ok {
			cf.known = append(cf.known, KnownIssueFinding{Issue: issue.ID, Title: issue.Title, URL: issue.URL,
				Message: issue.Message(), Finding: f})
		} else {
			plain = append(plain, f)
		}
	}
	switch {
	case len(plain) > 0:
		f := plain[0]
		r.Verdict, r.Fails, r.Account, r.Evidence, r.At, r.Revisions = Violation, true, f.Account, f.Evidence, f.At, f.Revisions
		r.Findings = plain
		if n := len(findings); n > 1 {
			r.Account += fmt.Sprintf(" (%d findings in all)", n)
		}
	case len(cf.known) > 0:
		k := cf.known[0]
		r.Verdict, r.Fails, r.Evidence, r.At, r.Revisions = KnownIssue, c.opts.Strict, k.Evidence, k.At, k.Revisions
		r.Account = k.Message + ": " + k.Account
		if n := len(cf.known); n > 1 {
			r.Account += fmt.Sprintf(" (%d findings in all)", n)
		}
	case undecided > 0:
		r.Verdict, r.Fails = Unknown, true
		r.Account = fmt.Sprintf("%d claims on %s could not be checked: a gap in the server truth covers the revisions they need", undecided, name)
	case ops == 0:
		r.Verdict = Empty
	}
	cf.result = r
	return cf
}

// facts are what the known-issue registry matches a finding on.
func (f Finding) facts() knownissues.Facts {
	return knownissues.Facts{Kind: f.Kind, F: f.F, DeletedWhileWaiting: f.DeletedWhileWaiting, Retried: f.Retried, AboveGranted: f.AboveGranted}
}

// operations are the history's operations, with every claim that server
// truth refutes as a known etcd issue taken as of unknown outcome: the
// client was told something that did not happen, and the registry says
// why. The models then judge everything else as they would.
func (c *checker) operations() []history.Operation {
	ops := c.ops
	known := map[int64]bool{}
	for _, nt := range c.truth {
		for _, k := range nt.known {
			known[k.Op] = true
		}
	}
	released := c.truthReleases()
	if len(known) == 0 && len(released) == 0 {
		return ops
	}
	ops = slices.Clone(ops) // the truth's findings keep the operations as recorded
	for i := range ops {
		if known[ops[i].ID] {
			ops[i].Outcome, ops[i].Return = history.Info, history.Never
		}
	}
	return append(ops, released...)
}

// truthReleases are releases that server truth proves and no client could
// record: the key that a lock or campaign of unknown outcome created, which
// the server deleted (its lease expired or was revoked) by the time the
// observer saw the delete. To the models each is a certain release of that
// key between the grant's invoke and that moment, so that a grant whose
// client never learned its fate does not seem to hold forever. They have no
// op id: accounts do not cite them as a client's operation.
func (c *checker) truthReleases() []history.Operation {
	var out []history.Operation
	for _, nt := range c.truth {
		fam := nt.family
		if fam == nil || len(fam.releases) == 0 {
			continue
		}
		release := fam.releaseF()
		for _, op := range nt.t.ops {
			if !op.Outcome.Unknown() || (op.F != history.FLock && op.F != history.FCampaign) || op.Input.Lease == 0 {
				continue
			}
			k := nt.t.queue.createdBy(op)
			if k == nil || k.deleted == inf {
				continue
			}
			out = append(out, history.Operation{Client: op.Client, F: release, Name: op.Name, Member: op.Member,
				Call: op.Call, Return: k.deletedAt, Completed: k.deletedAt, Outcome: history.Ok,
				Input: history.Value{Key: k.key, Rev: k.create, Lease: k.lease}})
		}
	}
	return out
}

// addTruth adds what server truth found to res: the known issues, in name
// order, and the unfenced hazard measured in revisions.
func (c *checker) addTruth(res *Result) {
	if c.truth == nil {
		return
	}
	res.Hazard.Truth = true
	names := make([]string, 0, len(c.truth))
	for name := range c.truth {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		nt := c.truth[name]
		res.KnownIssues = append(res.KnownIssues, nt.known...)
		for _, l := range nt.t.losses {
			res.Hazard.UnfencedAfterLoss++
			res.Hazard.MaxRevisionsAfterLoss = max(res.Hazard.MaxRevisionsAfterLoss, l.Revisions)
			res.Hazard.MaxNsAfterLoss = max(res.Hazard.MaxNsAfterLoss, l.AfterNs)
			res.Hazard.Losses = append(res.Hazard.Losses, l)
		}
	}
}

// truthLeases are the keys' leases as server truth recorded them (nil
// without server truth).
func truthLeases(h *history.History) map[string]int64 {
	if !h.Header.ServerTruth {
		return nil
	}
	leases := map[string]int64{}
	for i := range h.Events {
		if e := &h.Events[i]; e.Type == history.TypeServer && e.ServerFields != nil && e.Action == history.ServerPut && e.Lease != 0 {
			leases[e.Key] = e.Lease
		}
	}
	return leases
}

// KeySpan is one key of a name's queue as server truth recorded it: when it
// was created, became the oldest key (owned the lock or led), and was
// deleted.
type KeySpan struct {
	Key       string `json:"key"`
	Lease     int64  `json:"lease,omitempty"`
	Client    int    `json:"client,omitempty"` // the client granted it, if any
	CreateRev int64  `json:"create_rev"`
	OwnerRev  int64  `json:"owner_rev,omitempty"`  // 0: never the oldest
	DeleteRev int64  `json:"delete_rev,omitempty"` // 0: not deleted
	DeletedNs int64  `json:"deleted_ns,omitempty"` // when the observer saw the delete
}

// KeyTimeline returns the keys of name's lock or election queue that
// existed at some revision in [from, to], in create-revision order, for
// reports that show what a truth finding rests on.
func KeyTimeline(h *history.History, name string, from, to int64) []KeySpan {
	var lines []history.ServerEvent
	for _, s := range h.ServerEvents() {
		if s.Name == name && s.Role != history.RoleData {
			lines = append(lines, s)
		}
	}
	clients := map[[2]string]int{}
	for _, op := range h.Operations() {
		if op.Name == name && op.Outcome == history.Ok && (op.F == history.FLock || op.F == history.FCampaign) {
			clients[lifeID(op.Output.Key, op.Output.Rev)] = op.Client
		}
	}
	var out []KeySpan
	for _, k := range newQueue(lines).byRev {
		if k.create > to || k.deleted < from {
			continue
		}
		span := KeySpan{Key: k.key, Lease: k.lease, Client: clients[lifeID(k.key, k.create)], CreateRev: k.create}
		if k.owned() {
			span.OwnerRev = k.owner
		}
		if k.deleted != inf {
			span.DeleteRev, span.DeletedNs = k.deleted, k.deletedAt
		}
		out = append(out, span)
	}
	return out
}
