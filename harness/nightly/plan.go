// Package nightly plans batches of chaos runs, for package batch to carry
// out: Plan, the nightly matrix that fits a time budget (scenarios x
// backends x cluster sizes x member modes, with seeds from the date);
// PlanZoo, the etcd release zoo (the same scenarios and seeds on several
// etcd binaries, for an etcd x scenario table); PlanSoak, every scenario
// times K seeds. A plan is the same whatever shard of it a process runs:
// plan first, then take the shard (batch.Plan.Shard).
//
// # Config file
//
// The optional JSON config (etcdchaos nightly --config FILE) either narrows
// the default matrix or lists runs explicitly; unknown fields are errors.
// Durations are Go duration strings.
//
//	{
//	  "seed": 20250101,                   // base seed (default: --seed, else the date as YYYYMMDD)
//	  "etcd_bin": "bin/etcd",             // etcd binary for process-mode runs
//	  "check_timeout": "20s",             // checker timeout per check
//	  "matrix": {                         // ignored when "runs" is given
//	    "scenarios": ["mixed", "lock-kill"], // default: every scenario
//	    "backends": ["concurrency", "grpc"], // default: both
//	    "members": [3, 5],                   // default: 3 and 5
//	    "modes": ["embedded", "process"],    // default: embedded
//	    "min_duration": "10s",               // shortest run worth doing (default 10s)
//	    "max_duration": "2m"                 // longest run (default 2m)
//	  },
//	  "runs": [                           // explicit runs, in order
//	    {"scenario": "mixed", "seed": 7, "members": 5, "backend": "grpc",
//	     "mode": "process", "duration": "45s"}
//	  ]
//	}
//
// Seeds of runs that give none are the base seed plus the run's index.
// Explicit runs without a duration share the budget equally.
package nightly

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// RunOverhead is what a run is estimated to take beyond its duration.
const RunOverhead = batch.RunOverhead

// Default matrix bounds.
const (
	DefaultMinDuration = 10 * time.Second
	DefaultMaxDuration = 2 * time.Minute
)

// Duration is a time.Duration written in JSON as a Go duration string.
type Duration time.Duration

// UnmarshalJSON parses "30s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config is the schema of the --config file (see the package doc).
type Config struct {
	Seed         *int64    `json:"seed,omitempty"`
	EtcdBin      string    `json:"etcd_bin,omitempty"`
	CheckTimeout Duration  `json:"check_timeout,omitempty"`
	Matrix       Matrix    `json:"matrix"`
	Runs         []RunSpec `json:"runs,omitempty"`
}

// Matrix lists the axes of the default plan.
type Matrix struct {
	Scenarios   []string            `json:"scenarios,omitempty"`
	Backends    []workloads.Backend `json:"backends,omitempty"`
	Members     []int               `json:"members,omitempty"`
	Modes       []string            `json:"modes,omitempty"`
	MinDuration Duration            `json:"min_duration,omitempty"`
	MaxDuration Duration            `json:"max_duration,omitempty"`
}

// RunSpec is one explicit run; zero fields take defaults.
type RunSpec struct {
	Scenario string            `json:"scenario"`
	Seed     *int64            `json:"seed,omitempty"`
	Members  int               `json:"members,omitempty"`
	Backend  workloads.Backend `json:"backend,omitempty"`
	Mode     string            `json:"mode,omitempty"`
	Duration Duration          `json:"duration,omitempty"`
}

// LoadConfig reads a config file; unknown fields are errors.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// DateSeed is the base seed of a night: the date as YYYYMMDD (UTC).
func DateSeed(t time.Time) int64 {
	y, m, d := t.UTC().Date()
	return int64(y*10000 + int(m)*100 + d)
}

// Plan returns the runs of cfg that fit budget, one after another, with
// seeds from seed (the config's seed wins). A matrix is cut to the runs
// that fit at its minimum duration, most varied first (every scenario once
// before any repeats); explicit runs are all returned, and batch.Execute
// skips those the budget no longer allows. The plan depends on the budget
// alone, not on how many runs go at once or which shard runs: every shard
// of a night plans the same runs.
func Plan(cfg Config, budget time.Duration, seed int64) (batch.Plan, error) {
	if budget <= 0 {
		return batch.Plan{}, errors.New("plan: the budget must be positive")
	}
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	var runs []batch.Run
	var err error
	if len(cfg.Runs) > 0 {
		runs, err = planRuns(cfg.Runs, budget, seed)
	} else {
		runs, err = planMatrix(cfg.Matrix, budget, seed)
	}
	if err != nil {
		return batch.Plan{}, err
	}
	for i := range runs {
		runs[i].Options.CheckTimeout = time.Duration(cfg.CheckTimeout)
		if runs[i].Options.Mode == harness.ModeProcess && runs[i].Options.EtcdBin == "" {
			runs[i].Options.EtcdBin = cfg.EtcdBin
		}
	}
	return batch.Plan{Runs: runs}, nil
}

// planned is one run of a matrix or a list before its id and seed.
type planned struct {
	scenario string
	members  int
	backend  workloads.Backend
	mode     string
	duration time.Duration
	seed     int64
}

// run is the planned run with index i in the plan.
func (p planned) run(i int, etcd string, etcdBin string) batch.Run {
	r := batch.Run{Scenario: p.scenario, Etcd: etcd, Options: runner.Options{Seed: p.seed, Duration: p.duration,
		Members: p.members, Backend: p.backend, Mode: p.mode, EtcdBin: etcdBin}}
	r.ID = runID(i, p, etcd)
	return r
}

