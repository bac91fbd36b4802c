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
	// HoldAnswers holds the answers to a client that holds a lock or leads,
	// for longer than its operations wait, while its requests still take
	// effect: an unlock or resign is applied and its answer lost.
	HoldAnswers = history.KindHoldAnswers
	// IsolateHolder cuts off a client that holds a lock or leads, so that
	// its unlock or resign fails and is retried.
	IsolateHolder = "isolate-holder"
)

func init() {
	register(IsolateClient, history.KindIsolateClient, isolateClient, nil)
	register(IsolateHolder, history.KindIsolateClient, isolateIn(holding), withinLease)
	register(RevokeLease, history.KindRevokeLease, revokeLease(holding), nil)
	register(ExpireLease, history.KindExpireLease, expireLease(holding), outlastLease)
	register(PauseClient, history.KindPauseClient, pauseClient(holding), pauseBeyondLease)
	register(HoldAnswers, history.KindHoldAnswers, holdAnswers(holding), outlastAnswers)
}

// A role a client is in when a fault aims at it: holding a lock or leading
// an election, or waiting in Lock or Campaign.
type role struct {
	is   func(Client) (name string, ok bool)
	verb string // "holding", "waiting for"
}

var (
	holding = role{is: Client.Holding, verb: "holding"}
	waiting = role{is: Client.Waiting, verb: "waiting for"}
)

// describe says what c is doing in r's terms ("holding l0", "holding
// nothing").
func (r role) describe(c Client) string {
	if name, ok := r.is(c); ok {
		return r.verb + " " + name
	}
	return r.verb + " nothing"
}

// outlastLease is how long an expiry lasts: long enough for the lease to
// expire and for the client to notice.
func outlastLease(rng *rand.Rand, s Scenario) time.Duration {
	return s.LeaseTTL + jitter(rng, time.Second)
}

// withinLease is how long a holder's link cut lasts: shorter than its lease,
// so that a release that failed during it can be retried while the lease
// still lives.
func withinLease(rng *rand.Rand, s Scenario) time.Duration {
	return jitter(rng, s.LeaseTTL/2)
}

// outlastAnswers is how long answers are held: two to three operation
// timeouts, so that the operation in flight and the next one both give up
// on their answers, but at most half the lease TTL, so that the keep-alives
// whose answers wait do not make the client give its lease up. Without an
// operation timeout it is the scenario's FaultFor, jittered.
func outlastAnswers(rng *rand.Rand, s Scenario) time.Duration {
	if s.OpTimeout == 0 {
		return jitter(rng, s.FaultFor)
	}
	d := 2*s.OpTimeout + time.Duration(rng.Float64()*float64(s.OpTimeout))
	return min(d, s.LeaseTTL/2)
}

// pauseBeyondLease is how long a pause lasts: longer than the lease, so the
// lease really expires while the client is paused.
func pauseBeyondLease(rng *rand.Rand, s Scenario) time.Duration {
	return s.LeaseTTL*3/2 + jitter(rng, time.Second)
}

// pick returns a client chosen by choice, preferring one in role r when r
// is set.
func pick(env *Env, choice uint64, r *role) (Client, error) {
	if len(env.Clients) == 0 {
		return nil, errNotApplicable
	}
	if r != nil {
		var in []Client
		for _, c := range env.Clients {
			if _, ok := r.is(c); ok {
				in = append(in, c)
			}
		}
		if len(in) > 0 {
			return in[choice%uint64(len(in))], nil
		}
	}
	return env.Clients[choice%uint64(len(env.Clients))], nil
}

// holderWait bounds how long a pause, revoke or expiry waits for a client to
// be in its role.
const holderWait = 2 * time.Second

