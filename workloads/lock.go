package workloads

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// lockCycle runs one intent of a lock client: lock (or TryLock), the writes
// of the critical section, unlock.
func (c *Client) lockCycle(ctx context.Context, in Intent) {
	name := c.w.names[in.Name]
	c.recent = name
	if !c.step(ctx, in.Think[0]) || !c.ensureLease(ctx) {
		return
	}
	held, ok := c.lock(ctx, name, in.Try)
	if !ok {
		return
	}
	c.retryStaleUnlock(ctx, held)
	for i, fenced := range in.Fenced {
		if !c.step(ctx, in.Think[1+i]) {
			return // keep the lock: the run is over or the lease is lost
		}
		if c.lease == nil {
			return
		}
		if !c.write(ctx, name, held, fenced) {
			break
		}
	}
	if !c.step(ctx, in.Think[len(in.Think)-1]) || c.lease == nil {
		return
	}
	c.unlock(ctx, name, held)
}

// lock records one lock (or TryLock) operation; ok means the lock is held.
func (c *Client) lock(ctx context.Context, name string, try bool) (Held, bool) {
	lease := c.backendLease()
	op, at, ok := c.begin(history.FLock, name, &history.Value{Lease: int64(lease.ID)})
	if !ok {
		return Held{}, false
	}
	lctx, cancel := c.opCtx(ctx, !try)
	var held Held
	var err error
	if tl, can := c.locker.(TryLocker); try && can {
		held, err = tl.TryLock(lctx, c.w.cfg.EtcdName(name), lease)
	} else {
		c.setWaiting(name)
		held, err = c.locker.Lock(lctx, c.w.cfg.EtcdName(name), lease)
		c.setWaiting("")
	}
	cancel()
	out := &history.Value{Key: held.Key, Rev: held.Rev, Lease: int64(lease.ID), HeaderRev: held.Header}
	switch c.complete(op, err, out) {
	case history.Ok:
		c.proved(at)
		c.setHolding(name)
		return held, true
	case history.Fail:
		if leaseNotFound(err) {
			c.checkLease(ctx, true)
		}
	default:
		c.abandonLease(ctx, name, c.w.cfg.OpTimeout)
	}
	return Held{}, false
}

// write records one write of the critical section: a txn guarded by the
// lock key's create revision if fenced, a plain put otherwise. It returns
// false when the critical section should end (a false guard means the lock
// is lost).
func (c *Client) write(ctx context.Context, name string, held Held, fenced bool) bool {
	data := c.nextValue()
	in := &history.Value{Key: held.Key, Rev: held.Rev, Fenced: history.Bool(fenced), Data: data}
	op, at, ok := c.begin(history.FWrite, name, in)
	if !ok {
		return false
	}
	wctx, cancel := c.opCtx(ctx, false)
	defer cancel()
	key := c.w.cfg.resourceKey(name)
	var rev int64
	var err error
	if fenced {
		rev, err = c.writeFenced(wctx, held, key, data)
		if errors.Is(err, ErrFenceRejected) {
			c.record(op, history.Fail, nil, err.Error())
			c.checkLease(ctx, true)
			return false
		}
	} else {
		var resp *clientv3.PutResponse
		if resp, err = c.conn.Put(wctx, key, data); err == nil {
			rev = resp.Header.Revision
		}
	}
	if c.complete(op, err, &history.Value{Rev: rev}) == history.Ok && fenced {
		c.proved(at)
	}
	return true
}

// writeFenced makes a fenced write with the Locker's own WriteFenced if it
// has one, else with fencedPut.
func (c *Client) writeFenced(ctx context.Context, held Held, key, data string) (int64, error) {
	if fw, ok := c.locker.(FencedWriter); ok {
		return fw.WriteFenced(ctx, held, key, data)
	}
	return fencedPut(ctx, c.conn.Client, held, key, data)
}

