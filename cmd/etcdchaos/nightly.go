package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/nightly"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

func init() {
	register("nightly", command{summary: "run a matrix of scenarios within a time budget and write an aggregate report", run: runNightly})
}

type nightlyFlags struct {
	budget, checkTimeout time.Duration
	out, config, etcdBin string
	seed                 int64
	seedGiven            bool
	batch                batchFlags
}

func parseNightlyFlags(args []string, stderr io.Writer) (*nightlyFlags, error) {
	f := &nightlyFlags{}
	fs := flag.NewFlagSet("nightly", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.budget, "budget", 30*time.Minute, "wall-clock budget: the plan is the runs that fit it one after another "+
		"(the same for every --shard), and each process stops at it (--parallel and --shard only make the batch end sooner)")
	fs.StringVar(&f.out, "out", "", "aggregate directory, one run directory inside per run (default runs/nightly-<date>)")
	fs.StringVar(&f.config, "config", "", "JSON file narrowing the matrix or listing runs (schema: go doc ./harness/nightly)")
	fs.Int64Var(&f.seed, "seed", 0, "base seed; run i uses seed+i (default: the date as YYYYMMDD)")
	fs.StringVar(&f.etcdBin, "etcd-bin", "", "etcd binary for process-mode runs (default: bin/etcd, else etcd on the PATH)")
	fs.DurationVar(&f.checkTimeout, "timeout", 20*time.Second, "checker timeout per check of each run")
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
	fs.Visit(func(fl *flag.Flag) { f.seedGiven = f.seedGiven || fl.Name == "seed" })
	if !f.seedGiven {
		f.seed = nightly.DateSeed(time.Now())
	}
	if f.out == "" {
		f.out = filepath.Join("runs", fmt.Sprintf("nightly-%d", nightly.DateSeed(time.Now())))
	}
	return f, nil
}

// plan loads the config, if any, plans the whole batch and takes this
// process's shard of it; the --seed and --etcd-bin flags win over the
// config's.
func (f *nightlyFlags) plan() (batch.Plan, error) {
	var cfg nightly.Config
	if f.config != "" {
		var err error
		if cfg, err = nightly.LoadConfig(f.config); err != nil {
			return batch.Plan{}, err
		}
	}
	if f.seedGiven {
		cfg.Seed = &f.seed
	}
	if f.etcdBin != "" {
		cfg.EtcdBin = f.etcdBin
	}
	plan, err := nightly.Plan(cfg, f.budget, f.seed)
	return plan.Shard(f.batch.shard), err
}

func runNightly(args []string, stdout, stderr io.Writer) int {
	f, err := parseNightlyFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos nightly: %v\n", err)
		return exitUsage
	}
	plan, err := f.plan()
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos nightly: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f.batch.announce(stderr, "nightly", plan, fmt.Sprintf("within %v", f.budget), f.out)
	res, err := batch.Execute(ctx, plan, batch.Options{Out: f.out, Name: "nightly", Budget: f.budget,
		Parallel: f.batch.workers(plan), CheckTimeout: f.checkTimeout, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos nightly: %v\n", err)
		return models.ExitUnknown
	}
	printBatch(stdout, res.Aggregate, res.Aggregate.Name, f.out)
	return res.ExitCode
}

// printBatch prints a batch's verdicts, counted, under its title, and
// where its report is: nightly, zoo and merge alike.
func printBatch(w io.Writer, agg reports.Aggregate, title, out string) {
	counts, skipped := map[models.Verdict]int{}, 0
	for _, r := range agg.Runs {
		if r.Skipped != "" {
			skipped++
			continue
		}
		counts[r.Verdict()]++
	}
	fmt.Fprintf(w, "%s: %d runs in %v:", title, len(agg.Runs), agg.Elapsed.Round(time.Second))
	if agg.Shard != nil {
		fmt.Fprintf(w, " (shard %s of a plan of %d runs)", agg.Shard, agg.PlanRuns)
	}
	for _, v := range []models.Verdict{models.Ok, models.UnsafeWithoutFencing, models.KnownIssue, models.Violation, models.Unknown, models.Empty} {
		if counts[v] > 0 {
			fmt.Fprintf(w, " %d %s", counts[v], v)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(w, " %d skipped", skipped)
	}
	fmt.Fprintf(w, "\nreport: %s, junit: %s\n", filepath.Join(out, reports.AggregateIndexFile), filepath.Join(out, reports.AggregateJUnitFile))
}
