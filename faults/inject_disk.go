package faults

// Disk injectors: a member's disk stalls, its writes and fsyncs held,
// while its network stays up (the trigger of etcd issue 15247).

import (
	"context"
	"fmt"

	"github.com/etcdchaos/etcdchaos/history"
)

// Disk injector names, as used in scenarios.
const (
	StallDisk       = history.KindStallDisk
	StallLeaderDisk = "stall-leader-disk"
)

func init() {
	register(StallDisk, history.KindStallDisk, stallDisk, nil)
	// A leader's stall outlasts the election, as a leader pause does: a
	// shorter one only slows it down, while a longer one lets the others
	// elect a new leader while the old one still believes it leads.
	register(StallLeaderDisk, history.KindStallDisk, stallLeaderDisk, pauseBeyondElection)
}

// stallDisk stalls a member's disk for the fault's duration; it needs a
// cluster started with stallable disks.
func stallDisk(_ context.Context, env *Env, choice uint64) (*injection, error) {
	if env.Cluster.CanStallDisks() != nil {
		return nil, errNotApplicable
	}
	return stallInjection(env, 1+int(choice%uint64(env.Cluster.Size())), "member")
}

// stallLeaderDisk stalls the leader's disk: its raft loop stops at its
// next write, so its heartbeats stop and the others elect a new leader,
// while its connections stay up and it still believes it leads. It needs
// stallable disks and a majority left to elect.
func stallLeaderDisk(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	if env.Cluster.CanStallDisks() != nil || env.Cluster.Size() < 3 {
		return nil, errNotApplicable
	}
	l, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	return stallInjection(env, l, "leader")
}

func stallInjection(env *Env, m int, role string) (*injection, error) {
	return &injection{
		event: history.FaultEvent{Member: m, Leader: m == env.Cluster.Leader(),
			Detail: fmt.Sprintf("%s %d's disk stalled (writes and fsyncs held)", role, m)},
		apply: func(context.Context) error { return env.Cluster.StallDisk(m) },
		heal:  func(context.Context) error { return env.Cluster.UnstallDisk(m) },
	}, nil
}
