package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
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
	// Waiting reports which lock or election the client is waiting for in
	// Lock or Campaign, if any.
	Waiting() (name string, ok bool)
	// Pause stops the client at its next step; Resume lets it go on.
	Pause()
	Resume()
	// StopKeepAlive stops renewing the client's current lease and returns it.
	StopKeepAlive() int64
}

// Cluster is what injectors need of the cluster under test;
// *harness.Cluster has it, and a test can stand in for it.
type Cluster interface {
	Size() int
	Mode() string
	// Leader is the current leader, 0 when none is known.
	Leader() int
	WaitLeader(ctx context.Context) (int, error)

	Kill(member int) error
	Restart(member int) error
	PauseMember(member int) error
	ResumeMember(member int) error
	// CanStallDisks is nil when StallDisk works on the cluster, else why
	// not.
	CanStallDisks() error
	StallDisk(member int) error
	UnstallDisk(member int) error
	MoveLeader(ctx context.Context, to int) error

	Partition(groups ...[]int) error
	CutLink(a, b int) error
	SetLinkLatency(from, to int, d time.Duration) error
	// HangClientPort makes every client connection to member's client port
	// hang (accepted, never answered) while its peer links work.
	HangClientPort(member int) error
	UnhangClientPort(member int) error
	// Heal restores every member link and its speed, and every client
	// port.
	Heal() error

	IsolateClient(c *harness.Client) error
	ReconnectClient(c *harness.Client) error
	PauseClient(c *harness.Client) error
	ResumeClient(c *harness.Client) error
	HoldClientAnswers(c *harness.Client) error
	ReleaseClientAnswers(c *harness.Client) error
}

// LeaseRevoker revokes leases from outside the clients' own links;
// *clientv3.Client is one.
type LeaseRevoker interface {
	Revoke(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseRevokeResponse, error)
}

// Env is what injectors act on.
type Env struct {
	Cluster Cluster
	Clients []Client
	// Admin revokes the clients' leases.
	Admin LeaseRevoker
	// LeaseTTL is the clients' lease TTL.
	LeaseTTL time.Duration
}

// errNotApplicable means the injector cannot act in this cluster or moment
// (e.g. a partition of a one-member cluster); the step is skipped.
var errNotApplicable = errors.New("fault not applicable")

// injection is a planned fault: its event, how to start it and how to heal
// it. The nemesis records the start event before apply, so the recorded
// interval always covers the fault's effect. The event's kind is the
// injector's; heal is nil when there is nothing to undo, and is never
// called for a one-shot kind.
type injection struct {
	event history.FaultEvent
	apply func(ctx context.Context) error
	heal  func(ctx context.Context) error
}

type injectFunc func(ctx context.Context, env *Env, choice uint64) (*injection, error)

// injector is a named way to inject faults of one kind. Each injector file
// registers its own; what depends on the kind (one-shot or not, client-side
// or not) is read from the kind.
type injector struct {
	kind   history.FaultKind
	inject injectFunc
	// lasts is how long an interval fault lasts; nil means the scenario's
	// FaultFor, jittered.
	lasts func(rng *rand.Rand, s Scenario) time.Duration
}

var injectors = map[string]injector{}

// register adds an injector of the named fault kind; it is called from each
// injector file's init.
func register(name, kind string, inject injectFunc, lasts func(*rand.Rand, Scenario) time.Duration) {
	if _, dup := injectors[name]; dup {
		panic("faults: injector " + name + " registered twice")
	}
	injectors[name] = injector{kind: history.FaultKindOf(kind), inject: inject, lasts: lasts}
}

// clientSide reports whether the injector acts only on clients, their links
// and their leases.
func (inj injector) clientSide() bool {
	return inj.kind.Target == history.TargetClient || inj.kind.Target == history.TargetLease
}

// ClientSide reports whether injector name acts only on clients, their
// links and their leases (its kind targets a client or a lease), so it also
// works on a cluster the harness did not start; the others need a cluster
// whose members the harness runs.
func ClientSide(name string) bool {
	inj, ok := injectors[name]
	return ok && inj.clientSide()
}

// Injectors lists every injector name.
func Injectors() []string {
	names := make([]string, 0, len(injectors))
	for name := range injectors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
