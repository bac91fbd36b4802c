package workloads

import (
	"context"
	"errors"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// termCycle runs one intent of a campaigning client: campaign, proclaims,
// resign.
func (c *Client) termCycle(ctx context.Context, in Intent) {
	name := c.w.names[in.Name]
	c.recent = name
	if !c.step(ctx, in.Think[0]) || !c.ensureLease(ctx) {
		return
	}
	l, ok := c.campaign(ctx, name)
	if !ok {
		return
	}
	for i := range in.Fenced {
		if !c.step(ctx, in.Think[1+i]) || c.lease == nil {
			return
		}
		if !c.proclaim(ctx, name, l) {
			return
		}
	}
	if !c.step(ctx, in.Think[len(in.Think)-1]) || c.lease == nil {
		return
	}
	c.resign(ctx, name, l)
}

func (c *Client) campaign(ctx context.Context, name string) (Leadership, bool) {
	lease := c.backendLease()
	value := c.nextValue()
	op, at, ok := c.begin(history.FCampaign, name, &history.Value{Value: value, Lease: int64(lease.ID)})
	if !ok {
		return Leadership{}, false
	}
	cctx, cancel := c.opCtx(ctx, true)
	c.setWaiting(name)
	l, err := c.elector.Campaign(cctx, c.w.cfg.EtcdName(name), lease, value)
	ended := cctx.Err() != nil
	c.setWaiting("")
	cancel()
	switch c.complete(op, err, &history.Value{Key: l.Key, Rev: l.Rev, Lease: int64(l.Lease), HeaderRev: l.Header}) {
	case history.Ok:
		c.proved(at)
		c.setHolding(name)
		return l, true
	case history.Fail:
		c.checkLease(ctx, true)
	default:
		if !ended {
			_ = think(ctx, c.w.cfg.CampaignBackoff) // cut short when the run ends
		}
		c.abandonLease(ctx, name, c.w.cfg.OpTimeout)
	}
	return Leadership{}, false
}

// proclaim records one proclaim; false means leadership is lost.
func (c *Client) proclaim(ctx context.Context, name string, l Leadership) bool {
	value := c.nextValue()
	op, at, ok := c.begin(history.FProclaim, name, &history.Value{Key: l.Key, Rev: l.Rev, Value: value})
	if !ok {
		return false
	}
	pctx, cancel := c.opCtx(ctx, false)
	err := c.elector.Proclaim(pctx, c.w.cfg.EtcdName(name), l, value)
	cancel()
	switch c.complete(op, err, &history.Value{}) {
	case history.Ok:
		c.proved(at)
		return true
	case history.Fail:
		c.setHolding("")
		c.checkLease(ctx, true)
		return false
	}
	return true // unknown: still believed leader
}

// resign records the end of a term (see release).
func (c *Client) resign(ctx context.Context, name string, l Leadership) {
	c.release(ctx, name, history.FResign, &history.Value{Key: l.Key, Rev: l.Rev}, func(ctx context.Context) error {
		return c.elector.Resign(ctx, c.w.cfg.EtcdName(name), l)
	}, nil)
}

// readCycle runs one intent of a reading client: one leader read.
func (c *Client) readCycle(ctx context.Context, in Intent) {
	name := c.w.names[in.Name]
	c.recent = name
	if !c.step(ctx, in.Think[0]) {
		return
	}
	op, _, ok := c.begin(history.FLeader, name, &history.Value{})
	if !ok {
		return
	}
	rctx, cancel := c.opCtx(ctx, false)
	info, found, err := c.elector.Leader(rctx, c.w.cfg.EtcdName(name))
	cancel()
	out := &history.Value{None: true}
	if found {
		out = leaderValue(info)
	}
	out.HeaderRev = info.Header
	c.complete(op, err, out)
}

func leaderValue(info LeaderInfo) *history.Value {
	return &history.Value{Key: info.Key, Value: info.Value, Rev: info.Rev, ModRev: info.ModRev, Lease: info.Lease, HeaderRev: info.Header}
}

// errStreamEnded completes the pending observe of a stream that ended.
var errStreamEnded = errors.New("observe stream ended")

// observeLoop runs an observer client: long-lived Observe streams on one
// election name, recording an observe invoke each time it asks for the next
// value and an ok for each value delivered. When a stream ends (or the run
// does), the pending observe completes as info and, while the run goes on, a
// new stream is opened after a short pause.
func (c *Client) observeLoop(ctx context.Context) {
	name := c.observer
	c.recent = name
	for ctx.Err() == nil && c.err == nil && c.w.budgetLeft() {
		if c.gate(ctx) != nil {
			return
		}
		c.observeStream(ctx, name)
		if think(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

func (c *Client) observeStream(ctx context.Context, name string) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	op, _, ok := c.begin(history.FObserve, name, &history.Value{})
	if !ok {
		return
	}
	ch, err := c.elector.Observe(sctx, c.w.cfg.EtcdName(name))
	for err == nil {
		select {
		case info, open := <-ch:
			if !open {
				err = errStreamEnded
				continue
			}
			c.record(op, history.Ok, leaderValue(info), "")
		case <-ctx.Done():
			err = context.Cause(ctx)
			continue
		}
		if c.err != nil || !c.w.budgetLeft() || c.gate(ctx) != nil {
			cancel()
			for range ch { // let the stream's goroutine finish
			}
			return
		}
		if op, _, ok = c.begin(history.FObserve, name, &history.Value{}); !ok {
			return
		}
	}
	c.record(op, history.Info, nil, err.Error())
	cancel()
	if ch != nil {
		for range ch {
		}
	}
}