func planMatrix(m Matrix, budget time.Duration, seed int64) ([]batch.Run, error) {
	m = m.withDefaults()
	if err := m.validate(); err != nil {
		return nil, err
	}
	var all []planned
	for _, mode := range m.Modes {
		for _, members := range m.Members {
			for _, backend := range m.Backends {
				for _, sc := range m.Scenarios {
					all = append(all, planned{scenario: sc, members: members, backend: backend, mode: mode})
				}
			}
		}
	}
	minD, maxD := time.Duration(m.MinDuration), time.Duration(m.MaxDuration)
	fit := int(budget / (minD + RunOverhead))
	if fit == 0 {
		return nil, fmt.Errorf("plan: a budget of %v is too small for one run of %v (plus %v overhead)", budget, minD, RunOverhead)
	}
	all = all[:min(fit, len(all))]
	d := min(budget/time.Duration(len(all))-RunOverhead, maxD).Truncate(time.Second)
	runs := make([]batch.Run, len(all))
	for i, p := range all {
		p.duration, p.seed = max(d, minD), seed+int64(i)
		runs[i] = p.run(i, "", "")
	}
	return runs, nil
}

func (m Matrix) withDefaults() Matrix {
	if len(m.Scenarios) == 0 {
		for _, sc := range faults.Scenarios() {
			m.Scenarios = append(m.Scenarios, sc.Name)
		}
	}
	if len(m.Backends) == 0 {
		m.Backends = []workloads.Backend{workloads.BackendConcurrency, workloads.BackendGRPC}
	}
	if len(m.Members) == 0 {
		m.Members = []int{3, 5}
	}
	if len(m.Modes) == 0 {
		m.Modes = []string{harness.ModeEmbedded}
	}
	if m.MinDuration == 0 {
		m.MinDuration = Duration(DefaultMinDuration)
	}
	if m.MaxDuration == 0 {
		m.MaxDuration = Duration(DefaultMaxDuration)
	}
	return m
}

func (m Matrix) validate() error {
	for _, sc := range m.Scenarios {
		if err := checkRun(RunSpec{Scenario: sc, Members: 3, Backend: workloads.BackendGRPC, Mode: harness.ModeEmbedded}); err != nil {
			return err
		}
	}
	for _, b := range m.Backends {
		if err := checkRun(RunSpec{Scenario: faults.DefaultScenario, Members: 3, Backend: b, Mode: harness.ModeEmbedded}); err != nil {
			return err
		}
	}
	for _, n := range m.Members {
		if err := checkRun(RunSpec{Scenario: faults.DefaultScenario, Members: n, Backend: workloads.BackendGRPC, Mode: harness.ModeEmbedded}); err != nil {
			return err
		}
	}
	for _, mode := range m.Modes {
		if err := checkRun(RunSpec{Scenario: faults.DefaultScenario, Members: 3, Backend: workloads.BackendGRPC, Mode: mode}); err != nil {
			return err
		}
	}
	if m.MinDuration > m.MaxDuration {
		return fmt.Errorf("plan: min_duration %v exceeds max_duration %v", time.Duration(m.MinDuration), time.Duration(m.MaxDuration))
	}
	return nil
}

// checkRun validates one run's fields (all filled in).
func checkRun(s RunSpec) error {
	if _, err := faults.Lookup(s.Scenario); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := s.Backend.Validate(); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	switch {
	case s.Members != 1 && s.Members != 3 && s.Members != 5:
		return fmt.Errorf("plan: members %d (expected 1, 3 or 5)", s.Members)
	case s.Mode != harness.ModeEmbedded && s.Mode != harness.ModeProcess:
		return fmt.Errorf("plan: mode %q (expected embedded or process)", s.Mode)
	}
	return nil
}

func planRuns(specs []RunSpec, budget time.Duration, seed int64) ([]batch.Run, error) {
	fixed, open := time.Duration(0), 0
	for _, s := range specs {
		if s.Duration > 0 {
			fixed += time.Duration(s.Duration) + RunOverhead
		} else {
			open++
		}
	}
	share := DefaultMinDuration
	if open > 0 {
		share = max((budget-fixed)/time.Duration(open)-RunOverhead, DefaultMinDuration).Truncate(time.Second)
		share = min(share, DefaultMaxDuration)
	}
	runs := make([]batch.Run, len(specs))
	for i, s := range specs {
		if s.Members == 0 {
			s.Members = 3
		}
		if s.Backend == "" {
			s.Backend = workloads.BackendConcurrency
		}
		if s.Mode == "" {
			s.Mode = harness.ModeEmbedded
		}
		if err := checkRun(s); err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		p := planned{scenario: s.Scenario, seed: seed + int64(i), members: s.Members, backend: s.Backend,
			mode: s.Mode, duration: cmp.Or(time.Duration(s.Duration), share)}
		if s.Seed != nil {
			p.seed = *s.Seed
		}
		runs[i] = p.run(i, "", "")
	}
	return runs, nil
}

// runID names run i of a plan: its place in the plan (so ids are unique
// and sort in plan order), then what it runs.
func runID(i int, p planned, etcd string) string {
	id := fmt.Sprintf("%02d-%s-%s-m%d", i+1, p.scenario, p.backend, p.members)
	if p.mode != harness.ModeEmbedded {
		id += "-" + p.mode
	}
	if etcd != "" {
		id += "-" + idSafe(etcd) + "-s" + strconv.FormatInt(p.seed, 10)
	}
	return id
}
