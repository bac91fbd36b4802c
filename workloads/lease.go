package workloads

import (
	"context"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// ensureLease grants a lease, starts keeping it alive (see keep) and puts
// its extra keys (see attachKeys) if the client has none. The grant is the
// first proof that the lease exists: its proof time is taken just before
// the request. It reports whether the client has a lease.
func (c *Client) ensureLease(ctx context.Context) bool {
	if c.lease != nil {
		return true
	}
	at := c.w.rec.Now()
	gctx, cancel := c.opCtx(ctx, false)
	resp, err := c.conn.Grant(gctx, int64(c.w.cfg.LeaseTTL/time.Second))
	cancel()
	if err != nil {
		return false // an orphaned grant expires unused
	}
	// The grant holds the lease for its TTL from the request at least.
	deadline := time.Now().Add(time.Duration(resp.TTL) * time.Second)
	alive, stop := context.WithCancel(context.Background())
	l := &clientLease{id: resp.ID, granted: resp.TTL, alive: alive, stop: stop, kaDone: make(chan struct{}), proof: at, lastCheck: time.Now()}
	prev := c.kept
	c.bg.Go(func() {
		if prev != nil {
			<-prev // its request in flight is bounded (see keep)
		}
		c.keep(l, deadline)
	})
	c.lease, c.kept = l, l.kaDone
	c.mu.Lock()
	c.leaseID, c.stopKA = int64(resp.ID), stop
	c.mu.Unlock()
	if !c.attachKeys(ctx, l) {
		// Some keys may be attached, or none: give the lease up.
		c.abandonLease(ctx, c.recent, c.w.cfg.OpTimeout)
		return false
	}
	return true
}

// backendLease is the client's lease as backends see it.
func (c *Client) backendLease() Lease { return Lease{ID: c.lease.id, Alive: c.lease.alive} }

// proved records that an operation invoked at time at proved the lease alive.
func (c *Client) proved(at int64) {
	if c.lease != nil && at > c.lease.proof {
		c.lease.proof = at
	}
}

// checkLease asks the cluster whether the lease still exists once its
// keep-alive loop has ended (at most every TTL/8), or now if force; the
// answer is recorded (lease-ttl). If the lease is gone it records
// lease-lost and drops it. A keep-alive that etcd answered with "not
// found" already says so: the lease is then lost without asking again.
func (c *Client) checkLease(ctx context.Context, force bool) {
	l := c.lease
	if l == nil || ctx.Err() != nil {
		return
	}
	ended := false
	select {
	case <-l.kaDone:
		ended = true
		if l.err != nil {
			c.fail(l.err)
		}
	default:
	}
	if ended && l.notFound {
		c.leaseLost()
		return
	}
	if !force && (!ended || time.Since(l.lastCheck) < c.w.cfg.LeaseTTL/8) {
		return
	}
	l.lastCheck = time.Now()
	// Not found: its revoke (or expiry) has been applied and its keys are
	// deleted. An expired lease etcd still holds may still be pending.
	if gone, err := c.timeToLive(ctx, l); err == nil && gone {
		c.leaseLost()
	}
}

// leaseLost records that the client learned its lease is gone and drops it.
func (c *Client) leaseLost() {
	c.recordLost(c.lease, c.recent)
	c.dropLease()
}

// recordLost records that lease l, last used on name, is gone.
func (c *Client) recordLost(l *clientLease, name string) {
	in := &history.Value{Lease: int64(l.id), LastAlive: history.Int64(l.proof)}
	if err := c.w.rec.Record(c.id, history.FLeaseLost, name, in, &history.Value{}); err != nil {
		c.fail(err)
	}
	c.w.spent.Add(1)
}

// checkOrphans looks up the client's abandoned leases of unknown fate (each
// at most every TTL/8, or now if force) and records the loss of those etcd
// says are gone. A lease etcd still holds expires on its own: nothing
// renews it.
// After a look-up with no answer the rest wait for the next call, so a
// cut link costs one operation timeout per call.
func (c *Client) checkOrphans(ctx context.Context, force bool) {
	kept := c.orphans[:0]
	unreachable := false
	for _, o := range c.orphans {
		if unreachable || ctx.Err() != nil || c.err != nil || !force && time.Since(o.l.lastCheck) < c.w.cfg.LeaseTTL/8 {
			kept = append(kept, o)
			continue
		}
		o.l.lastCheck = time.Now()
		gone, err := c.timeToLive(ctx, o.l)
		if err == nil && gone {
			c.recordLost(o.l, o.name)
			continue
		}
		unreachable = err != nil
		kept = append(kept, o)
	}
	c.orphans = kept
}

// dropLease stops renewing the lease and forgets it and what it held.
func (c *Client) dropLease() {
	c.lease.stop()
	c.lease = nil
	c.mu.Lock()
	c.leaseID, c.holding, c.stopKA = 0, "", nil
	c.mu.Unlock()
}

// abandonLease gives up a lease whose keys may be in an unknown state (after
// an indeterminate lock, unlock, campaign or resign): it stops renewing it
// and revokes it, best effort, recording the revoke. A revoke that finds no
// lease proves it gone: that is recorded as a lease-lost too. After a revoke
// whose outcome is unknown (a cut or paused link) the lease is looked up
// once more, so that its loss is recorded if it is already gone.
func (c *Client) abandonLease(ctx context.Context, name string, timeout time.Duration) {
	l := c.lease
	if l == nil {
		return
	}
	l.stop()
	op, _, ok := c.begin(history.FRevoke, name, &history.Value{Lease: int64(l.id)})
	if !ok {
		c.dropLease()
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	resp, err := c.conn.Revoke(rctx, l.id)
	cancel()
	out := &history.Value{}
	if err == nil {
		out.HeaderRev = resp.Header.GetRevision()
	}
	switch c.complete(op, err, out) {
	case history.Fail:
		c.leaseLost()
		return
	case history.Info:
		c.checkLease(ctx, true)
		if c.lease == nil {
			return // it was gone: recorded as lost
		}
		c.orphans = append(c.orphans, orphan{l: l, name: name})
	}
	c.dropLease()
}
