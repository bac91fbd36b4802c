package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/nightly"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
)

func init() {
	register("soak", command{summary: "run every scenario with several seeds on unmodified etcd; fail on any failing run", run: runSoak})
}

// soakFlags are the soak command's options.
type soakFlags struct {
	seeds, members int
	firstSeed      int64
	duration       time.Duration
	timeout        time.Duration
	out, scenarios string
	backend        string
	cluster        clusterFlags
	batch          batchFlags
	selected       []string
}

func parseSoakFlags(args []string, stderr io.Writer) (*soakFlags, error) {
	f := &soakFlags{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&f.seeds, "seeds", 3, "seeds per scenario (K)")
	fs.Int64Var(&f.firstSeed, "seed", 1, "first seed: each scenario runs seeds SEED..SEED+K-1")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "how long each run's workloads and faults last")
	fs.IntVar(&f.members, "members", 3, "cluster size: 1, 3 or 5")
	fs.StringVar(&f.backend, "backend", string(workloads.BackendConcurrency), "client implementation: grpc or concurrency")
	fs.StringVar(&f.out, "out", filepath.Join("runs", "soak"), "directory of the run directories, OUT/<scenario>-<seed>, and of the aggregate report")
	fs.StringVar(&f.scenarios, "scenarios", "", "comma-separated scenarios to run (default: all)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "checker timeout per check")
	f.cluster.register(fs)
	f.batch.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.seeds < 1 || f.seeds > 1000 {
		return nil, fmt.Errorf("--seeds %d: expected 1 to 1000", f.seeds)
	}
	if err := f.cluster.validate(); err != nil {
		return nil, err
	}
	if err := f.batch.validate(); err != nil {
		return nil, err
	}
	for _, sc := range faults.Scenarios() {
		f.selected = append(f.selected, sc.Name)
	}
	if f.scenarios != "" {
		f.selected = nil
		for _, name := range strings.Split(f.scenarios, ",") {
			sc, err := faults.Lookup(strings.TrimSpace(name))
			if err != nil {
				return nil, fmt.Errorf("--scenarios: %w", err)
			}
			f.selected = append(f.selected, sc.Name)
		}
	}
	return f, nil
}

// plan is the whole soak, every selected scenario times K seeds.
func (f *soakFlags) plan() (batch.Plan, error) {
	opts := runner.Options{Duration: f.duration, Members: f.members, Backend: workloads.Backend(f.backend),
		CheckTimeout: f.timeout}
	f.cluster.apply(&opts)
	return nightly.PlanSoak(nightly.Soak{Scenarios: f.selected, Seeds: f.seeds, Seed: f.firstSeed, Options: opts})
}

// soakRow is one run of a soak.
type soakRow struct {
	scenario string
	seed     int64
	verdict  models.Verdict
	code     int
	note     string
}

// runSoak implements `etcdchaos soak [--seeds K] [--duration D] [--out DIR]
// [--scenarios a,b]`: every scenario times K seeds on unmodified etcd,
// --parallel at a time. Exit codes are the batch's (batch.ExitCode): 1 on
// any violation, else 3 on any unknown verdict, run that could not be
// carried out or interruption, else 0; unsafe-without-fencing (etcd's
// documented hazard) and known etcd issues do not fail it.
func runSoak(args []string, stdout, stderr io.Writer) int {
	f, err := parseSoakFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos soak: %v\n", err)
		return exitUsage
	}
	whole, err := f.plan()
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos soak: %v\n", err)
		return exitUsage
	}
	plan := whole.Shard(f.batch.shard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f.batch.announce(stderr, "soak", plan, "", f.out)
	res, err := batch.Execute(ctx, plan, batch.Options{Out: f.out, Name: "soak", Parallel: f.batch.workers(plan),
		CheckTimeout: f.timeout, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos soak: %v\n", err)
		return models.ExitUnknown
	}
	rows := make([]soakRow, len(res.Aggregate.Runs))
	for i, ar := range res.Aggregate.Runs {
		rows[i] = soakRowOf(ar)
	}
	printSoak(stdout, rows, res.Interrupted)
	return res.ExitCode
}

// soakRowOf is a run's line in the soak's table.
func soakRowOf(ar reports.AggregateRun) soakRow {
	row := soakRow{scenario: ar.Scenario, seed: ar.Seed, verdict: ar.Verdict(), code: batch.RunExit(ar)}
	s := ar.Summary
	switch {
	case ar.Error != "" || ar.Skipped != "":
		row.note = ar.Error + ar.Skipped
	case row.code != 0:
		row.note = failingChecks(s) + "; reproduce with: " + ar.Command
	case s.Verdict == models.UnsafeWithoutFencing:
		row.note = "unsafe without fencing (documented hazard, not a failure)"
	case len(s.KnownIssues) > 0:
		row.note = knownIssues(s.KnownIssues)
	}
	return row
}

// knownIssues names the known etcd bugs a run found, each once with its
// count, saying which are upstream issues and which etcdchaos's own.
func knownIssues(known []models.Finding) string {
	var out []string
	for _, c := range models.CountIssues(known) {
		out = append(out, fmt.Sprintf("%s (%d)", c.Issue.Label(), c.Count))
	}
	return strings.Join(out, ", ")
}

// failingChecks names the checks that failed a run.
func failingChecks(s *reports.Summary) string {
	var out []string
	for _, c := range s.Checks {
		if c.Fails {
			out = append(out, fmt.Sprintf("%s %s %s", c.Check, c.Name, c.Verdict))
		}
	}
	return strings.Join(out, ", ")
}

// printSoak prints the table of runs, and a line saying the soak was
// interrupted if it was.
func printSoak(w io.Writer, rows []soakRow, interrupted bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSEED\tVERDICT\tEXIT\tNOTE")
	failed := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.scenario, r.seed, r.verdict, r.code, r.note)
		if r.code != 0 {
			failed++
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "soak: %d runs, %d failed\n", len(rows), failed)
	if interrupted {
		fmt.Fprintln(w, "soak: interrupted before every run was done")
	}
}
