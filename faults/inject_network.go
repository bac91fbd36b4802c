package faults

// Network injectors: partitions of every shape, bridges and link latency.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Network injector names, as used in scenarios.
const (
	IsolateLeader = "isolate-leader"
	IsolateMember = "isolate-member"
	Split         = "split"
	Bridge        = "bridge"
	Latency       = history.KindLatency
)

func init() {
	register(IsolateLeader, history.KindPartition, isolateLeader, nil)
	register(IsolateMember, history.KindPartition, isolateMember, nil)
	register(Split, history.KindPartition, split, nil)
	register(Bridge, history.KindPartition, bridge, nil)
	register(Latency, history.KindLatency, latency, nil)
}

func members(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i + 1
	}
	return m
}

// shuffled returns members 1..n in an order picked by choice.
func shuffled(n int, choice uint64) []int {
	m := members(n)
	for i := n - 1; i > 0; i-- {
		j := int(choice % uint64(i+1))
		choice /= uint64(i + 1)
		m[i], m[j] = m[j], m[i]
	}
	return m
}

func without(all []int, x int) []int {
	var out []int
	for _, m := range all {
		if m != x {
			out = append(out, m)
		}
	}
	return out
}

func groupString(groups ...[]int) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		s := make([]string, len(g))
		for j, m := range g {
			s[j] = fmt.Sprint(m)
		}
		parts[i] = "{" + strings.Join(s, ",") + "}"
	}
	return strings.Join(parts, " | ")
}

func partitionInjection(env *Env, groups ...[]int) (*injection, error) {
	for _, g := range groups {
		sort.Ints(g)
	}
	return &injection{
		event: history.FaultEvent{Detail: groupString(groups...)},
		apply: func(context.Context) error { return env.Cluster.Partition(groups...) },
		heal:  func(context.Context) error { return env.Cluster.Heal() },
	}, nil
}

func leader(ctx context.Context, env *Env) (int, error) {
	if l := env.Cluster.Leader(); l != 0 {
		return l, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return env.Cluster.WaitLeader(ctx)
}

func isolateLeader(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 3 {
		return nil, errNotApplicable
	}
	l, err := leader(ctx, env)
	if err != nil {
		return nil, err
	}
	return partitionInjection(env, []int{l}, without(members(n), l))
}

func isolateMember(_ context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 3 {
		return nil, errNotApplicable
	}
	m := 1 + int(choice%uint64(n))
	return partitionInjection(env, []int{m}, without(members(n), m))
}

// split cuts the cluster into a minority and a majority.
func split(_ context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 3 {
		return nil, errNotApplicable
	}
	order := shuffled(n, choice)
	minority := (n - 1) / 2
	return partitionInjection(env, append([]int(nil), order[:minority]...), append([]int(nil), order[minority:]...))
}

// bridge cuts the cluster into two sides that only one member, the bridge,
// sees both of: links across the sides are cut, the bridge's are not.
func bridge(_ context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 3 {
		return nil, errNotApplicable
	}
	order := shuffled(n, choice)
	b, rest := order[0], order[1:]
	left, right := rest[:len(rest)/2], rest[len(rest)/2:]
	l, r := append([]int(nil), left...), append([]int(nil), right...)
	sort.Ints(l)
	sort.Ints(r)
	return &injection{
		event: history.FaultEvent{Member: b,
			Detail: fmt.Sprintf("%s | %s, bridged by %d", groupString(l), groupString(r), b)},
		apply: func(context.Context) error {
			for _, a := range l {
				for _, c := range r {
					if err := env.Cluster.CutLink(a, c); err != nil {
						return err
					}
				}
			}
			return nil
		},
		heal: func(context.Context) error { return env.Cluster.Heal() },
	}, nil
}

// latency slows every link of one member.
func latency(_ context.Context, env *Env, choice uint64) (*injection, error) {
	n := env.Cluster.Size()
	if n < 2 {
		return nil, errNotApplicable
	}
	m := 1 + int(choice%uint64(n))
	d := time.Duration(50+choice/uint64(n)%150) * time.Millisecond
	return &injection{
		event: history.FaultEvent{Member: m, Detail: fmt.Sprintf("%v on every link of member %d", d, m)},
		apply: func(context.Context) error {
			for _, o := range without(members(n), m) {
				if err := errors.Join(env.Cluster.SetLinkLatency(m, o, d), env.Cluster.SetLinkLatency(o, m, d)); err != nil {
					return err
				}
			}
			return nil
		},
		heal: func(context.Context) error { return env.Cluster.Heal() },
	}, nil
}