// fencedPut puts data at key in a txn guarded by the lock key's create
// revision: the fencing token. It returns the revision of the write, or
// ErrFenceRejected when the guard was false.
func fencedPut(ctx context.Context, kv clientv3.KV, held Held, key, data string) (int64, error) {
	resp, err := kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(held.Key), "=", held.Rev)).
		Then(clientv3.OpPut(key, data)).Commit()
	switch {
	case err != nil:
		return 0, err
	case !resp.Succeeded:
		return resp.Header.Revision, ErrFenceRejected
	}
	return resp.Header.Revision, nil
}

// unlock records the release of a held lock (see release). With
// Config.RetryUnlockLater, an unlock that did not succeed is left for
// retryStaleUnlock instead of being retried at once.
func (c *Client) unlock(ctx context.Context, name string, held Held) {
	var later func()
	if c.w.cfg.RetryUnlockLater && c.w.cfg.ReleaseRetries > 0 {
		later = func() { c.stale = &staleUnlock{name: name, held: held, lease: c.lease.id} }
	}
	c.release(ctx, name, history.FUnlock, unlockInput(held), func(ctx context.Context) error {
		return c.locker.Unlock(ctx, c.w.cfg.EtcdName(name), held)
	}, later)
}

// unlockInput is what an unlock is recorded with: the key and the create
// revision of the hold it releases.
func unlockInput(held Held) *history.Value { return &history.Value{Key: held.Key, Rev: held.Rev} }

// staleUnlock is an unlock that did not succeed and that the client will
// try again later, on the same lock object (Config.RetryUnlockLater).
type staleUnlock struct {
	name  string
	held  Held
	lease clientv3.LeaseID
	tries int
}

// retryStaleUnlock tries the client's pending unlock again, once, right
// after a lock was granted: the way asynchronous retry code runs while the
// application goes on, and so the way etcd issue 22082 happens, where the
// retry of an unlock whose delete committed deletes the key of the newer
// lock of the same session. A pending unlock of another lease is dropped
// (its key died with that lease), and so is one of the hold just granted
// again (the old key was still there: the new cycle's unlock releases it).
func (c *Client) retryStaleUnlock(ctx context.Context, now Held) {
	s := c.stale
	if s == nil {
		return
	}
	if c.lease == nil || s.lease != c.lease.id || s.held.Key == now.Key && s.held.Rev == now.Rev {
		c.stale = nil
		return
	}
	s.tries++
	op, _, ok := c.begin(history.FUnlock, s.name, unlockInput(s.held))
	if !ok {
		return
	}
	rctx, cancel := c.opCtx(ctx, false)
	err := c.locker.Unlock(rctx, c.w.cfg.EtcdName(s.name), s.held)
	cancel()
	if c.complete(op, err, &history.Value{}) == history.Ok || s.tries >= c.w.cfg.ReleaseRetries {
		c.stale = nil
	}
}

// release records an unlock or resign. After an outcome other than ok it
// is tried again, on the same lock or election object, up to
// ReleaseRetries times, as an application would; if none succeeds, the
// lease is abandoned so that a key left behind cannot stall the others.
// If later is set, release calls it after the first attempt that did not
// succeed instead, and neither retries nor abandons the lease.
func (c *Client) release(ctx context.Context, name, f string, in *history.Value, do func(context.Context) error, later func()) {
	defer c.setHolding("")
	for try := 0; ; try++ {
		op, _, ok := c.begin(f, name, in)
		if !ok {
			return
		}
		rctx, cancel := c.opCtx(ctx, false)
		err := do(rctx)
		cancel()
		if c.complete(op, err, &history.Value{}) == history.Ok {
			return
		}
		if later != nil {
			later()
			return
		}
		if try >= c.w.cfg.ReleaseRetries || !c.step(ctx, retryPause) {
			break
		}
	}
	c.abandonLease(ctx, name, c.w.cfg.OpTimeout)
}

// retryPause is the pause before an unlock or resign is tried again.
const retryPause = 100 * time.Millisecond
