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
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/nightly"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
)

func init() {
	register("zoo", command{summary: "run scenarios on several etcd releases and compare: which known etcd bugs each has", run: runZoo})
}

// zooFlags are the zoo command's options.
type zooFlags struct {
	versions, etcdBins, scenarios string
	out, backend                  string
	seeds, members                int
	seed                          int64
	budget, duration, timeout     time.Duration
	budgetGiven, listReleases     bool
	batch                         batchFlags
}

func parseZooFlags(args []string, stderr io.Writer) (*zooFlags, error) {
	f := &zooFlags{}
	fs := flag.NewFlagSet("zoo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.versions, "versions", "", "comma-separated etcd releases, e.g. v3.5.12,v3.5.13: bin/etcd-vX.Y.Z next to bin/etcd "+
		"(make etcd ETCD_VERSION=vX.Y.Z builds one; the pinned release is bin/etcd itself); default, with no --etcd-bin either: "+
		"the newest patch of each maintained line and the releases on both sides of each registered fix (--list-releases; make zoo-etcd builds them)")
	fs.BoolVar(&f.listReleases, "list-releases", false, "print the default release list, one per line, and exit")
	fs.StringVar(&f.etcdBins, "etcd-bin", "", "comma-separated etcd binaries, each PATH or LABEL=PATH (the label names it in the reports)")
	fs.StringVar(&f.scenarios, "scenarios", "", "comma-separated scenarios to run on each etcd (default: all)")
	fs.IntVar(&f.seeds, "seeds", 0, "seeds per scenario and etcd (default: as many as --budget allows, at least 1)")
	fs.Int64Var(&f.seed, "seed", 1, "first seed: each scenario runs seeds SEED..SEED+K-1 on every etcd")
	fs.DurationVar(&f.budget, "budget", 15*time.Minute, "wall-clock budget of each etcd's runs: the plan is the seeds that fit it "+
		"one run after another (the same for every --shard), and each process stops at the whole zoo's budget")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "how long each run's workloads and faults last")
	fs.IntVar(&f.members, "members", 3, "cluster size: 1, 3 or 5")
	fs.StringVar(&f.backend, "backend", string(workloads.BackendConcurrency), "client implementation: grpc or concurrency")
	fs.StringVar(&f.out, "out", filepath.Join("runs", "zoo"), "aggregate directory, one run directory inside per run")
	fs.DurationVar(&f.timeout, "timeout", 20*time.Second, "checker timeout per check of each run")
	f.batch.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := f.batch.validate(); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) { f.budgetGiven = f.budgetGiven || fl.Name == "budget" })
	if f.versions == "" && f.etcdBins == "" {
		f.versions = strings.Join(nightly.DefaultReleases(), ",")
	}
	return f, nil
}

// zoo turns the flags into the batch to plan.
func (f *zooFlags) zoo() (nightly.Zoo, error) {
	z := nightly.Zoo{Seeds: f.seeds, Seed: f.seed, Duration: f.duration, Members: f.members,
		Backend: workloads.Backend(f.backend)}
	if f.seeds == 0 || f.budgetGiven {
		z.Budget = f.budget
	}
	for _, v := range splitList(f.versions) {
		bin, err := releaseBinary(v)
		if err != nil {
			return z, err
		}
		z.Etcds = append(z.Etcds, nightly.Etcd{Label: v, Bin: bin})
	}
	for _, b := range splitList(f.etcdBins) {
		label, path, ok := strings.Cut(b, "=")
		if !ok {
			label, path = filepath.Base(b), b
		}
		if _, err := os.Stat(path); err != nil {
			return z, fmt.Errorf("--etcd-bin: %w", err)
		}
		z.Etcds = append(z.Etcds, nightly.Etcd{Label: label, Bin: path})
	}
	if f.scenarios == "" {
		for _, sc := range faults.Scenarios() {
			z.Scenarios = append(z.Scenarios, sc.Name)
		}
	} else {
		z.Scenarios = splitList(f.scenarios)
	}
	return z, nil
}

// releaseBinary finds the binary `make etcd ETCD_VERSION=v` built: bin/etcd
// for the pinned release, else bin/etcd-vX.Y.Z next to it.
func releaseBinary(v string) (string, error) {
	v = "v" + strings.TrimPrefix(v, "v")
	pinned, err := harness.FindEtcd()
	if err != nil {
		return "", err
	}
	if v == pinnedRelease() {
		return pinned, nil
	}
	bin := filepath.Join(filepath.Dir(pinned), "etcd-"+v)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("etcd %s: no %s (build it with `make etcd ETCD_VERSION=%s`, or every default release with `make zoo-etcd`)", v, bin, v)
	}
	return bin, nil
}

// pinnedRelease is the etcd server version this program is built with, the
// one `make etcd` builds as bin/etcd.
func pinnedRelease() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "go.etcd.io/etcd/server/v3" {
				return d.Version
			}
		}
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// runZoo implements `etcdchaos zoo`: the same scenarios and seeds on
// several etcd binaries (etcd processes), one aggregate report with an etcd
// x scenario table. A known etcd issue on a release the registry says it
// affects is expected; the same finding on a release that has the fix is a
// violation. Exit codes as nightly's.
func runZoo(args []string, stdout, stderr io.Writer) int {
	f, err := parseZooFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos zoo: %v\n", err)
		return exitUsage
	}
	if f.listReleases {
		for _, r := range nightly.DefaultReleases() {
			fmt.Fprintln(stdout, r)
		}
		return 0
	}
	z, err := f.zoo()
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos zoo: %v\n", err)
		return exitUsage
	}
	whole, budget, err := nightly.PlanZoo(z)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos zoo: %v\n", err)
		return exitUsage
	}
	plan := whole.Shard(f.batch.shard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f.batch.announce(stderr, "zoo", plan, fmt.Sprintf("on %d etcds within %v", len(z.Etcds), budget), f.out)
	res, err := batch.Execute(ctx, plan, batch.Options{Out: f.out, Name: "zoo", Budget: budget,
		Parallel: f.batch.workers(plan), CheckTimeout: f.timeout, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos zoo: %v\n", err)
		return models.ExitUnknown
	}
	printZoo(stdout, res.Aggregate, f.out)
	return res.ExitCode
}

// printZoo prints the etcd x scenario table: one line per cell.
func printZoo(w io.Writer, agg reports.Aggregate, out string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ETCD\tSCENARIO\tRUNS\tVERDICTS\tKNOWN ISSUES\tDETECTED")
	if m := agg.Matrix(); m != nil {
		for _, row := range m.Rows {
			for _, c := range row.Cells {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", c.Etcd, c.Scenario, c.Runs, cellVerdicts(c), cellKnown(c), cellDetected(c))
			}
		}
	}
	tw.Flush()
	printBatch(w, agg, agg.Name, out)
}

func cellVerdicts(c reports.MatrixCell) string {
	var out []string
	for _, v := range []models.Verdict{models.Ok, models.UnsafeWithoutFencing, models.KnownIssue, models.Violation, models.Unknown, models.Empty} {
		if n := c.Verdicts[v]; n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, v))
		}
	}
	return dash(strings.Join(out, ", "))
}

func cellKnown(c reports.MatrixCell) string {
	var out []string
	for _, id := range c.KnownIssueIDs() {
		out = append(out, fmt.Sprintf("%s (%d)", id, c.KnownIssues[id]))
	}
	return dash(strings.Join(out, ", "))
}

func cellDetected(c reports.MatrixCell) string {
	if c.Detected == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d runs, first at %v (seed %d)", c.Detected, c.Runs, c.TimeToDetect.Round(time.Millisecond), c.FirstSeed)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
