package faults

// Member injectors: kills and restarts, leader moves and process pauses.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// Member injector names, as used in scenarios.
const (
	KillMember  = history.KindKillMember
	KillLeader  = "kill-leader"
	MoveLeader  = history.KindMoveLeader
	PauseMember = history.KindPauseMember
	PauseLeader = "pause-leader"
)

func init() {
	register(KillMember, history.KindKillMember, killMember, nil)
	register(KillLeader, history.KindKillMember, killLeader, nil)
	register(MoveLeader, history.KindMoveLeader, moveLeader, nil)
	register(PauseMember, history.KindPauseMember, pauseMember, nil)
	register(PauseLeader, history.KindPauseMember, pauseLeader, pauseBeyondElection)
}

func killInjection(env *Env, m int) (*injection, error) {
	return &injection{
		event: history.FaultEvent{Member: m, Leader: m == env.Cluster.Leader(), Detail: fmt.Sprintf("member %d killed", m)},
		apply: func(context.Context) error { return env.Cluster.Kill(m) },
		heal:  func(context.Context) error { return env.Cluster.Restart(m) },
	}, nil
}

func killMember(_ context.Context, env *Env, choice uint64) (*injection, error) {
	return killInjection(env, 1+int(choice%uint64(env.Cluster.Size())))
}

func killLeader(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	l, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	return killInjection(env, l)
}

func moveLeader(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 2 {
		return nil, errNotApplicable
	}
	from, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	others := without(members(n), from)
	to := others[choice%uint64(len(others))]
	return &injection{
		event: history.FaultEvent{Member: to,
			Detail: fmt.Sprintf("leadership moved from %d to %d", from, to)},
		apply: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := env.Cluster.MoveLeader(ctx, to); err != nil {
				return fmt.Errorf("move leader from %d to %d: %w", from, to, err)
			}
			return nil
		},
	}, nil
}

// pauseMember freezes a member's process (SIGSTOP) for the fault's
// duration; only members run as processes can be paused.
func pauseMember(_ context.Context, env *Env, choice uint64) (*injection, error) {
	if env.Cluster.Mode() != harness.ModeProcess {
		return nil, errNotApplicable
	}
	return pauseInjection(env, 1+int(choice%uint64(env.Cluster.Size())), "member")
}

func pauseInjection(env *Env, m int, role string) (*injection, error) {
	return &injection{
		event: history.FaultEvent{Member: m, Leader: m == env.Cluster.Leader(), Detail: fmt.Sprintf("%s %d paused (SIGSTOP)", role, m)},
		apply: func(context.Context) error { return env.Cluster.PauseMember(m) },
		heal:  func(context.Context) error { return env.Cluster.ResumeMember(m) },
	}, nil
}

// pauseLeader freezes the leader's process (SIGSTOP) for longer than the
// election timeout, then continues it (SIGCONT): the others elect a new
// leader while it is frozen, clients on the other members keep their leases
// alive through it, and the old leader comes back to a newer term. It needs
// members run as processes and a majority left to elect.
func pauseLeader(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	if env.Cluster.Mode() != harness.ModeProcess || env.Cluster.Size() < 3 {
		return nil, errNotApplicable
	}
	l, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	return pauseInjection(env, l, "leader")
}

// leaderPauseAtLeast is the shortest leader pause: four times the harness'
// default election timeout (500 ms), so that the followers certainly time
// out and elect a new leader before the old one continues.
const leaderPauseAtLeast = 2 * time.Second

// pauseBeyondElection is how long a leader pause lasts: the scenario's
// FaultFor, jittered, and never less than leaderPauseAtLeast.
func pauseBeyondElection(rng *rand.Rand, s Scenario) time.Duration {
	return max(jitter(rng, s.FaultFor), leaderPauseAtLeast)
}
