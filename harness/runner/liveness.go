package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// livenessSlack is added to a few lease TTLs to bound the liveness check:
// after healing, keys of leases that nobody keeps alive expire within a TTL,
// and a new leader is elected within a few election timeouts.
const livenessSlack = 15 * time.Second

// checkLiveness proves that, after healing, every lock can be acquired and
// every election won within a bounded time.
func (r *run) checkLiveness(ctx context.Context) models.CheckResult {
	start := time.Now()
	bound := 3*r.sc.LeaseTTL + livenessSlack
	r.logf("checking liveness (within %v)", bound)
	res := models.CheckResult{Check: models.CheckLiveness, Name: "cluster", Verdict: models.Ok}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var done []string
	err := r.tryLiveness(ctx, &done)
	res.Ops = len(done)
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Verdict, res.Fails = models.Violation, true
		res.Account = fmt.Sprintf("within %v after healing, %v (succeeded first: %s)",
			bound, err, strings.Join(done, ", "))
	}
	r.logf("liveness: %s %s", res.Verdict, res.Account)
	return res
}

func (r *run) tryLiveness(ctx context.Context, done *[]string) error {
	if _, err := r.cluster.WaitLeader(ctx); err != nil {
		return fmt.Errorf("no leader was elected: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: r.cluster.Endpoints(), DialTimeout: 5 * time.Second, Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("liveness client: %w", err)
	}
	defer cli.Close()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(int(r.sc.LeaseTTL.Seconds()+0.5)), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("no session could be opened: %w", err)
	}
	defer sess.Close()
	for _, w := range r.loads {
		cfg := w.Config()
		for _, name := range w.Names() {
			if err := acquire(ctx, sess, cfg.Kind, cfg.EtcdName(name)); err != nil {
				return fmt.Errorf("%s %s could not be acquired: %w", cfg.Kind, name, err)
			}
			*done = append(*done, fmt.Sprintf("%s %s", cfg.Kind, name))
		}
	}
	return nil
}

// acquire locks and unlocks a lock, or wins and resigns an election.
func acquire(ctx context.Context, sess *concurrency.Session, kind workloads.Kind, prefix string) error {
	if kind == workloads.KindElection {
		e := concurrency.NewElection(sess, prefix)
		if err := e.Campaign(ctx, "liveness"); err != nil {
			return err
		}
		return e.Resign(ctx)
	}
	m := concurrency.NewMutex(sess, prefix)
	if err := m.Lock(ctx); err != nil {
		return err
	}
	return m.Unlock(ctx)
}

func quietLogger() *zap.Logger { return zap.NewNop() }

// waiterSlack is added to two lease TTLs to bound how long a waiter may take
// to return once every key ahead of it is gone: a correct Lock or Campaign
// returns within a round trip, and the slack absorbs a busy machine.
const waiterSlack = 5 * time.Second

// waiterBound is how long, after every key ahead of its key was deleted and
// with no fault in the way, a Lock or Campaign may still wait.
func waiterBound(leaseTTL time.Duration) time.Duration { return 2*leaseTTL + waiterSlack }

// stuckWaiter is a client whose Lock or Campaign did not return although,
// per server truth, its key had become the oldest of its queue.
type stuckWaiter struct {
	op    history.Operation
	key   queueKey // the waiter's key
	ahead queueKey // the key ahead of it that was deleted last
	from  int64    // when the wait should have ended: ahead's delete, or the end of a fault after it
	until int64    // when the client stopped waiting or its key went, or the end of the history
}

func (s stuckWaiter) String() string {
	return fmt.Sprintf("client %d's %s on %s (op %d) did not return: its key %s (created at revision %d) "+
		"became the oldest when %s (created at revision %d) was deleted at revision %d, and it still waited %.1fs later",
		s.op.Client, s.op.F, s.op.Name, s.op.ID, s.key.key, s.key.createRev,
		s.ahead.key, s.ahead.createRev, s.ahead.deleteRev, float64(s.until-s.from)/float64(time.Second))
}

// queueKey is one life of a key in a lock's or election's queue, per server
// truth.
type queueKey struct {
	key       string
	createRev int64
	lease     int64
	created   int64 // when the observer saw its creation
	deleteRev int64 // 0 while it exists
	deleted   int64 // when the observer saw its delete
}