// await waits, at most d, until some client is in role r, so that a pause
// or lease fault catches a client inside its critical section, or waiting.
func await(ctx context.Context, env *Env, r role, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, c := range env.Clients {
			if _, ok := r.is(c); ok {
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
	c, err := pick(env, choice, nil)
	if err != nil {
		return nil, err
	}
	return isolation(env, c, fmt.Sprintf("client %d cut from member %d", c.ID(), c.Member())), nil
}

// isolateIn cuts the link of a client in role r, waiting a little for one.
func isolateIn(r role) injectFunc {
	return func(ctx context.Context, env *Env, choice uint64) (*injection, error) {
		await(ctx, env, r, holderWait)
		c, err := pick(env, choice, &r)
		if err != nil {
			return nil, err
		}
		return isolation(env, c, fmt.Sprintf("client %d cut from member %d, %s", c.ID(), c.Member(), r.describe(c))), nil
	}
}

// isolation cuts c's link until healed.
func isolation(env *Env, c Client, detail string) *injection {
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Member: c.Member(), Detail: detail},
		apply: func(context.Context) error { return env.Cluster.IsolateClient(c.Conn()) },
		heal:  func(context.Context) error { return env.Cluster.ReconnectClient(c.Conn()) },
	}
}

// holdAnswers holds the answers on the link of a client in role r, waiting
// a little for one.
func holdAnswers(r role) injectFunc {
	return func(ctx context.Context, env *Env, choice uint64) (*injection, error) {
		await(ctx, env, r, holderWait)
		c, err := pick(env, choice, &r)
		if err != nil {
			return nil, err
		}
		return &injection{
			event: history.FaultEvent{Target: c.ID(), Member: c.Member(),
				Detail: fmt.Sprintf("answers to client %d held, %s", c.ID(), r.describe(c))},
			apply: func(context.Context) error { return env.Cluster.HoldClientAnswers(c.Conn()) },
			heal:  func(context.Context) error { return env.Cluster.ReleaseClientAnswers(c.Conn()) },
		}, nil
	}
}

// pickLeased picks a client with a lease, preferring one in role r
// (waiting a little for one), and returns it with its lease.
func pickLeased(ctx context.Context, env *Env, choice uint64, r role) (Client, int64, error) {
	await(ctx, env, r, holderWait)
	c, err := pick(env, choice, &r)
	if err != nil {
		return nil, 0, err
	}
	lease := c.Lease()
	if lease == 0 {
		return nil, 0, errNotApplicable
	}
	return c, lease, nil
}

// aside says what a lease fault's target was doing, when the fault aims at
// a role other than the holders' (", waiting for l0").
func aside(c Client, r role) string {
	if r.verb == holding.verb {
		return ""
	}
	return ", " + r.describe(c)
}

// revokeLease revokes the lease of a client in role r.
func revokeLease(r role) injectFunc {
	return func(ctx context.Context, env *Env, choice uint64) (*injection, error) {
		return revokeLeaseOf(ctx, env, choice, r)
	}
}

func revokeLeaseOf(ctx context.Context, env *Env, choice uint64, r role) (*injection, error) {
	c, lease, err := pickLeased(ctx, env, choice, r)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("lease %x of client %d", lease, c.ID()) + aside(c, r)},
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

// expireLease stops the keep-alives of the lease of a client in role r.
func expireLease(r role) injectFunc {
	return func(ctx context.Context, env *Env, choice uint64) (*injection, error) {
		return expireLeaseOf(ctx, env, choice, r)
	}
}

func expireLeaseOf(ctx context.Context, env *Env, choice uint64, r role) (*injection, error) {
	c, lease, err := pickLeased(ctx, env, choice, r)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("keep-alives of lease %x of client %d stopped", lease, c.ID()) + aside(c, r)},
		apply: func(context.Context) error {
			if c.StopKeepAlive() != lease {
				return fmt.Errorf("client %d changed lease before its keep-alives stopped", c.ID())
			}
			return nil
		},
	}, nil
}

// pauseClient freezes a client, preferably one in role r (inside its
// critical section, or waiting), both its own steps and its link, as a
// stop-the-world pause would.
func pauseClient(r role) injectFunc {
	return func(ctx context.Context, env *Env, choice uint64) (*injection, error) {
		return pauseClientOf(ctx, env, choice, r)
	}
}

func pauseClientOf(ctx context.Context, env *Env, choice uint64, r role) (*injection, error) {
	await(ctx, env, r, holderWait)
	c, err := pick(env, choice, &r)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: c.Lease(), Member: c.Member(),
			Detail: fmt.Sprintf("client %d paused %s", c.ID(), r.describe(c))},
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
