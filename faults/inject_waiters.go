package faults

// Faults aimed at waiters: clients waiting in Lock or Campaign behind a
// holder. A waiter whose lease dies while it waits must never be granted
// the lock or the leadership (etcd issue 19597 is a Campaign that is).

import "github.com/etcdchaos/etcdchaos/history"

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
	register(IsolateWaiter, history.KindIsolateClient, isolateIn(waiting), pauseBeyondLease)
}
