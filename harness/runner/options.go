// Package runner runs one chaos scenario end to end: it starts an etcd
// cluster, drives the scenario's workloads while the nemesis injects faults,
// heals, checks liveness, checks the recorded history and writes the run
// directory (history.jsonl, summary.json, junit.xml, index.html).
package runner

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// Options tune a run. The zero value runs 30 s on 3 members with seed 0.
type Options struct {
	Seed     int64
	Duration time.Duration // default 30 s
	Members  int           // 1, 3 or 5; default 3
	Clients  int           // clients per workload; default the scenario's, else 5
	Names    int           // lock or election names per workload; default 2 (or the mutant's)
	// Backend is workloads.BackendGRPC or workloads.BackendConcurrency
	// (the default).
	Backend workloads.Backend
	// Unfenced, when set, overrides the scenario's fraction of unfenced
	// writes (faults.Scenario.Unfenced): 0 is none, 1 is every write.
	Unfenced *float64
	// Mode is how members run: harness.ModeEmbedded (default) or
	// harness.ModeProcess, whose etcd binary is EtcdBin (default: found by
	// harness.FindEtcd).
	Mode    string
	EtcdBin string
	// Network is how member links are cut with ModeProcess:
	// harness.NetworkProxy (default) or harness.NetworkNetns (root only).
	Network string
	// LeaseCheckpoint turns on the members' lease checkpoints and their
	// persistence (harness.Config.LeaseCheckpoint); not with Endpoints.
	LeaseCheckpoint bool
	// Endpoints, if set, run against an existing cluster at these client
	// URLs instead of starting one: only client-side faults can run and
	// Members is the number of endpoints.
	Endpoints []string
	// keyPrefix isolates a run's keys on a shared (external) cluster.
	keyPrefix string
	// Out is the run directory; it is created if missing.
	Out string
	// Strict makes unsafe-without-fencing findings fail the run.
	Strict bool
	// CheckTimeout bounds each checker (default 60 s).
	CheckTimeout time.Duration
	// Progress receives a progress line while the run goes on (nil: none).
	Progress io.Writer
	// Log receives fault and lifecycle lines (nil: none); Verbose adds etcd's
	// own logs at info level.
	Log     io.Writer
	Verbose bool
	// Command is the command line that reproduces the run, for the report.
	Command string
	// Fixes are etcd issues whose client-side fix (workloads.Fixes) the
	// clients apply: the same seeds with and without them show that a
	// finding is etcd's.
	Fixes []int
	// Mutant names a deliberately broken client (workloads.Mutants) to run
	// instead of a correct one; the scenario must run its workload kind.
	Mutant string
	// Locker and Elector, if set, run the user's own lock or election
	// implementation instead of Backend's (see workloads.Locker and
	// workloads.Elector); a mutant wraps them like a built-in backend.
	Locker  workloads.LockerFactory
	Elector workloads.ElectorFactory
}

// errBadOptions marks invalid options (a usage error, not a run failure).
var errBadOptions = errors.New("invalid options")

// IsBadOptions reports whether err came from invalid options.
func IsBadOptions(err error) bool { return errors.Is(err, errBadOptions) }

func (o Options) withDefaults() (Options, error) {
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Members == 0 {
		o.Members = 3
	}
	if o.Clients == 0 {
		o.Clients = 5
	}
	if o.Names == 0 {
		o.Names = o.defaultNames()
	}
	if o.Backend == "" {
		o.Backend = workloads.BackendConcurrency
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 60 * time.Second
	}
	if err := o.Backend.Validate(); err != nil {
		return o, fmt.Errorf("%w: %w", errBadOptions, err)
	}
	switch {
	case o.Duration < 0:
		return o, fmt.Errorf("%w: duration %v must be positive", errBadOptions, o.Duration)
	case o.Members != 1 && o.Members != 3 && o.Members != 5:
		return o, fmt.Errorf("%w: members %d (expected 1, 3 or 5)", errBadOptions, o.Members)
	case o.Clients < 1 || o.Clients > 64:
		return o, fmt.Errorf("%w: clients %d (expected 1 to 64)", errBadOptions, o.Clients)
	case o.Names < 1 || o.Names > 64:
		return o, fmt.Errorf("%w: names %d (expected 1 to 64)", errBadOptions, o.Names)
	case o.Unfenced != nil && (*o.Unfenced < 0 || *o.Unfenced > 1):
		return o, fmt.Errorf("%w: unfenced %v (expected a fraction from 0 to 1)", errBadOptions, *o.Unfenced)
	case o.Out == "":
		return o, fmt.Errorf("%w: an output directory is required", errBadOptions)
	}
	return o, nil
}

// defaultNames is 2, or what the mutant asks for.
func (o Options) defaultNames() int {
	if o.Mutant != "" {
		if m, err := workloads.LookupMutant(o.Mutant); err == nil && m.Names > 0 {
			return m.Names
		}
	}
	return 2
}

// checkMutant validates the mutant against the scenario: it must exist and
// break a workload the scenario runs.
func (o Options) checkMutant(sc faults.Scenario) error {
	if o.Mutant == "" {
		return nil
	}
	m, err := workloads.LookupMutant(o.Mutant)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadOptions, err)
	}
	if !sc.Has(string(m.Kind)) {
		return fmt.Errorf("%w: mutant %s breaks %s clients but scenario %s runs no %s workload",
			errBadOptions, m.Name, m.Kind, sc.Name, m.Kind)
	}
	return nil
}

// Result is what a run found.
type Result struct {
	Dir      string
	Scenario faults.Scenario
	Seed     int64
	// Verdict and ExitCode are the history's (Check's): liveness is one of
	// its checks.
	Verdict  models.Verdict
	ExitCode int
	Check    models.Result
	Schedule faults.Schedule
	// Applied counts the faults applied, by injector.
	Applied map[string]int
	// Intents are each client's seeded choices, in order, by client id: the
	// same seed gives the same sequences (their lengths depend on timing).
	Intents     map[int][]workloads.Intent
	Interrupted bool
}
