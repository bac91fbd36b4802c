package truth

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// Check holds every claim on every name to the record, one result per name
// that has operations: the claims the record refutes are its findings (not
// yet classified: see package verdict), and the claims a gap kept from
// being checked are counted as undecided.
//
//   - A grant (lock or campaign ok) must be of a key that was at some
//     revision the oldest of its queue.
//   - A write ok must be in the record with its data at its revision; a
//     fenced one must land while its key owned the lock, an unfenced one
//     while its key owned it or after the key had owned it (a stale write,
//     judged by the hazard package).
//   - A proclaim ok must be in the record.
//   - A key released by an unlock or resign ok must not be seen by an
//     operation invoked after the release returned.
//   - A linearizable answer must not be older than a revision committed
//     before its invoke (see staleRead).
func Check(rec *Record, all []history.Operation) []models.CheckResult {
	proofs := newRevisionProofs(all)
	commits := newCommits(rec.observed, all)
	byName := map[string][]*history.Operation{}
	var names []string
	for i := range all {
		op := &all[i]
		if op.Name == "" || !claimOp(op.F) {
			continue
		}
		if byName[op.Name] == nil {
			names = append(names, op.Name)
		}
		byName[op.Name] = append(byName[op.Name], op)
	}
	sort.Strings(names)
	out := make([]models.CheckResult, 0, len(names))
	for _, name := range names {
		start := time.Now()
		ops := byName[name]
		t := checkName(name, ops, rec.Queue(name), rec.Data(name), proofs, commits)
		r := models.ContractResult(models.CheckTruth, name, len(ops), t.findings, t.undecided,
			fmt.Sprintf("%d claims on %s could not be checked: a gap in the server truth covers the revisions they need", t.undecided, name))
		r.Elapsed = time.Since(start)
		out = append(out, r)
	}
	return out
}

// claimOp reports whether operations of function f make claims about a
// name's keys.
func claimOp(f string) bool {
	switch f {
	case history.FLock, history.FUnlock, history.FWrite, history.FCampaign, history.FProclaim, history.FResign, history.FLeader:
		return true
	}
	return false
}

// truthChecker checks the claims on one name.
type truthChecker struct {
	name    string
	ops     []*history.Operation // the name's operations, in invoke order
	queue   *Queue
	data    *Queue
	proofs  *revisionProofs
	commits commits        // what was committed by when, for stale reads
	holders map[lifeID]int // key and create revision -> client that was granted it
	// leaderReads are the leader reads that returned each key, by invoke
	// time.
	leaderReads map[lifeID][]*history.Operation
	findings    []models.Finding
	undecided   int
}

// checkName checks every claim on one name against its queue and data.
func checkName(name string, ops []*history.Operation, queue, data *Queue, proofs *revisionProofs, commits commits) *truthChecker {
	t := &truthChecker{name: name, ops: ops, queue: queue, data: data, proofs: proofs, commits: commits, holders: map[lifeID]int{}}
	t.leaderReads = map[lifeID][]*history.Operation{}
	for _, op := range ops { // in invoke order
		switch {
		case op.Outcome != history.Ok:
		case op.F == history.FLock || op.F == history.FCampaign:
			t.holders[lifeID{op.Output.Key, op.Output.Rev}] = op.Client
		case op.F == history.FLeader && op.Output.Key != "":
			id := lifeID{op.Output.Key, op.Output.Rev}
			t.leaderReads[id] = append(t.leaderReads[id], op)
		}
	}
	lockKey := map[int]history.Value{} // client -> its last granted lock key
	for _, op := range ops {
		t.staleRead(op)
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
			rev := op.Input.Rev // older histories' unlocks name only the key
			if rev == 0 && op.F == history.FUnlock && lockKey[op.Client].Key == op.Input.Key {
				rev = lockKey[op.Client].Rev
			}
			if op.Outcome == history.Ok {
				t.release(op, rev)
			}
		}
	}
	return t
}

func (t *truthChecker) find(f models.Finding) {
	f.Name = t.name
	t.findings = append(t.findings, f)
}

