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
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
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
	selected       []faults.Scenario
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
	fs.StringVar(&f.out, "out", filepath.Join("runs", "soak"), "directory of the run directories, OUT/<scenario>-<seed>")
	fs.StringVar(&f.scenarios, "scenarios", "", "comma-separated scenarios to run (default: all)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "checker timeout per check")
	f.cluster.register(fs)
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
	f.selected = faults.Scenarios()
	if f.scenarios != "" {
		f.selected = nil
		for _, name := range strings.Split(f.scenarios, ",") {
			sc, err := faults.Lookup(strings.TrimSpace(name))
			if err != nil {
				return nil, fmt.Errorf("--scenarios: %w", err)
			}
			f.selected = append(f.selected, sc)
		}
	}
	return f, nil
}

// soakRow is one run of a soak.
type soakRow struct {
	scenario string
	seed     int64
	verdict  models.Verdict
	code     int
	note     string
}

func (r soakRow) failed() bool { return r.code != 0 }

// runSoak implements `etcdchaos soak [--seeds K] [--duration D] [--out DIR]
// [--scenarios a,b]`: every scenario times K seeds, one after another, on
// unmodified etcd. A run fails on any violation, unknown verdict or failed
// liveness; unsafe-without-fencing (etcd's documented hazard) does not fail
// it. Exit 0 when no run failed, 1 otherwise.
func runSoak(args []string, stdout, stderr io.Writer) int {
	f, err := parseSoakFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos soak: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rows []soakRow
	for _, sc := range f.selected {
		for i := range f.seeds {
			if ctx.Err() != nil {
				break
			}
			row := soakOne(ctx, sc, f.firstSeed+int64(i), f)
			fmt.Fprintf(stderr, "%s seed %d: %s\n", row.scenario, row.seed, row.verdict)
			rows = append(rows, row)
		}
	}
	return printSoak(stdout, rows, ctx.Err() != nil)
}

// soakOne runs one scenario with one seed.
func soakOne(ctx context.Context, sc faults.Scenario, seed int64, f *soakFlags) soakRow {
	rf := runFlags{scenario: sc.Name, seed: seed, duration: f.duration, members: f.members,
		backend: f.backend, unfenced: -1, cluster: f.cluster}
	opts := runner.Options{Seed: seed, Duration: f.duration, Members: f.members, Backend: workloads.Backend(f.backend),
		Out: filepath.Join(f.out, fmt.Sprintf("%s-%d", sc.Name, seed)), CheckTimeout: f.timeout,
		Command: rf.reproCommand()}
	f.cluster.apply(&opts)
	res, err := runner.Run(ctx, sc, opts)
	row := soakRow{scenario: sc.Name, seed: seed, verdict: res.Verdict, code: res.ExitCode}
	switch {
	case err != nil:
		row.code, row.note = max(res.ExitCode, models.ExitUnknown), err.Error()
		if row.verdict == "" {
			row.verdict = models.Unknown
		}
	case res.ExitCode != 0:
		row.note = failingChecks(res) + "; reproduce with: " + opts.Command
	case res.Verdict == models.UnsafeWithoutFencing:
		row.note = "unsafe without fencing (documented hazard, not a failure)"
	case len(res.Check.KnownIssues) > 0:
		row.note = knownIssues(res.Check.KnownIssues)
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
func failingChecks(res runner.Result) string {
	var out []string
	for _, c := range res.Check.Checks {
		if c.Fails {
			out = append(out, fmt.Sprintf("%s %s %s", c.Check, c.Name, c.Verdict))
		}
	}
	return strings.Join(out, ", ")
}

// printSoak prints the table of runs and returns the exit code of the
// README's table: 1 when a run found a violation (or, under --strict, a
// known issue), else 3 when a run was unknown or could not be carried out,
// or the soak was interrupted before every run was done, else 0.
func printSoak(w io.Writer, rows []soakRow, interrupted bool) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSEED\tVERDICT\tEXIT\tNOTE")
	failed := 0
	codes := make([]int, 0, len(rows)+1)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.scenario, r.seed, r.verdict, r.code, r.note)
		if r.failed() {
			failed++
		}
		codes = append(codes, r.code)
	}
	tw.Flush()
	fmt.Fprintf(w, "soak: %d runs, %d failed\n", len(rows), failed)
	if interrupted {
		fmt.Fprintln(w, "soak: interrupted before every run was done")
		codes = append(codes, models.ExitUnknown)
	}
	return models.WorstExit(codes...)
}
