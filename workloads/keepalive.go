package workloads

import (
	"context"
	"time"

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
func (c *Client) keep(l *clientLease, granted int64, deadline time.Time) {
	defer close(l.kaDone)
	keeper := history.LeaseKeeper(c.id)
	interval := time.Duration(granted) * time.Second / 3
	for l.alive.Err() == nil && time.Now().Before(deadline) {
		op, _, err := c.w.rec.Begin(keeper, history.FKeepAlive, "", &history.Value{Lease: int64(l.id), GrantedTTL: granted})
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
		if think(l.alive, min(wait, time.Until(deadline))) != nil {
			return
		}
	}
}

// keepOutcome classifies a keep-alive: ok with the TTL etcd renewed the
// lease for, fail when etcd says the lease is not found (with the TTL it
// answered, if any), info otherwise.
func (c *Client) keepOutcome(l *clientLease, resp *clientv3.LeaseKeepAliveResponse, err error) (history.Outcome, *history.Value) {
	out := &history.Value{Lease: int64(l.id)}
	if resp != nil {
		out.TTL = history.Int64(resp.TTL)
	}
	switch {
	case err == nil:
		return history.Ok, out
	case leaseNotFound(err):
		return history.Fail, out
	}
	return history.Info, nil
}

// timeToLive asks etcd how long the lease has left, recorded as a
// lease-ttl operation of the client; the answer's TTL is -1 when the lease
// is not found. err is the request's error, if any.
func (c *Client) timeToLive(ctx context.Context, l *clientLease) (ttl int64, err error) {
	op, _, err := c.w.rec.Begin(c.id, history.FLeaseTTL, "", &history.Value{Lease: int64(l.id)})
	if err != nil {
		c.fail(err)
		return 0, err
	}
	tctx, cancel := c.opCtx(ctx, false)
	resp, err := c.conn.TimeToLive(tctx, l.id)
	cancel()
	switch {
	case err == nil:
		c.record(op, history.Ok, &history.Value{Lease: int64(l.id), TTL: history.Int64(resp.TTL), GrantedTTL: resp.GrantedTTL}, "")
		return resp.TTL, nil
	case leaseNotFound(err):
		c.record(op, history.Ok, &history.Value{Lease: int64(l.id), TTL: history.Int64(-1)}, "")
		return -1, nil
	}
	c.record(op, history.Info, nil, err.Error())
	return 0, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
