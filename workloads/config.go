package workloads

import (
	"fmt"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Kind is what a workload exercises: the history's workload vocabulary.
type Kind = history.Workload

// Workload kinds.
const (
	KindLock     = history.WorkloadLock
	KindElection = history.WorkloadElection
)

// Backend selects the built-in lock or election implementation.
type Backend string

// Built-in backends.
const (
	// BackendGRPC uses etcd's v3lock and v3election gRPC services.
	BackendGRPC Backend = "grpc"
	// BackendConcurrency uses clientv3/concurrency's Mutex and Election.
	BackendConcurrency Backend = "concurrency"
)

// Validate returns an error unless b is a built-in backend, so that every
// layer that takes a backend name accepts and rejects the same names.
func (b Backend) Validate() error {
	if b != BackendGRPC && b != BackendConcurrency {
		return fmt.Errorf("backend %q (expected %s or %s)", b, BackendGRPC, BackendConcurrency)
	}
	return nil
}

// Config describes a workload. Zero fields take the defaults shown; for
// Writes, MaxThink, TryLock and Observers a negative value means none.
type Config struct {
	Kind    Kind
	Backend Backend // default grpc; ignored where Locker or Elector is set
	// Clients is the number of lock or election clients (default 5); for
	// elections, the last third of them (rounded up) only read the leader.
	Clients int
	// Names is the number of lock names (l0, l1, ...) or election names
	// (e0, e1, ...); default 2.
	Names int
	// LeaseTTL is each client's lease TTL, rounded up to whole seconds
	// (default 2s). etcd raises it to its minimum, 1.5 election timeouts.
	LeaseTTL time.Duration
	// Seed makes every client's choices reproducible (see Intent).
	Seed int64
	// MaxThink bounds the random think time before each operation
	// (default 50ms).
	MaxThink time.Duration
	// OpTimeout bounds each operation (default 2s) but lock and campaign.
	OpTimeout time.Duration
	// WaitTimeout bounds lock and campaign, which wait for the holder
	// (default 3 * LeaseTTL).
	WaitTimeout time.Duration
	// Writes is the number of writes per critical section, and of proclaims
	// per term in elections (default 3).
	Writes int
	// Unfenced is the fraction of writes that are plain puts, from 0 (none:
	// every write is fenced) to 1. It means what faults.Scenario.Unfenced
	// means: the zero value is none, not a default.
	Unfenced float64
	// TryLock is the fraction of lock operations that use TryLock when the
	// Locker implements TryLocker (default 0.25).
	TryLock float64
	// LongHold is the fraction of cycles whose hold (the pause before the
	// unlock or resign) lasts HoldFor or up to half as long again, so that
	// waiters wait longer than a lease lives; from 0 (none) to 1.
	LongHold float64
	// HoldFor is how long a long hold lasts at least (default 2 * LeaseTTL).
	HoldFor time.Duration
	// ReleaseRetries is how many times an unlock or resign of unknown
	// outcome is tried again, on the same lock or election object, before
	// the lease is abandoned, as applications do (default 2; negative:
	// none).
	ReleaseRetries int
	// RetryUnlockLater: an unlock that did not succeed is not tried again
	// at once but once after each of the client's next lock grants, up to
	// ReleaseRetries times, while the client goes on (see
	// Client.retryStaleUnlock), as asynchronous retry code does. Its lease
	// is not abandoned.
	RetryUnlockLater bool
	// CampaignBackoff: after a campaign returns an error that is not its
	// context's end, the client keeps its lease alive this long before it
	// gives it up, as an application does that backs off before it starts
	// over; a key the campaign left behind lives as long (0: it gives the
	// lease up at once).
	CampaignBackoff time.Duration
	// TTLProbe is how often each client's lease keeper asks TimeToLive
	// between keep-alives (0: never; a client still asks when its lease
	// looks lost).
	TTLProbe time.Duration
	// EveryEndpoint gives each client every member as an endpoint
	// (harness.Cluster.NewClientAll), as applications configure etcd
	// clients, instead of one member: gRPC's balancer spreads its requests
	// over the members and can leave out one that stops answering. Its
	// operations then name no member in the history.
	EveryEndpoint bool
	// LeaseKeys is how many extra keys each client puts with every lease it
	// grants, right after the grant (see attachKeys), up to MaxLeaseKeys;
	// its TimeToLive questions then ask for the lease's keys. A revoke
	// deletes a lease's keys one by one before it forgets the lease, so
	// more keys widen that window (etcd issue 14758). 0: none.
	LeaseKeys int
	// Observers is the number of long-lived Observe streams per election
	// name, each its own client (default 1).
	Observers int
	// MaxOps bounds the operations of a run (default 1,000,000): clients
	// stop after the cycle in which the budget is spent.
	MaxOps int64
	// Prefix is the etcd key prefix of locks, elections and resource keys
	// (default "/etcdchaos").
	Prefix string
	// ClientBase is added to the workload's client ids (1, 2, ...) in the
	// history, so that several workloads can share one recorder. Choices are
	// seeded by the workload-local id, so a seed reproduces them whatever
	// the base.
	ClientBase int
	// Locker and Elector, if set, replace the backend's implementation.
	Locker  LockerFactory
	Elector ElectorFactory
	// Mutant names a deliberately broken client (see Mutants) that wraps
	// the Locker or Elector in use; a mutant of the other kind is ignored.
	Mutant string
	// Fixes are etcd issues whose client-side fix (see Fixes) wraps the
	// Elector in use, to show that a finding is etcd's.
	Fixes []int
}

// Defaults.
const (
	DefaultClients   = 5
	DefaultNames     = 2
	DefaultLeaseTTL  = 2 * time.Second
	DefaultMaxThink  = 50 * time.Millisecond
	DefaultOpTimeout = 2 * time.Second
	DefaultWrites    = 3
	DefaultTryLock   = 0.25
	DefaultRetries   = 2
	DefaultMaxOps    = 1_000_000
	DefaultPrefix    = "/etcdchaos"
)

// withDefaults fills zero fields and validates the result.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Kind != KindLock && cfg.Kind != KindElection {
		return cfg, fmt.Errorf("workload config: kind %q is not lock or election", cfg.Kind)
	}
	if cfg.Backend == "" {
		cfg.Backend = BackendGRPC
	}
	if err := cfg.Backend.Validate(); err != nil {
		return cfg, fmt.Errorf("workload config: %w", err)
	}
	if cfg.Mutant != "" {
		if _, err := LookupMutant(cfg.Mutant); err != nil {
			return cfg, fmt.Errorf("workload config: %w", err)
		}
	}
	for _, issue := range cfg.Fixes {
		if _, err := LookupFix(issue); err != nil {
			return cfg, fmt.Errorf("workload config: %w", err)
		}
	}
	intDefault(&cfg.Clients, DefaultClients)
	intDefault(&cfg.Names, DefaultNames)
	intDefault(&cfg.Writes, DefaultWrites)
	intDefault(&cfg.Observers, 1)
	intDefault(&cfg.ReleaseRetries, DefaultRetries)
	if cfg.ClientBase < 0 || cfg.Clients < 0 || cfg.Names < 0 || cfg.LeaseTTL < 0 || cfg.OpTimeout < 0 || cfg.WaitTimeout < 0 || cfg.MaxOps < 0 || cfg.TTLProbe < 0 {
		return cfg, fmt.Errorf("workload config: negative clients, names, TTL, timeout, probe interval or budget")
	}
	if cfg.LeaseKeys < 0 || cfg.LeaseKeys > MaxLeaseKeys {
		return cfg, fmt.Errorf("workload config: lease keys %d is not from 0 to %d", cfg.LeaseKeys, MaxLeaseKeys)
	}
	durDefault(&cfg.LeaseTTL, DefaultLeaseTTL)
	cfg.LeaseTTL = (cfg.LeaseTTL + time.Second - 1).Truncate(time.Second)
	durDefault(&cfg.MaxThink, DefaultMaxThink)
	durDefault(&cfg.OpTimeout, DefaultOpTimeout)
	durDefault(&cfg.WaitTimeout, 3*cfg.LeaseTTL)
	durDefault(&cfg.HoldFor, 2*cfg.LeaseTTL)
	floatDefault(&cfg.TryLock, DefaultTryLock)
	if cfg.Unfenced < 0 || cfg.Unfenced > 1 {
		return cfg, fmt.Errorf("workload config: unfenced %v is not a fraction from 0 to 1", cfg.Unfenced)
	}
	if cfg.LongHold < 0 || cfg.LongHold > 1 {
		return cfg, fmt.Errorf("workload config: long-hold %v is not a fraction from 0 to 1", cfg.LongHold)
	}
	if cfg.TryLock > 1 {
		return cfg, fmt.Errorf("workload config: try-lock fraction %v is above 1", cfg.TryLock)
	}
	if cfg.MaxOps == 0 {
		cfg.MaxOps = DefaultMaxOps
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	return cfg, nil
}

func intDefault(v *int, d int) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

func durDefault(v *time.Duration, d time.Duration) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

func floatDefault(v *float64, d float64) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

// readers is how many election clients only read the leader.
func (cfg Config) readers() int {
	if cfg.Kind != KindElection {
		return 0
	}
	return (cfg.Clients + 2) / 3
}

// names returns the history names of the locks or elections.
func (cfg Config) names() []string {
	letter := "l"
	if cfg.Kind == KindElection {
		letter = "e"
	}
	out := make([]string, cfg.Names)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", letter, i)
	}
	return out
}

// EtcdName is the etcd key prefix of a lock or election name.
func (cfg Config) EtcdName(name string) string {
	return cfg.Prefix + "/" + string(cfg.Kind) + "/" + name
}

// resourceKey is the key the critical sections of lock name write.
func (cfg Config) resourceKey(name string) string {
	return cfg.Prefix + "/res/" + name
}
