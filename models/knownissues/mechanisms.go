package knownissues

import (
	"math"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/ghost"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// campaignOutlivedItsLease is 19597's mechanism. With server truth: the
// campaign's key was deleted, seen before the campaign returned, while an
// older key still existed; every key its lease held then went with it, as
// a revoke or an expiry deletes them; the lease's death is on record (a
// revoke, a lease fault, a loss the client recorded); and its client
// released nothing of it. From the record alone: a death of the campaign's
// lease that certainly completed while it waited (a revoke that returned
// ok, a revoke-lease fault that recorded its end), while a key older than
// the campaign's, whose client had released nothing and whose lease had
// not died, still existed.
func campaignOutlivedItsLease(f models.Finding, ev *Evidence) ([]int64, bool) {
	op := ev.Op(f.Op)
	if op == nil || op.F != history.FCampaign || op.Outcome != history.Ok {
		return nil, false
	}
	switch {
	case f.Check == models.CheckTruth && f.Kind == models.FindingPhantomGrant:
		return []int64{op.ID}, ev.keyDiedWhileWaiting(op, f)
	case f.Kind == models.FindingModelRefusal:
		return []int64{op.ID}, ev.leaseDiedWhileWaiting(op)
	}
	return nil, false
}

// keyDiedWhileWaiting: see campaignOutlivedItsLease. The deletion came
// before the campaign returned: the observer saw it by then, or an
// operation that returned by then had seen its revision or a later one.
func (ev *Evidence) keyDiedWhileWaiting(op *history.Operation, f models.Finding) bool {
	if ev.Record == nil {
		return false
	}
	q := ev.Record.Queue(f.Name)
	k := q.Key(f.Key, f.CreateRev)
	if k == nil || k.Deleted == truth.Inf || k.DeletedAt >= op.Return && !ev.revisionSeenBefore(k.Deleted, op.Return) {
		return false
	}
	if j := q.Blocker(k); j == nil || j.Deleted <= k.Deleted {
		return false
	}
	return ev.lastKeyOfLease(k) && ev.leaseDied(k.Lease, op.Client, k.DeletedAt) && !ev.released(op.Client, k.Key, k.Create, op.Call, k.DeletedAt)
}

// lastKeyOfLease reports whether no other key of k's lease outlived k's
// deletion, in any queue: a lease's death deletes all its keys at once.
func (ev *Evidence) lastKeyOfLease(k *truth.Key) bool {
	for _, name := range ev.Record.Names() {
		for _, j := range ev.Record.Queue(name).Keys() {
			if j != k && j.Lease == k.Lease && j.Create < k.Deleted && j.Deleted > k.Deleted {
				return false
			}
		}
	}
	return true
}

// leaseDied reports whether the record shows lease's death by at: a revoke
// of it invoked by then (not one that failed), a fault that may end it
// started by then, or a loss its client recorded whose window opens by
// then.
func (ev *Evidence) leaseDied(lease int64, client int, at int64) bool {
	for i := range ev.Ops {
		op := &ev.Ops[i]
		if op.Input.Lease != lease || op.Outcome == history.Fail {
			continue
		}
		switch op.F {
		case history.FRevoke:
			if op.Call <= at {
				return true
			}
		case history.FLeaseLost:
			if op.Input.LastAlive == nil || *op.Input.LastAlive <= at {
				return true
			}
		}
	}
	for _, f := range ev.Faults {
		if f.Start <= at && history.FaultKindOf(f.Kind).Explains.Has(history.ExplainsLeaseDeath) &&
			(f.Lease == lease || f.Lease == 0 && f.Target == client) {
			return true
		}
	}
	return false
}

// released reports whether client invoked, between from (the invoke of the
// grant of the key's life created at create) and at, a release of that
// life that did not fail. (An unlock names only the key: an earlier
// cycle's is told apart by its time.)
func (ev *Evidence) released(client int, key string, create, from, at int64) bool {
	for i := range ev.Ops {
		op := &ev.Ops[i]
		if op.Client == client && (op.F == history.FResign || op.F == history.FUnlock) && op.Input.Key == key &&
			(op.Input.Rev == 0 || op.Input.Rev == create) && op.Call >= from && op.Call <= at && op.Outcome != history.Fail {
			return true
		}
	}
	return false
}

// leaseDiedWhileWaiting: see campaignOutlivedItsLease.
func (ev *Evidence) leaseDiedWhileWaiting(op *history.Operation) bool {
	lease := op.Output.Lease
	if lease == 0 {
		lease = op.Input.Lease
	}
	if lease == 0 || op.Output.Rev == 0 {
		return false
	}
	for _, d := range ev.certainDeaths(lease) {
		if d.start > op.Call && d.end < op.Return && ev.olderLeaderAt(op, lease, d.end) {
			return true
		}
	}
	return false
}

// death is a death of a lease that certainly completed: it began at start
// and was done by end.
type death struct{ start, end int64 }

// certainDeaths are lease's revokes that returned ok and revoke-lease
// faults that recorded their end.
func (ev *Evidence) certainDeaths(lease int64) []death {
	var out []death
	for i := range ev.Ops {
		if op := &ev.Ops[i]; op.F == history.FRevoke && op.Input.Lease == lease && op.Outcome == history.Ok {
			out = append(out, death{op.Call, op.Return})
		}
	}
	for _, f := range ev.Faults {
		kind := history.FaultKindOf(f.Kind)
		if f.Lease == lease && f.Ended && kind.OneShot && kind.Explains.Has(history.ExplainsLeaseDeath) {
			out = append(out, death{f.Start, f.End})
		}
	}
	return out
}

// olderLeaderAt reports whether, at time at, a key of another lease on
// op's election, created before op's key (by their create revisions),
// certainly still existed: granted by a campaign that returned ok, and
// neither released by its client nor ended with its lease by then.
func (ev *Evidence) olderLeaderAt(op *history.Operation, lease, at int64) bool {
	for i := range ev.Ops {
		y := &ev.Ops[i]
		if y.F != history.FCampaign || y.Outcome != history.Ok || y.Name != op.Name || y.Output.Lease == 0 ||
			y.Output.Lease == lease || y.Output.Rev == 0 || y.Output.Rev >= op.Output.Rev {
			continue
		}
		if !ev.released(y.Client, y.Output.Key, y.Output.Rev, y.Call, at) && !ev.leaseDied(y.Output.Lease, y.Client, at) {
			return true
		}
	}
	return false
}

// resignRetryForgotLeadership is 22123's mechanism: on the concurrency
// backend, a resign that returned ok after an earlier resign of the same
// key by the same client did not succeed, while the key stayed. Server
// truth shows the key stayed (a release that did not release); from the
// record alone, a leader read after the retry, involved in a porcupine
// violation, still returned the key.
func resignRetryForgotLeadership(f models.Finding, ev *Evidence) ([]int64, bool) {
	if ev.Header.Backend != "concurrency" {
		return nil, false
	}
	switch {
	case f.Check == models.CheckTruth && f.Kind == models.FindingNotReleased:
		if op := ev.Op(f.Op); op != nil && op.F == history.FResign && ev.retried(op) {
			return []int64{op.ID}, true
		}
	case f.Kind == models.FindingModelRefusal:
		if s := ev.retriedResignBefore(ev.Op(f.Op)); s != nil {
			return []int64{s.ID}, true
		}
	}
	return nil, false
}

// retried reports whether an earlier resign of the same key's life by the
// same client did not succeed (it failed or its outcome is unknown).
func (ev *Evidence) retried(s *history.Operation) bool {
	for i := range ev.Ops {
		e := &ev.Ops[i]
		if e.F == history.FResign && e.Client == s.Client && e.Call < s.Call && e.Input.Key == s.Input.Key &&
			e.Input.Rev == s.Input.Rev && e.Outcome != history.Ok {
			return true
		}
	}
	return false
}

// retriedResignBefore is the resign, retried after an earlier one did not
// succeed, that returned ok before read was invoked, of the key read
// returned, by the client that was granted that key: nil if there is none.
func (ev *Evidence) retriedResignBefore(read *history.Operation) *history.Operation {
	if read == nil || read.F != history.FLeader || read.Outcome != history.Ok || read.Output.Key == "" {
		return nil
	}
	var last *history.Operation
	for i := range ev.Ops {
		s := &ev.Ops[i]
		if s.F == history.FResign && s.Outcome == history.Ok && s.Name == read.Name && s.Input.Key == read.Output.Key &&
			s.Input.Rev == read.Output.Rev && s.Return < read.Call && ev.granted(s.Client, read.Output.Key, read.Output.Rev) {
			last = s
		}
	}
	if last == nil || !ev.retried(last) {
		return nil
	}
	return last
}

// granted reports whether client's campaign returned ok for the key's life.
func (ev *Evidence) granted(client int, key string, create int64) bool {
	for i := range ev.Ops {
		op := &ev.Ops[i]
		if op.Client == client && op.F == history.FCampaign && op.Outcome == history.Ok && op.Output.Key == key && op.Output.Rev == create {
			return true
		}
	}
	return false
}

// staleLeaderRevoked is the mechanism of 15247 and etcdchaos-1 (see
// staleLeaderMechanism): an early expiry whose renewal (the finding's
// operation) was invoked after a member that was leader stalled (its
// process paused, or its disk stalled), and whose deletion was seen after
// that member continued, within the time its queued revokes take to apply
// (see revokeWindow).
func staleLeaderRevoked(f models.Finding, ev *Evidence) ([]int64, bool) {
	if f.Check != models.CheckLease || f.Kind != models.FindingLeaseEarlyExpiry || ev.Record == nil {
		return nil, false
	}
	renewal := ev.Op(f.Op)
	k := ev.Record.Queue(f.Name).Key(f.Key, f.CreateRev)
	if renewal == nil || k == nil || k.Deleted == truth.Inf {
		return nil, false
	}
	for _, p := range ev.leaderStalls() {
		if renewal.Call > p.Start && k.DeletedAt >= p.End && k.DeletedAt <= p.End+ev.revokeWindow(p) {
			return nil, true
		}
	}
	return nil, false
}

// leaderStalls are the stalls of a member that was leader when it
// stalled, and that continued: its process paused, or its disk stalled.
// Either way its raft loop stands still, so it learns of the newer term
// only after it continued, and until then its lessor is still primary.
func (ev *Evidence) leaderStalls() []history.Fault {
	var out []history.Fault
	for _, f := range ev.Faults {
		if (f.Kind == history.KindPauseMember || f.Kind == history.KindStallDisk) && f.Leader && f.Ended {
			out = append(out, f)
		}
	}
	return out
}

// maxPendingRevokes is how many revokes of expired leases an etcd leader
// has in flight at once (etcdserver's revokeExpiredLeases).
const maxPendingRevokes = 16

// revokeWindow bounds how long after a stalled leader continued its revokes
// of the leases it saw expire may still apply: it queues them at once
// (before it hears of the newer term), at most maxPendingRevokes in flight,
// each waiting up to the request timeout to apply, so n leases take
// ceil(n/16) request timeouts, plus an election timeout for the step-down.
// n counts the leases renewed within a lease TTL before the pause or
// during it: those the stalled lessor holds.
func (ev *Evidence) revokeWindow(p history.Fault) int64 {
	from := p.Start - int64(ev.Timing.LeaseTTL)
	leases := map[int64]bool{}
	for i := range ev.Ops {
		if op := &ev.Ops[i]; op.F == history.FKeepAlive && op.Call >= from && op.Call <= p.End {
			leases[op.Input.Lease] = true
		}
	}
	batches := max(1, (len(leases)+maxPendingRevokes-1)/maxPendingRevokes)
	return int64(time.Duration(batches)*ev.Timing.RequestTimeout + ev.Timing.ElectionTimeout)
}

// foreverTTL is the TTL, in seconds, of a lease whose expiry is the
// lessor's "forever" (math.MaxInt64 ns), as a lessor that is not primary
// has it.
const foreverTTL = math.MaxInt64 / int64(time.Second)

// nonPrimaryLessorTTL is 17506's mechanism: a TimeToLive answer of
// foreverTTL while a fault that can move leadership was under way or had
// healed less than two election timeouts before the request.
func nonPrimaryLessorTTL(f models.Finding, ev *Evidence) ([]int64, bool) {
	op := ev.ttlAnswer(f)
	if op == nil || *op.Output.TTL != foreverTTL {
		return nil, false
	}
	for _, p := range ev.Faults {
		end := p.End
		if end != history.Never {
			end += int64(2 * ev.Timing.ElectionTimeout)
		}
		if history.FaultKindOf(p.Kind).MovesLeader && p.Start <= op.Return && op.Call <= end {
			return nil, true
		}
	}
	return nil, false
}

// promotedLessorTTL is etcdchaos-4's mechanism: a TimeToLive answer of
// foreverTTL, on a release that has 17506's fix, for a request in flight
// while a move-leader fault that completed handed leadership to its
// target, or sent within an election timeout after the move returned. The
// target takes requests as leader (directly, or forwarded by a follower)
// once raft made it leader, but its lessor is promoted only when it
// applies its term's first entry; until then every lease's expiry is
// forever. An answer that read the remaining time before Promote and asked
// Demoted() after it passes the check PR 17642 added. A leader change of
// another kind (a kill, a partition, a pause) stays a violation: its new
// leader's election is not bounded by a recorded end.
func promotedLessorTTL(f models.Finding, ev *Evidence) ([]int64, bool) {
	op := ev.ttlAnswer(f)
	if op == nil || *op.Output.TTL != foreverTTL {
		return nil, false
	}
	for _, p := range ev.Faults {
		if p.Kind == history.KindMoveLeader && p.Ended && op.Return >= p.Start && op.Call <= p.End+int64(ev.Timing.ElectionTimeout) {
			return nil, true
		}
	}
	return nil, false
}

// resumeSlack bounds how long before a stall's recorded end its member
// may have continued: the end is written as soon as SIGCONT was sent, or
// the disk released.
const resumeSlack = int64(100 * time.Millisecond)

// staleLessorTTL is etcdchaos-2's mechanism: a TimeToLive answer below -1
// for a request in flight when a member stalled as leader continued (it
// returned no earlier than resumeSlack before the stall's recorded end),
// or sent to that member within an election timeout after it continued,
// or, if its disk stalled, while it stalled: a paused process answers
// nothing, but one waiting on its disk answers from its lessor all along.
func staleLessorTTL(f models.Finding, ev *Evidence) ([]int64, bool) {
	op := ev.ttlAnswer(f)
	if op == nil || *op.Output.TTL >= -1 {
		return nil, false
	}
	for _, p := range ev.leaderStalls() {
		inFlight := op.Call <= p.End && op.Return >= p.End-resumeSlack
		direct := op.Member == p.Member && op.Call >= p.End && op.Call <= p.End+int64(ev.Timing.ElectionTimeout)
		during := p.Kind == history.KindStallDisk && op.Member == p.Member && op.Call >= p.Start && op.Call <= p.End
		if inFlight || direct || during {
			return nil, true
		}
	}
	return nil, false
}

// ttlAnswer is the TimeToLive answer a TTL finding refutes, nil for any
// other finding.
func (ev *Evidence) ttlAnswer(f models.Finding) *history.Operation {
	if f.Check != models.CheckLease || f.Kind != models.FindingLeaseTTLOutOfRange {
		return nil
	}
	op := ev.Op(f.Op)
	if op == nil || op.F != history.FLeaseTTL || op.Outcome != history.Ok || op.Output.TTL == nil {
		return nil
	}
	return op
}

// unlockRetryDeletedNewerLock is the mechanism of 22082 (backend
// concurrency: concurrency.Mutex.Unlock) and of etcdchaos-3 (backend grpc:
// the v3lock service's Unlock), from server truth alone: a lock client
// held a key K with create revision R2 (its lock returned ok) and, while it
// held it, retried an unlock of an earlier hold of K (revision R1 < R2)
// after an earlier attempt did not succeed; the server deleted K(R2) after
// that retry was invoked, and nothing else could have: the lease lived on
// (a key of it created after the deletion, or a revoke of it that returned
// ok, invoked after the deletion was seen and answered at or after its
// revision), the client's own unlocks of R2 came after the deletion, and no
// other client's release was in flight between the retry and the deletion.
// The finding must be a porcupine refusal on K's name of the holder's lock,
// of the retry, or of a grant to another client whose key became the oldest
// at the deletion. The claim the bug made false is the holder's lock.
func unlockRetryDeletedNewerLock(backend string) func(models.Finding, *Evidence) ([]int64, bool) {
	return func(f models.Finding, ev *Evidence) ([]int64, bool) {
		op := ev.Op(f.Op)
		if ev.Header.Backend != backend || ev.Record == nil || f.Kind != models.FindingModelRefusal || op == nil {
			return nil, false
		}
		for _, s := range ev.staleUnlocksOn(op.Name) {
			if op == s.lock || op == s.unlock || ev.grantedAt(op, s.key) {
				return []int64{s.lock.ID}, true
			}
		}
		return nil, false
	}
}

// staleUnlock is an unlock of an earlier hold that deleted its client's
// newer hold: the grant of that hold and its key's life.
type staleUnlock struct {
	unlock, lock *history.Operation
	key          *truth.Key
}

// staleUnlocksOn are the stale unlocks on name (see
// unlockRetryDeletedNewerLock), found once per history.
func (ev *Evidence) staleUnlocksOn(name string) []staleUnlock {
	if ev.staleUnlocks == nil {
		ev.staleUnlocks = map[string][]staleUnlock{}
		for i := range ev.Ops {
			u := &ev.Ops[i]
			if u.F != history.FUnlock || u.Input.Rev == 0 || u.Outcome == history.Fail {
				continue
			}
			if lock, k := ev.newerHoldDeletedBy(u); lock != nil {
				ev.staleUnlocks[u.Name] = append(ev.staleUnlocks[u.Name], staleUnlock{u, lock, k})
			}
		}
	}
	return ev.staleUnlocks[name]
}

// newerHoldDeletedBy is the lock grant, and its key's life, that the
// unlock u of an earlier hold deleted (see unlockRetryDeletedNewerLock);
// nil if the evidence does not show it.
func (ev *Evidence) newerHoldDeletedBy(u *history.Operation) (*history.Operation, *truth.Key) {
	var lock *history.Operation // u's client's latest grant of u's key before u
	for i := range ev.Ops {
		l := &ev.Ops[i]
		if l.Client == u.Client && l.F == history.FLock && l.Outcome == history.Ok && l.Output.Key == u.Input.Key && l.Return < u.Call &&
			(lock == nil || l.Return > lock.Return) {
			lock = l
		}
	}
	if lock == nil || lock.Output.Rev <= u.Input.Rev || !ev.retriedUnlock(u, lock) {
		return nil, nil
	}
	q := ev.Record.Queue(u.Name)
	k := q.Key(lock.Output.Key, lock.Output.Rev)
	if k == nil || k.Deleted == truth.Inf || k.DeletedAt <= u.Call || !q.Complete(k.Create, k.Deleted) {
		return nil, nil
	}
	if !ev.leaseOutlived(k) || ev.otherDeleterOf(u, k) {
		return nil, nil
	}
	return lock, k
}

// retriedUnlock reports whether an earlier unlock of the same hold as u, by
// the same client, did not succeed before lock, the client's newer grant,
// was invoked (an unknown outcome's Return is the end of time: its client
// gave up at Completed).
func (ev *Evidence) retriedUnlock(u, lock *history.Operation) bool {
	for i := range ev.Ops {
		e := &ev.Ops[i]
		if e.F == history.FUnlock && e.Client == u.Client && e.Input.Key == u.Input.Key && e.Input.Rev == u.Input.Rev &&
			e.Outcome != history.Ok && e.Completed <= lock.Call {
			return true
		}
	}
	return false
}

// leaseOutlived reports whether k's lease outlived k's deletion: a key of
// it was created after, or a revoke of it invoked after the deletion was
// seen returned ok at or after its revision (a revoke finds only a live
// lease).
func (ev *Evidence) leaseOutlived(k *truth.Key) bool {
	for _, name := range ev.Record.Names() {
		for _, j := range ev.Record.Queue(name).Keys() {
			if j.Lease == k.Lease && j.Create > k.Deleted {
				return true
			}
		}
	}
	for i := range ev.Ops {
		r := &ev.Ops[i]
		if r.F == history.FRevoke && r.Input.Lease == k.Lease && r.Outcome == history.Ok && r.Call > k.DeletedAt && r.Output.HeaderRev >= k.Deleted {
			return true
		}
	}
	return false
}

// otherDeleterOf reports whether anything but u may have deleted k: an
// unlock of k's own life (or of a life it does not name) by u's client
// invoked before the deletion was seen and not after its revision was seen,
// or another client's unlock or resign of k, or of any key in flight
// between u's invoke and the deletion (a release deletes the key it names,
// but not every client need be what it claims).
func (ev *Evidence) otherDeleterOf(u *history.Operation, k *truth.Key) bool {
	for i := range ev.Ops {
		o := &ev.Ops[i]
		if o == u || (o.F != history.FUnlock && o.F != history.FResign) || o.Outcome == history.Fail || o.Call >= k.DeletedAt {
			continue
		}
		switch {
		case o.Client != u.Client:
			if o.Input.Key == k.Key || o.Completed > u.Call {
				return true
			}
		case o.Input.Key == k.Key && (o.Input.Rev == 0 || o.Input.Rev == k.Create):
			if !ev.revisionSeenBefore(k.Deleted, o.Call) {
				return true
			}
		}
	}
	return false
}

// grantedAt reports whether op is another client's lock that returned ok
// with a key that became the oldest when k was deleted.
func (ev *Evidence) grantedAt(op *history.Operation, k *truth.Key) bool {
	if op.F != history.FLock || op.Outcome != history.Ok || op.Output.Key == k.Key {
		return false
	}
	j := ev.Record.Queue(op.Name).Key(op.Output.Key, op.Output.Rev)
	return j != nil && j.Owned() && j.Owner == k.Deleted
}

// campaignCompactionLeftKey is 21128's mechanism: a ghost leader (see
// package ghost) whose campaign returned etcd's compaction error, on a
// backend that runs concurrency.Election (the client library's, or the
// v3election service's copy). It withdraws nothing: the finding is the
// key left behind, not a claim another check judged.
func campaignCompactionLeftKey(f models.Finding, ev *Evidence) ([]int64, bool) {
	if f.Check != models.CheckGhost || f.Kind != models.FindingGhostLeader {
		return nil, false
	}
	if b := ev.Header.Backend; b != "concurrency" && b != "grpc" {
		return nil, false
	}
	op := ev.Op(f.Op)
	return nil, op != nil && op.F == history.FCampaign && ghost.CompactionError(op.Error)
}

// halfRevokedLease is 14758's mechanism: a TimeToLive answer found the
// lease alive (a TTL above 0, with the TTL it was granted) but listed only
// a tail of the extra keys attached to it before the question, in key
// order: every key from some index on and none before it, or none at all;
// while a revoke of the lease that certainly completed was in flight
// (invoked, or its fault started, before the answer returned; done, ok or
// the fault's end recorded, after the question was asked). lessor.Revoke
// deletes a lease's keys one by one in key order and only then removes the
// lease from the lessor's map; meanwhile the lessor answers for the lease
// as alive, and a keep-alive renews it. The finding is the lease check's
// refusal of that answer: keys partly gone. The answer's claim misleads no other check (lease answers prove
// nothing to them), so no claim is withdrawn.
func halfRevokedLease(f models.Finding, ev *Evidence) ([]int64, bool) {
	if f.Check != models.CheckLease || f.Kind != models.FindingLeaseKeysPartlyGone {
		return nil, false
	}
	op := ev.Op(f.Op)
	if op == nil || op.F != history.FLeaseTTL || op.Outcome != history.Ok || op.Output.TTL == nil || *op.Output.TTL <= 0 ||
		op.Output.GrantedTTL == 0 || op.Output.Keys == nil {
		return nil, false
	}
	attached, ok := ev.keysAttachedBefore(op.Input.Lease, op.Call)
	listed, from := *op.Output.Keys, op.Output.KeysFrom
	tail := listed == 0 || from > 0 && from+listed == attached
	if !ok || listed >= attached || !tail {
		return nil, false
	}
	for _, d := range ev.certainDeaths(op.Input.Lease) {
		if d.start <= op.Return && d.end >= op.Call {
			return nil, true
		}
	}
	return nil, false
}

// keysAttachedBefore is how many extra keys the latest attach of lease
// that returned ok before t put with it.
func (ev *Evidence) keysAttachedBefore(lease, t int64) (int64, bool) {
	var latest *history.Operation
	for i := range ev.Ops {
		op := &ev.Ops[i]
		if op.F == history.FAttach && op.Input.Lease == lease && op.Outcome == history.Ok && op.Return < t &&
			op.Input.Keys != nil && (latest == nil || op.Return > latest.Return) {
			latest = op
		}
	}
	if latest == nil {
		return 0, false
	}
	return *latest.Input.Keys, true
}
