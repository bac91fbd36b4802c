package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
)

// defaultMaxRuns bounds --until-fail when --max-runs is not given.
const defaultMaxRuns = 100

// untilFail holds the flags of `run --until-fail [--max-runs N]
// [--parallel N] [--shard I/N]`.
type untilFail struct {
	on      bool
	maxRuns int
	seeded  bool // --seed was given: runs use seed, seed+1, ...
	batch   batchFlags
}

func (u *untilFail) register(fs *flag.FlagSet) {
	fs.BoolVar(&u.on, "until-fail", false,
		"repeat the run with fresh seeds, each in OUT/seed-N, until one fails; print its seed and the command that reproduces it")
	fs.IntVar(&u.maxRuns, "max-runs", defaultMaxRuns, "with --until-fail, stop after this many runs")
	u.batch.register(fs)
}

func (u *untilFail) validate(fs *flag.FlagSet, seedGiven bool) error {
	if u.maxRuns < 1 {
		return fmt.Errorf("--max-runs %d: expected at least 1", u.maxRuns)
	}
	var batchFlag string
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "parallel" || fl.Name == "shard" {
			batchFlag = fl.Name
		}
	})
	switch {
	case batchFlag != "" && !u.on:
		return fmt.Errorf("--%s needs --until-fail", batchFlag)
	case u.batch.shardArg != "" && !seedGiven:
		return errors.New("--shard needs --seed: every shard must plan the same seeds")
	}
	u.seeded = seedGiven
	return u.batch.validate()
}

// next is the seed of the run after one with seed: the next integer when
// the first seed was given (a reproducible sequence), else a fresh one.
func (u *untilFail) next(seed int64) int64 {
	if u.seeded {
		return seed + 1
	}
	return rand.Int64N(1 << 31)
}

// untilFailPlan is --max-runs runs of the scenario with distinct seeds,
// the first the flags' own, each in OUT/seed-N.
func (f *runFlags) untilFailPlan() batch.Plan {
	var plan batch.Plan
	seen := map[int64]bool{}
	seed := f.seed
	// Fresh seeds may repeat; a few spare draws make up for repeats.
	for tries := 0; len(plan.Runs) < f.loop.maxRuns && tries < 2*f.loop.maxRuns+10; tries++ {
		if !seen[seed] {
			seen[seed] = true
			o := f.runOptions()
			o.Seed, o.Out = seed, ""
			plan.Runs = append(plan.Runs, batch.Run{ID: fmt.Sprintf("seed-%d", seed), Scenario: f.scenario, Options: o})
		}
		seed = f.loop.next(seed)
	}
	return plan
}

// runUntilFail runs the scenario with fresh seeds, each run in its own
// directory under f.out, --parallel at a time, until a run exits non-zero
// (runs already going finish; no other starts), ctx ends or --max-runs
// runs passed. It prints the first failing run in seed order and returns
// the batch's exit code: the failing run's, 3 if interrupted, else 0.
func runUntilFail(ctx context.Context, sc faults.Scenario, f *runFlags, stdout, stderr io.Writer) int {
	plan := f.untilFailPlan().Shard(f.loop.batch.shard)
	f.loop.batch.announce(stderr, "until-fail", plan, "at most", f.out)
	results, started := map[int]runner.Result{}, 0
	res, err := batch.Execute(ctx, plan, batch.Options{Out: f.out, Name: "until-fail", Parallel: f.loop.batch.workers(plan),
		StopAtFirstFailure: true, CheckTimeout: f.timeout, Progress: stderr,
		Done: func(o batch.Outcome) {
			if !o.Started {
				return
			}
			started++
			fmt.Fprintf(stdout, "run %d of at most %d: seed %d: %s\n", o.Index+1, len(plan.Runs), o.Run.Options.Seed, o.Entry.Verdict())
			if batch.RunExit(o.Entry) != 0 {
				results[o.Index] = o.Result
			}
		}})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos run: %v\n", err)
		return models.ExitUnknown
	}
	if i := res.FirstFailure; i >= 0 {
		ar := res.Aggregate.Runs[i]
		if ar.Error != "" {
			fmt.Fprintf(stderr, "etcdchaos run: seed %d: %s\n", ar.Seed, ar.Error)
		}
		if res.ExitCode == exitUsage {
			return exitUsage
		}
		if rr, ok := results[i]; ok && rr.Dir != "" {
			printRunResult(stdout, rr)
		}
		fmt.Fprintf(stdout, "run %d failed (exit %d): seed %d, run directory %s\nreproduce with:\n  %s\n",
			i+1, batch.RunExit(ar), ar.Seed, filepath.Join(f.out, ar.ID), ar.Command)
		return res.ExitCode
	}
	if res.Interrupted {
		fmt.Fprintf(stdout, "interrupted after %d runs, none failed\n", started)
		return res.ExitCode
	}
	fmt.Fprintf(stdout, "no failure in %d runs\n", len(plan.Runs))
	return res.ExitCode
}
