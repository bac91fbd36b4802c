package faults

// Port injectors: a member's client port hung while its peer links work.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Port injector names, as used in scenarios.
const (
	// HangClientPort hangs the client port of a member chosen at random.
	HangClientPort = history.KindHangPort
	// HangLeaderPort hangs the leader's client port: the leader still
	// leads, through its peer links, while no client reaches it.
	HangLeaderPort = "hang-leader-port"
)

func init() {
	register(HangClientPort, history.KindHangPort, hangMemberPort, hangBeyondLease)
	register(HangLeaderPort, history.KindHangPort, hangLeaderPort, hangBeyondLease)
}

// hangBeyondLease is how long a port hangs: the scenario's FaultFor,
// jittered, and at least two lease TTLs, so that a client whose keep-alive
// went to the hung port loses its lease unless it goes on through another
// member, which is what the hang is there to measure.
func hangBeyondLease(rng *rand.Rand, s Scenario) time.Duration {
	return max(jitter(rng, s.FaultFor), 2*s.LeaseTTL)
}

// hangMemberPort hangs a member's client port. Hanging the only member's
// port is an outage, not a port failing while quorum is healthy: it needs
// two members at least.
func hangMemberPort(_ context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 2 {
		return nil, errNotApplicable
	}
	return hangInjection(env, 1+int(choice%uint64(n)), "member")
}

func hangLeaderPort(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	if env.Cluster.Size() < 2 {
		return nil, errNotApplicable
	}
	l, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	return hangInjection(env, l, "leader")
}

func hangInjection(env *Env, m int, role string) (*injection, error) {
	return &injection{
		event: history.FaultEvent{Member: m, Leader: m == env.Cluster.Leader(),
			Detail: fmt.Sprintf("client port of %s %d hung (its peer links work)", role, m)},
		apply: func(context.Context) error { return env.Cluster.HangClientPort(m) },
		heal:  func(context.Context) error { return env.Cluster.UnhangClientPort(m) },
	}, nil
}