// stuckWaiters finds, in a history's server truth, the waiters that never
// woke up. A key K of a queue is a stuck waiter's when every older key of
// the queue was deleted, the last at revision D, while K outlived D; the
// client's lock or campaign that created K (same name and lease) was still
// waiting, with no ok, and K was still there, more than bound after the
// later of D's and K's sightings and the end of any fault that could delay
// it (a cluster fault, or one aimed at that client). A client that gave up,
// or was stopped at the end of the run, within the bound is not stuck;
// neither is one whose key died with its lease before D or within the
// bound. A queue with a gap in its record is not judged, and a key
// no operation claims (the liveness check's own) is not either. Clients
// give up a wait after their wait timeout (three lease TTLs by default), so
// a wait shows as stuck only if its key became the oldest early enough in
// it, or if the client ignores its deadline.
func stuckWaiters(h *history.History, bound time.Duration) []stuckWaiter {
	type queue struct{ name, role string }
	keys := map[queue][]*queueKey{}
	live := map[string]*queueKey{} // key -> its current life
	gapped := map[queue]bool{}
	for _, s := range h.ServerEvents() {
		q := queue{s.Name, s.Role}
		if s.Role != history.RoleLock && s.Role != history.RoleElection {
			continue
		}
		switch s.Event {
		case history.ServerGap:
			gapped[q] = true
		case history.ServerPut:
			if k := live[s.Key]; k != nil && k.createRev == s.CreateRev {
				continue // a new value, as a proclaim writes
			}
			k := &queueKey{key: s.Key, createRev: s.CreateRev, lease: s.Lease, created: s.Time}
			live[s.Key] = k
			keys[q] = append(keys[q], k)
		case history.ServerDelete:
			if k := live[s.Key]; k != nil && k.createRev == s.CreateRev {
				k.deleteRev, k.deleted = s.Rev, s.Time
				delete(live, s.Key)
			}
		}
	}
	ops := h.Operations()
	faults := h.Faults() // in start order
	end := h.EndTime()
	var stuck []stuckWaiter
	for q, ks := range keys {
		if gapped[q] {
			continue
		}
		sort.Slice(ks, func(i, j int) bool { return ks[i].createRev < ks[j].createRev })
		var ahead *queueKey // the older key deleted last
		for i, k := range ks {
			if i > 0 {
				prev := ks[i-1]
				if prev.deleteRev == 0 {
					break // it is still there: no later key ever became the oldest
				}
				if ahead == nil || prev.deleteRev > ahead.deleteRev {
					ahead = prev
				}
			}
			if ahead == nil || (k.deleteRev != 0 && k.deleteRev <= ahead.deleteRev) {
				continue
			}
			op, ok := waiterOp(ops, q.name, q.role, k)
			if !ok || op.Outcome == history.Ok {
				continue
			}
			until := end
			if op.Outcome != history.Pending {
				until = op.Completed
			}
			if k.deleteRev != 0 {
				until = min(until, k.deleted) // a waiter only while its key is there
			}
			from := undisturbedFrom(faults, op.Client, max(ahead.deleted, k.created), bound)
			if from != history.Never && until-from > int64(bound) {
				stuck = append(stuck, stuckWaiter{op: op, key: *k, ahead: *ahead, from: from, until: until})
			}
		}
	}
	sort.Slice(stuck, func(i, j int) bool { return stuck[i].op.ID < stuck[j].op.ID })
	return stuck
}

// waiterOp is the lock (or campaign) that created k: the last one on the
// queue's name with k's lease invoked before k was seen.
func waiterOp(ops []history.Operation, name, role string, k *queueKey) (history.Operation, bool) {
	f := history.FLock
	if role == history.RoleElection {
		f = history.FCampaign
	}
	var found history.Operation
	ok := false
	for _, op := range ops {
		if op.Call > k.created {
			break // operations are in invoke order
		}
		if op.F == f && op.Name == name && op.Input.Lease == k.lease && k.lease != 0 {
			found, ok = op, true
		}
	}
	return found, ok
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

// checkWaiters adds the stuck waiters that the recorded server truth shows
// to the liveness verdict: the truth is complete only once the run is over,
// so this runs on the history read back.
func (r *run) checkWaiters(h *history.History, live *models.CheckResult) {
	bound := waiterBound(time.Duration(h.Header.LeaseTTLMs) * time.Millisecond)
	stuck := stuckWaiters(h, bound)
	if len(stuck) == 0 {
		return
	}
	accounts := make([]string, 0, len(stuck)+1)
	if live.Account != "" {
		accounts = append(accounts, live.Account)
	}
	for _, s := range stuck {
		accounts = append(accounts, s.String()+fmt.Sprintf(" (bound %v)", bound))
		live.Evidence = append(live.Evidence, s.op.ID)
		live.Revisions = append(live.Revisions, s.key.createRev, s.ahead.deleteRev)
	}
	live.Verdict, live.Fails = models.Violation, true
	live.Account = strings.Join(accounts, "; ")
	r.logf("liveness: %s %s", live.Verdict, live.Account)
	if live.At == 0 {
		live.At = stuck[0].from
	}
}
