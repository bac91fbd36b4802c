package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// Injector names, as used in scenarios.
const (
	IsolateLeader = "isolate-leader"
	IsolateMember = "isolate-member"
	Split         = "split"
	Bridge        = "bridge"
	Latency       = "latency"
	IsolateClient = "isolate-client"
	RevokeLease   = "revoke-lease"
	ExpireLease   = "expire-lease"
	PauseClient   = "pause-client"
	KillMember    = "kill-member"
	KillLeader    = "kill-leader"
	MoveLeader    = "move-leader"
	PauseMember   = "pause-member"
)

// Fault kinds as recorded in a history's fault events.
const (
	KindPartition     = "partition"
	KindLatency       = "latency"
	KindIsolateClient = "isolate-client"
	KindPauseClient   = "pause-client"
	KindRevokeLease   = "revoke-lease"
	KindExpireLease   = "expire-lease"
	KindKillMember    = "kill-member"
	KindMoveLeader    = "move-leader"
	KindPauseMember   = "pause-member"
)

// Client is what the nemesis needs of a workload client.
type Client interface {
	ID() int
	Member() int
	Conn() *harness.Client
	// Lease is the client's current lease (0 if it has none).
	Lease() int64
	// Holding reports which lock or election the client believes it holds
	// or leads, if any.
	Holding() (name string, ok bool)
	// Pause stops the client at its next step; Resume lets it go on.
	Pause()
	Resume()
	// StopKeepAlive stops renewing the client's current lease and returns it.
	StopKeepAlive() int64
}

// Env is what injectors act on.
type Env struct {
	Cluster *harness.Cluster
	Clients []Client
	// Admin is a client used to act on leases (revoke) from outside the
	// clients' own links.
	Admin *clientv3.Client
	// LeaseTTL is the clients' lease TTL.
	LeaseTTL time.Duration
}

// errNotApplicable means the injector cannot act in this cluster or moment
// (e.g. a partition of a one-member cluster); the step is skipped.
var errNotApplicable = errors.New("fault not applicable")

// injection is a planned fault: its event, how to start it and how to heal
// it. The nemesis records the start event before apply, so the recorded
// interval always covers the fault's effect.
type injection struct {
	event history.FaultEvent
	apply func(ctx context.Context) error
	heal  func(ctx context.Context) error // nil for one-shot faults
}

type injectFunc func(ctx context.Context, env *Env, choice uint64) (*injection, error)

var injectors = map[string]injectFunc{
	IsolateLeader: isolateLeader,
	IsolateMember: isolateMember,
	Split:         split,
	Bridge:        bridge,
	Latency:       latency,
	IsolateClient: isolateClient,
	RevokeLease:   revokeLease,
	ExpireLease:   expireLease,
	PauseClient:   pauseClient,
	KillMember:    killMember,
	KillLeader:    killLeader,
	MoveLeader:    moveLeader,
	PauseMember:   pauseMember,
}

// clientSide lists the injectors that act only on clients and their links,
// so they also work on a cluster the harness did not start.
var clientSide = map[string]bool{IsolateClient: true, PauseClient: true, RevokeLease: true, ExpireLease: true}

// ClientSide reports whether injector name acts only on clients and their
// links (isolate-client, pause-client, revoke-lease, expire-lease); the
// others need a cluster whose members the harness runs.
func ClientSide(name string) bool { return clientSide[name] }

// Injectors lists every injector name.
func Injectors() []string {
	names := make([]string, 0, len(injectors))
	for name := range injectors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
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
		event: history.FaultEvent{Fault: KindPartition, Detail: groupString(groups...)},
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
		event: history.FaultEvent{Fault: KindPartition, Member: b,
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
		event: history.FaultEvent{Fault: KindLatency, Member: m, Detail: fmt.Sprintf("%v on every link of member %d", d, m)},
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

// holderWait bounds how long a pause waits for a client to hold something.
const holderWait = 2 * time.Second

// awaitHolder waits, at most d, until some client holds a lock or leads, so
// that a pause catches a client inside its critical section.
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
		event: history.FaultEvent{Fault: KindIsolateClient, Target: c.ID(), Member: c.Member(),
			Detail: fmt.Sprintf("client %d cut from member %d", c.ID(), c.Member())},
		apply: func(context.Context) error { return env.Cluster.IsolateClient(c.Conn()) },
		heal:  func(context.Context) error { return env.Cluster.ReconnectClient(c.Conn()) },
	}, nil
}

// pickLeased picks a client with a lease, preferring one that holds a lock
// or leads, and returns it with its lease.
func pickLeased(env *Env, choice uint64) (Client, int64, error) {
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

func revokeLease(_ context.Context, env *Env, choice uint64) (*injection, error) {
	c, lease, err := pickLeased(env, choice)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Fault: KindRevokeLease, Target: c.ID(), Lease: lease,
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

func expireLease(_ context.Context, env *Env, choice uint64) (*injection, error) {
	c, lease, err := pickLeased(env, choice)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Fault: KindExpireLease, Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("keep-alives of lease %x of client %d stopped", lease, c.ID())},
		apply: func(context.Context) error {
			if c.StopKeepAlive() != lease {
				return fmt.Errorf("client %d changed lease before its keep-alives stopped", c.ID())
			}
			return nil
		},
		heal: func(context.Context) error { return nil },
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
		event: history.FaultEvent{Fault: KindPauseClient, Target: c.ID(), Lease: c.Lease(), Member: c.Member(),
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

func killInjection(env *Env, m int) (*injection, error) {
	return &injection{
		event: history.FaultEvent{Fault: KindKillMember, Member: m, Detail: fmt.Sprintf("member %d killed", m)},
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
		event: history.FaultEvent{Fault: KindMoveLeader, Member: to,
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
	m := 1 + int(choice%uint64(env.Cluster.Size()))
	return &injection{
		event: history.FaultEvent{Fault: KindPauseMember, Member: m, Detail: fmt.Sprintf("member %d paused (SIGSTOP)", m)},
		apply: func(context.Context) error { return env.Cluster.PauseMember(m) },
		heal:  func(context.Context) error { return env.Cluster.ResumeMember(m) },
	}, nil
}
