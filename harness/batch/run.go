// Package batch carries out a plan of chaos runs (a nightly matrix, an etcd
// release zoo, a soak, run --until-fail): its runs on N workers at once,
// within an optional budget, and one aggregate report in the out directory
// (aggregate.json, junit.xml, index.html, one run directory per run) with
// one exit code. Planning is elsewhere (harness/nightly, cmd/etcdchaos);
// this package only executes, slices plans into shards and reports
// progress.
package batch

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// RunOverhead is what a run is estimated to take beyond its duration:
// starting the cluster, liveness, checking and the report.
const RunOverhead = 5 * time.Second

// Run is one run of a plan, described fully enough to be carried out and
// reproduced alone.
type Run struct {
	// ID names the run's directory inside the batch's out directory. It is
	// unique within a plan, and so across the shards of one.
	ID       string
	Scenario string
	// Etcd labels the etcd binary when a batch compares several (a
	// release such as v3.5.12); empty otherwise.
	Etcd string
	// Options are the run's: seed, duration, members, backend, mode, etcd
	// binary and the rest. Execute sets Out (OUT/ID) and Command, and
	// CheckTimeout when it is zero.
	Options runner.Options
}

// Estimate is the run's expected wall-clock time.
func (r Run) Estimate() time.Duration { return r.duration() + RunOverhead }

// duration, members, backend and mode are the options with the runner's
// defaults filled in, as the run will use them.
func (r Run) duration() time.Duration { return cmp.Or(r.Options.Duration, 30*time.Second) }
func (r Run) members() int            { return cmp.Or(r.Options.Members, 3) }
func (r Run) backend() workloads.Backend {
	return cmp.Or(r.Options.Backend, workloads.BackendConcurrency)
}
func (r Run) mode() string { return cmp.Or(r.Options.Mode, harness.ModeEmbedded) }

// Command is the `etcdchaos run` command line that reproduces the run
// alone: every option that changes what runs, defaults left out where the
// command's own defaults are the same.
func (r Run) Command() string {
	o := r.Options
	parts := []string{"etcdchaos", "run", "--scenario", r.Scenario, "--seed", strconv.FormatInt(o.Seed, 10),
		"--duration", r.duration().String(), "--members", strconv.Itoa(r.members())}
	if o.Clients > 0 { // else the scenario's
		parts = append(parts, "--clients", strconv.Itoa(o.Clients))
	}
	parts = append(parts, "--backend", string(r.backend()))
	if o.Unfenced != nil {
		parts = append(parts, "--unfenced", strconv.FormatFloat(*o.Unfenced, 'g', -1, 64))
	}
	if o.Strict {
		parts = append(parts, "--strict")
	}
	if o.Mutant != "" {
		parts = append(parts, "--mutant", o.Mutant)
	}
	if len(o.Fixes) > 0 {
		fixes := make([]string, len(o.Fixes))
		for i, issue := range o.Fixes {
			fixes[i] = strconv.Itoa(issue)
		}
		parts = append(parts, "--fix", strings.Join(fixes, ","))
	}
	if r.mode() != harness.ModeEmbedded {
		parts = append(parts, "--mode", r.mode())
	}
	if o.EtcdBin != "" {
		parts = append(parts, "--etcd-bin", o.EtcdBin)
	}
	if o.Network != "" && o.Network != harness.NetworkProxy {
		parts = append(parts, "--network", o.Network)
	}
	if len(o.Endpoints) > 0 {
		parts = append(parts, "--endpoints", strings.Join(o.Endpoints, ","))
	}
	if o.LeaseCheckpoint {
		parts = append(parts, "--lease-checkpoint")
	}
	return strings.Join(parts, " ")
}

// aggregateRun is the run's entry in the aggregate report, before it ran.
func (r Run) aggregateRun(position int) reports.AggregateRun {
	return reports.AggregateRun{ID: r.ID, PlanIndex: position, Scenario: r.Scenario, Backend: string(r.backend()), Mode: r.mode(),
		Members: r.members(), Seed: r.Options.Seed, Planned: r.duration(), Command: r.Command(), Etcd: r.Etcd}
}

// Plan is a batch of runs in order. A shard of a plan (Plan.Shard) keeps
// the runs that fall to it, in the plan's order, and remembers which shard
// it is and how many runs the whole plan has, for the aggregate report.
type Plan struct {
	Runs []Run
	// Slice is the shard this plan is of a larger one; zero for a whole
	// plan. Total is the whole plan's run count (0: len(Runs)).
	Slice Shard
	Total int
	// positions are the runs' 1-based positions in the whole plan, set by
	// Shard; nil for a whole plan, whose run i is at i+1.
	positions []int
}

// position is run i's 1-based position in the whole plan.
func (p Plan) position(i int) int {
	if p.positions == nil {
		return i + 1
	}
	return p.positions[i]
}

// total is the number of runs of the whole plan.
func (p Plan) total() int { return cmp.Or(p.Total, len(p.Runs)) }

// Modes are the member modes of the plan's runs, each once.
func (p Plan) Modes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range p.Runs {
		if m := r.mode(); !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
