package faults

import (
	"context"
	"errors"
	"sort"
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
