package workloads

import (
	"context"
	"errors"

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
		held, err = c.locker.Lock(lctx, c.w.cfg.EtcdName(name), lease)
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

// unlock records the release of a held lock; after an unknown outcome the
// lease is abandoned so that a lock key left behind cannot stall the others.
func (c *Client) unlock(ctx context.Context, name string, held Held) {
	op, _, ok := c.begin(history.FUnlock, name, &history.Value{Key: held.Key})
	if !ok {
		return
	}
	uctx, cancel := c.opCtx(ctx, false)
	err := c.locker.Unlock(uctx, c.w.cfg.EtcdName(name), held)
	cancel()
	c.setHolding("")
	if c.complete(op, err, &history.Value{}) != history.Ok {
		c.abandonLease(ctx, name, c.w.cfg.OpTimeout)
	}
}
