package faults

// Faults aimed at waiters: clients waiting in Lock or Campaign behind a
// holder. A waiter whose lease dies while it waits must never be granted
// the lock or the leadership (etcd issue 19597 is a Campaign that is).

import (
	"context"
	"fmt"

	"github.com/etcdchaos/etcdchaos/history"
)

// Waiter injector names, as used in scenarios.
const (
	RevokeWaiter  = "revoke-waiter"
	ExpireWaiter  = "expire-waiter"
	PauseWaiter   = "pause-waiter"
	IsolateWaiter = "isolate-waiter"
)

func init() {
	register(RevokeWaiter, history.KindRevokeLease, revokeLease(waiting), nil)
	register(ExpireWaiter, history.KindExpireLease, expireLease(waiting), outlastLease)
	register(PauseWaiter, history.KindPauseClient, pauseClient(waiting), pauseBeyondLease)
	// Cut off for longer than its lease, a waiter's keep-alives stop too.
	register(IsolateWaiter, history.KindIsolateClient, isolateWaiter, pauseBeyondLease)
}

// isolateWaiter cuts a waiting client's link, waiting a little for one.
func isolateWaiter(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	await(ctx, env, waiting, holderWait)
	c, err := pick(env, choice, &waiting)
	if err != nil {
		return nil, err
	}
	return isolation(env, c, fmt.Sprintf("client %d cut from member %d", c.ID(), c.Member())+aside(c, waiting)), nil
}