// grant checks that the key a lock or campaign was granted was at some
// revision the oldest key of its queue.
func (t *truthChecker) grant(op *history.Operation) {
	c := op.Output.Rev
	k := t.queue.Key(op.Output.Key, c)
	who := fmt.Sprintf("client %d's %s of %s", op.Client, op.F, t.name)
	if k == nil {
		if !t.queue.Complete(c-1, c) {
			t.undecided++
			return
		}
		t.find(models.Finding{Kind: models.FindingPhantomGrant, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
			Revisions: []int64{c},
			Account: fmt.Sprintf("%s returned ok at %s for key %s created at revision %d, but the server never created that key at that revision",
				who, models.Secs(op.Return), op.Output.Key, c)})
		return
	}
	if k.Owned() {
		return
	}
	j := t.queue.Blocker(k)
	end := min(k.Deleted, t.queue.Last())
	if j == nil || !t.queue.Complete(j.Create, end) {
		t.undecided++
		return
	}
	f := models.Finding{Kind: models.FindingPhantomGrant, F: op.F, Op: op.ID, At: op.Return, Evidence: t.evidence(op, j),
		Key: k.Key, CreateRev: k.Create, Lease: k.Lease}
	if k.Deleted == Inf {
		f.Revisions = []int64{j.Create, k.Create}
		f.Account = fmt.Sprintf("%s returned ok at %s for key %s (created at revision %d), but the older key %s (%screated at revision %d) still existed when the record ends at revision %d: %s was never the oldest key, so it never %s %s",
			who, models.Secs(op.Return), k.Key, k.Create, j.Key, t.whose(j), j.Create, t.queue.Last(), short(k.Key), ownVerb(op.F), t.name)
	} else {
		f.Revisions = []int64{j.Create, k.Create, k.Deleted}
		f.Account = fmt.Sprintf("%s returned ok at %s for key %s (created at revision %d), but the server deleted that key at revision %d (seen at %s) while the older key %s (%screated at revision %d) %s: %s was never the oldest key, so it never %s %s",
			who, models.Secs(op.Return), k.Key, k.Create, k.Deleted, models.Secs(k.DeletedAt), j.Key, t.whose(j), j.Create, stillExisted(j), short(k.Key), ownVerb(op.F), t.name)
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
	k := t.queue.Key(op.Input.Key, op.Input.Rev)
	if k == nil {
		return // the grant's own check speaks for a key the server never had
	}
	if k.Owner <= w && w < k.Deleted {
		return
	}
	who := fmt.Sprintf("client %d's %s write to %s", op.Client, fencing(op), t.name)
	switch {
	case op.Input.IsFenced() && w >= k.Deleted:
		t.find(models.Finding{Kind: models.FindingFencedOutside, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
			Revisions: []int64{k.Create, k.Deleted, w},
			Account: fmt.Sprintf("%s landed at revision %d, guarded by key %s (created at revision %d), which the server had deleted at revision %d",
				who, w, k.Key, k.Create, k.Deleted)})
	case k.Owned() && w >= k.Deleted:
		// The key owned the lock, then was lost: a stale write, which the
		// hazard package explains or not, not a claim the truth refutes.
	default: // before the key owned the lock, or from a key that never did
		j := t.queue.OwnerAt(w)
		lo := k.Create
		if j != nil {
			lo = min(lo, j.Create)
		}
		if !t.queue.Complete(lo, w) {
			t.undecided++
			return
		}
		kind := models.FindingFencedOutside
		if !op.Input.IsFenced() {
			kind = models.FindingUnfencedNotOwner
		}
		owner := "no key owned " + t.name + " then"
		ev := []int64{op.ID}
		revs := []int64{k.Create, w}
		if j != nil {
			owner = fmt.Sprintf("%s (created at revision %d) owned %s then", t.keyDesc(j), j.Create, t.name)
			ev = t.evidence(op, j)
			revs = []int64{j.Create, k.Create, w}
		}
		never := ""
		if !k.Owned() {
			never = ", and never was"
		}
		t.find(models.Finding{Kind: kind, F: op.F, Op: op.ID, At: op.Return, Evidence: ev, Revisions: revs,
			Account: fmt.Sprintf("%s landed at revision %d, when its key %s (created at revision %d) was not the oldest key%s: %s",
				who, w, k.Key, k.Create, never, owner)})
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
	if !t.data.Complete(w-1, w) {
		t.undecided++
		return
	}
	t.find(models.Finding{Kind: models.FindingLostWrite, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
		Revisions: []int64{w},
		Account: fmt.Sprintf("client %d's write of %q to %s returned ok at %s with revision %d, but the server applied no such write at revision %d",
			op.Client, op.Input.Data, t.name, models.Secs(op.Return), w, w)})
}

// proclaim checks that a proclamation that succeeded is in the truth: a put
// of the leader key with its value.
func (t *truthChecker) proclaim(op *history.Operation) {
	k := t.queue.Key(op.Input.Key, op.Input.Rev)
	if k != nil {
		for _, v := range k.Values {
			if v == op.Input.Value {
				return
			}
		}
	}
	if !t.queue.Complete(op.Input.Rev-1, min(t.queue.Last(), deletedOr(k, t.queue.Last()))) {
		t.undecided++
		return
	}
	t.find(models.Finding{Kind: models.FindingLostProclaim, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID},
		Revisions: []int64{op.Input.Rev},
		Account: fmt.Sprintf("client %d's proclaim of %q on %s returned ok at %s, but the server never wrote that value to key %s (created at revision %d)",
			op.Client, op.Input.Value, t.name, models.Secs(op.Return), op.Input.Key, op.Input.Rev)})
}

// release checks that a key an unlock or resign released was gone by the
// time the release returned: no operation invoked after it may see it.
func (t *truthChecker) release(op *history.Operation, create int64) {
	k := t.queue.Key(op.Input.Key, create)
	if k == nil {
		return
	}
	p, ok := t.proofs.firstAfter(op.Return)
	if !ok || p.rev < k.Create || p.rev >= k.Deleted || !t.queue.Complete(k.Create, p.rev) {
		if p, ok = t.leaderReadAfter(op.Return, k); !ok {
			return
		}
	}
	gone := "was still there when the record ends"
	revs := []int64{k.Create, p.rev}
	if k.Deleted != Inf {
		gone = fmt.Sprintf("was deleted only at revision %d (seen at %s)", k.Deleted, models.Secs(k.DeletedAt))
		revs = append(revs, k.Deleted)
	}
	t.find(models.Finding{Kind: models.FindingNotReleased, F: op.F, Op: op.ID, At: op.Return, Evidence: []int64{op.ID, p.op},
		Revisions: revs, Key: k.Key, CreateRev: k.Create, Lease: k.Lease,
		Account: fmt.Sprintf("client %d's %s of %s returned ok at %s, but its key %s (created at revision %d) %s: op %d, invoked after that at %s, read revision %d, when the key still existed",
			op.Client, op.F, t.name, models.Secs(op.Return), k.Key, k.Create, gone, p.op, models.Secs(p.call), p.rev)})
}

// leaderReadAfter finds a leader read invoked after t that returned key k:
// the key existed after t.
func (t *truthChecker) leaderReadAfter(at int64, k *Key) (revisionProof, bool) {
	reads := t.leaderReads[lifeID{k.Key, k.Create}]
	i := sort.Search(len(reads), func(i int) bool { return reads[i].Call > at })
	if i == len(reads) {
		return revisionProof{}, false
	}
	o := reads[i]
	return revisionProof{op: o.ID, call: o.Call, rev: max(o.Output.HeaderRev, o.Output.ModRev)}, true
}

// evidence lists op and the operation that was granted key j, if any.
func (t *truthChecker) evidence(op *history.Operation, j *Key) []int64 {
	ids := []int64{op.ID}
	for _, o := range t.ops {
		if o.Outcome == history.Ok && (o.F == history.FLock || o.F == history.FCampaign) &&
			o.Output.Key == j.Key && o.Output.Rev == j.Create {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

func (t *truthChecker) keyDesc(k *Key) string {
	if c := t.holders[lifeID{k.Key, k.Create}]; c != 0 {
		return fmt.Sprintf("client %d's key %s", c, k.Key)
	}
	return "key " + k.Key
}

// whose names the client that was granted k, as "client 3's, ".
func (t *truthChecker) whose(k *Key) string {
	if c := t.holders[lifeID{k.Key, k.Create}]; c != 0 {
		return fmt.Sprintf("client %d's, ", c)
	}
	return ""
}

func stillExisted(j *Key) string {
	if j.Deleted == Inf {
		return "was never deleted"
	}
	return fmt.Sprintf("was deleted only at revision %d", j.Deleted)
}

func deletedOr(k *Key, or int64) int64 {
	if k == nil || k.Deleted == Inf {
		return or
	}
	return k.Deleted
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
		// Lease answers are not linearizable reads: a member may answer
		// from an applied revision behind the cluster's, so their
		// revisions prove nothing about the time after their invoke.
		if op.Outcome != history.Ok || !claimOp(op.F) {
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
