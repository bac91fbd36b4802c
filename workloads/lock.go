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

// unlock records the release of a held lock (see release).
func (c *Client) unlock(ctx context.Context, name string, held Held) {
	c.release(ctx, name, history.FUnlock, &history.Value{Key: held.Key}, func(ctx context.Context) error {
		return c.locker.Unlock(ctx, c.w.cfg.EtcdName(name), held)
	})
}

// release records an unlock or resign. After an unknown outcome it is tried
// again, on the same lock or election object, up to ReleaseRetries times,
// as an application would; if none succeeds, the lease is abandoned so that
// a key left behind cannot stall the others.
func (c *Client) release(ctx context.Context, name, f string, in *history.Value, do func(context.Context) error) {
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
		if try >= c.w.cfg.ReleaseRetries || !c.step(ctx, retryPause) {
			break
		}
	}
	c.abandonLease(ctx, name, c.w.cfg.OpTimeout)
}

// retryPause is the pause before an unlock or resign is tried again.
const retryPause = 100 * time.Millisecond
