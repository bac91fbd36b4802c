package workloads

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// keepRetry is how soon a keep-alive whose outcome is unknown is retried
// (clientv3's own keep-alive loop resends as often).
const keepRetry = 500 * time.Millisecond

// keep renews lease l with single keep-alive requests, one at a time, each
// recorded as a keepalive operation of the client's lease keeper
// (history.LeaseKeeper): the client's own operations go on meanwhile, and a
// history client has one operation in flight at a time. A request goes out
// a third of the TTL after the last renewal, or keepRetry after one of
// unknown outcome. The loop ends, closing l.kaDone, when the lease is
// stopped, when etcd says it is not found (l.notFound), or once no renewal
// has succeeded for the TTL the last one returned (the lease may have
// expired), as clientv3's keep-alive stream does; the client then looks the
// lease up (checkLease). Each request is bounded by that deadline, and
// keep-alives do not count against the workload's operation budget.
// Between keep-alives the keeper asks TimeToLive every Config.TTLProbe, if
// set (see between).
func (c *Client) keep(l *clientLease, deadline time.Time) {
	defer close(l.kaDone)
	keeper := history.LeaseKeeper(c.id)
	interval := time.Duration(l.granted) * time.Second / 3
	for l.alive.Err() == nil && time.Now().Before(deadline) {
		op, _, err := c.w.rec.Begin(keeper, history.FKeepAlive, "", l.invoke())
		if err != nil {
			l.err = err
			return
		}
		bound := time.Now().Add(c.w.cfg.OpTimeout)
		if deadline.Before(bound) {
			bound = deadline
		}
		// Not l.alive: a request in flight when the lease is stopped gets
		// its answer, so the loop ends with nothing of unknown outcome.
		rctx, cancel := context.WithDeadline(context.Background(), bound)
		resp, err := c.conn.KeepAliveOnce(rctx, l.id)
		cancel()
		wait := keepRetry
		outcome, out := c.keepOutcome(l, resp, err)
		if err := c.w.rec.Complete(op, outcome, out, errText(err)); err != nil {
			l.err = err
			return
		}
		switch outcome {
		case history.Ok:
			deadline, wait = time.Now().Add(time.Duration(resp.TTL)*time.Second), interval
		case history.Fail:
			l.notFound = true
			return
		}
		if err := c.between(l, keeper, time.Now().Add(min(wait, time.Until(deadline)))); err != nil {
			if !errors.Is(err, context.Canceled) {
				l.err = err
			}
			return
		}
	}
}

// between waits until the next keep-alive is due, asking TimeToLive every
// Config.TTLProbe meanwhile, each answer recorded as a lease-ttl operation
// of the lease keeper. Asked many times a second across leader changes,
// TimeToLive meets the moments when the member that answers has just lost
// or not yet taken up the lessor's primary role (etcd issue 17506). It
// returns context.Canceled once the lease is stopped.
func (c *Client) between(l *clientLease, keeper int, next time.Time) error {
	every := c.w.cfg.TTLProbe
	for {
		wait := time.Until(next)
		if every > 0 {
			wait = min(wait, every)
		}
		if think(l.alive, wait) != nil {
			return context.Canceled
		}
		if every <= 0 || !time.Now().Before(next) {
			return nil
		}
		op, _, err := c.w.rec.Begin(keeper, history.FLeaseTTL, "", l.invoke())
		if err != nil {
			return err
		}
		// Bounded by the next keep-alive, so probes never delay it, and
		// cut short when the lease stops, so the next lease's keeper need
		// not wait for it (a read of unknown outcome proves nothing).
		rctx, cancel := context.WithDeadline(l.alive, next)
		resp, err := c.conn.TimeToLive(rctx, l.id, c.ttlOptions()...)
		cancel()
		outcome, out, msg := ttlOutcome(l, resp, err)
		c.listed(l, resp, out)
		if err := c.w.rec.Complete(op, outcome, out, msg); err != nil {
			return err
		}
	}
}

// keepOutcome classifies a keep-alive: ok with the TTL etcd renewed the
// lease for, fail when etcd says the lease is not found (with the TTL it
// answered, if any), info otherwise.
func (c *Client) keepOutcome(l *clientLease, resp *clientv3.LeaseKeepAliveResponse, err error) (history.Outcome, *history.Value) {
	out := &history.Value{Lease: int64(l.id)}
	if resp != nil {
		out.TTL, out.HeaderRev = history.Int64(resp.TTL), headerRev(resp.ResponseHeader)
	}
	switch {
	case err == nil:
		return history.Ok, out
	case leaseNotFound(err):
		return history.Fail, out
	}
	return history.Info, nil
}

// timeToLive asks etcd whether the lease is gone, recorded as a lease-ttl
// operation of the client. etcd answers TTL -1 with no granted TTL for a
// lease it does not know; an answer with the granted TTL is a lease it
// still holds, even with a TTL of -1 or less (expired in the answering
// lessor's view, its revoke not applied: its keys still exist). err is the
// request's error, if any.
func (c *Client) timeToLive(ctx context.Context, l *clientLease) (gone bool, err error) {
	op, _, err := c.w.rec.Begin(c.id, history.FLeaseTTL, "", l.invoke())
	if err != nil {
		c.fail(err)
		return false, err
	}
	tctx, cancel := c.opCtx(ctx, false)
	resp, err := c.conn.TimeToLive(tctx, l.id, c.ttlOptions()...)
	cancel()
	outcome, out, msg := ttlOutcome(l, resp, err)
	c.listed(l, resp, out)
	c.record(op, outcome, out, msg)
	if outcome == history.Info {
		return false, err
	}
	return *out.TTL == -1 && out.GrantedTTL == 0, nil
}

// ttlOutcome classifies a TimeToLive answer: ok with the TTL and granted
// TTL etcd answered (TTL -1 and no granted TTL when etcd does not know the
// lease, as etcd itself answers), info with the error's text otherwise.
func ttlOutcome(l *clientLease, resp *clientv3.LeaseTimeToLiveResponse, err error) (history.Outcome, *history.Value, string) {
	switch {
	case err == nil:
		return history.Ok, &history.Value{Lease: int64(l.id), TTL: history.Int64(resp.TTL), GrantedTTL: resp.GrantedTTL,
			HeaderRev: headerRev(resp.ResponseHeader)}, ""
	case leaseNotFound(err):
		return history.Ok, &history.Value{Lease: int64(l.id), TTL: history.Int64(-1)}, ""
	}
	return history.Info, nil, err.Error()
}

// invoke is the invoke value of an answer about l: the lease and the TTL
// it was granted with, which the answer's TTL is held to.
func (l *clientLease) invoke() *history.Value {
	return &history.Value{Lease: int64(l.id), GrantedTTL: l.granted}
}

// headerRev is the revision of an answer's header (0 without one): the
// answering member had applied it, so it was committed by then.
func headerRev(h *etcdserverpb.ResponseHeader) int64 {
	if h == nil {
		return 0
	}
	return h.Revision
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
