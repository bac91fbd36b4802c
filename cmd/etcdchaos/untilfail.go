package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"

	"github.com/etcdchaos/etcdchaos/faults"
)

// defaultMaxRuns bounds --until-fail when --max-runs is not given.
const defaultMaxRuns = 100

// untilFail holds the flags of `run --until-fail [--max-runs N]`.
type untilFail struct {
	on      bool
	maxRuns int
	seeded  bool // --seed was given: runs use seed, seed+1, ...
}

func (u *untilFail) register(fs *flag.FlagSet) {
	fs.BoolVar(&u.on, "until-fail", false,
		"repeat the run with fresh seeds, each in OUT/seed-N, until one fails; print its seed and the command that reproduces it")
	fs.IntVar(&u.maxRuns, "max-runs", defaultMaxRuns, "with --until-fail, stop after this many runs")
}

func (u *untilFail) validate(seedGiven bool) error {
	if u.maxRuns < 1 {
		return fmt.Errorf("--max-runs %d: expected at least 1", u.maxRuns)
	}
	u.seeded = seedGiven
	return nil
}

// next is the seed of the run after one with seed: the next integer when
// the first seed was given (a reproducible sequence), else a fresh one.
func (u *untilFail) next(seed int64) int64 {
	if u.seeded {
		return seed + 1
	}
	return rand.Int64N(1 << 31)
}

// runUntilFail runs the scenario with fresh seeds, each run in its own
// directory under f.out, until a run exits non-zero, ctx ends or
// --max-runs runs passed. It returns the exit code of the last run.
func runUntilFail(ctx context.Context, sc faults.Scenario, f *runFlags, stdout, stderr io.Writer) int {
	seed := f.seed
	for i := 1; i <= f.loop.maxRuns; i++ {
		one := *f
		one.seed, one.out = seed, filepath.Join(f.out, fmt.Sprintf("seed-%d", seed))
		fmt.Fprintf(stdout, "run %d of at most %d: seed %d\n", i, f.loop.maxRuns, seed)
		code := runOnce(ctx, sc, &one, stdout, stderr)
		if code == exitUsage {
			return code
		}
		if code != 0 {
			fmt.Fprintf(stdout, "run %d failed (exit %d): seed %d, run directory %s\nreproduce with:\n  %s\n",
				i, code, seed, one.out, one.reproCommand())
			return code
		}
		if ctx.Err() != nil {
			fmt.Fprintf(stdout, "interrupted after %d runs, none failed\n", i)
			return code
		}
		seed = f.loop.next(seed)
	}
	fmt.Fprintf(stdout, "no failure in %d runs\n", f.loop.maxRuns)
	return 0
}
