package faults

// Client and lease injectors: client isolation, lease revocation and expiry,
// and stop-the-world client pauses.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// Client and lease injector names, as used in scenarios.
const (
	IsolateClient = history.KindIsolateClient
	RevokeLease   = history.KindRevokeLease
	ExpireLease   = history.KindExpireLease
	PauseClient   = history.KindPauseClient
)

func init() {
	register(IsolateClient, history.KindIsolateClient, isolateClient, nil)
	register(RevokeLease, history.KindRevokeLease, revokeLease, nil)
	register(ExpireLease, history.KindExpireLease, expireLease, outlastLease)
	register(PauseClient, history.KindPauseClient, pauseClient, pauseBeyondLease)
}

// outlastLease is how long an expiry lasts: long enough for the lease to
// expire and for the client to notice.
func outlastLease(rng *rand.Rand, s Scenario) time.Duration {
	return s.LeaseTTL + jitter(rng, time.Second)
}

// pauseBeyondLease is how long a pause lasts: longer than the lease, so the
// lease really expires while the client is paused.
func pauseBeyondLease(rng *rand.Rand, s Scenario) time.Duration {
	return s.LeaseTTL*3/2 + jitter(rng, time.Second)
}

// pick returns a client chosen by choice, preferring one that holds a lock
// or leads when prefer is set.
func pick(env *Env, choice uint64, preferHolding bool) (Client, error) {
	if len(env.Clients) == 0 {
		return nil, errNotApplicable
	}
	if preferHolding {
		var holding []Client
		for _, c := range env.Clients {
			if _, ok := c.Holding(); ok {
				holding = append(holding, c)
			}
		}
		if len(holding) > 0 {
			return holding[choice%uint64(len(holding))], nil
		}
	}
	return env.Clients[choice%uint64(len(env.Clients))], nil
}

// holderWait bounds how long a pause, revoke or expiry waits for a client to
// hold something.
const holderWait = 2 * time.Second

// awaitHolder waits, at most d, until some client holds a lock or leads, so
// that a pause or lease fault catches a client inside its critical section.
func awaitHolder(ctx context.Context, env *Env, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, c := range env.Clients {
			if _, ok := c.Holding(); ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func isolateClient(_ context.Context, env *Env, choice uint64) (*injection, error) {
	c, err := pick(env, choice, false)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Member: c.Member(),
			Detail: fmt.Sprintf("client %d cut from member %d", c.ID(), c.Member())},
		apply: func(context.Context) error { return env.Cluster.IsolateClient(c.Conn()) },
		heal:  func(context.Context) error { return env.Cluster.ReconnectClient(c.Conn()) },
	}, nil
}

// pickLeased picks a client with a lease, preferring one that holds a lock
// or leads (waiting a little for one), and returns it with its lease.
func pickLeased(ctx context.Context, env *Env, choice uint64) (Client, int64, error) {
	awaitHolder(ctx, env, holderWait)
	c, err := pick(env, choice, true)
	if err != nil {
		return nil, 0, err
	}
	lease := c.Lease()
	if lease == 0 {
		return nil, 0, errNotApplicable
	}
	return c, lease, nil
}

func revokeLease(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	c, lease, err := pickLeased(ctx, env, choice)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("lease %x of client %d", lease, c.ID())},
		apply: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := env.Admin.Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
				return fmt.Errorf("revoke lease %x of client %d: %w", lease, c.ID(), err)
			}
			return nil
		},
	}, nil
}

func expireLease(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	c, lease, err := pickLeased(ctx, env, choice)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("keep-alives of lease %x of client %d stopped", lease, c.ID())},
		apply: func(context.Context) error {
			if c.StopKeepAlive() != lease {
				return fmt.Errorf("client %d changed lease before its keep-alives stopped", c.ID())
			}
			return nil
		},
	}, nil
}

// pauseClient freezes a client, preferably one inside its critical section,
// both its own steps and its link, as a stop-the-world pause would.
func pauseClient(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	awaitHolder(ctx, env, holderWait)
	c, err := pick(env, choice, true)
	if err != nil {
		return nil, err
	}
	held, _ := c.Holding()
	if held == "" {
		held = "nothing"
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: c.Lease(), Member: c.Member(),
			Detail: fmt.Sprintf("client %d paused holding %s", c.ID(), held)},
		apply: func(context.Context) error {
			c.Pause()
			if err := env.Cluster.PauseClient(c.Conn()); err != nil {
				c.Resume()
				return err
			}
			return nil
		},
		heal: func(context.Context) error {
			defer c.Resume()
			return env.Cluster.ResumeClient(c.Conn())
		},
	}, nil
}
