package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/batch"
)

// maxParallel bounds --parallel: more runs at once than this starve each
// other's timing faults on any machine this runs on.
const maxParallel = 64

// batchFlags are the flags of every batch command (nightly, zoo, soak,
// run --until-fail): how many runs go at once, and which shard of the plan
// this process runs.
type batchFlags struct {
	parallel int
	shardArg string
	shard    batch.Shard
}

func (b *batchFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&b.parallel, "parallel", 0, fmt.Sprintf("runs carried out at once (default: one per core, or three per two cores "+
		"when every run uses etcd processes, at most 8; here %d, or %d with etcd processes)",
		batch.DefaultParallel([]string{harness.ModeEmbedded}), batch.DefaultParallel([]string{harness.ModeProcess})))
	fs.StringVar(&b.shardArg, "shard", "", "run shard I of N of the plan, I/N with 1 <= I <= N: run k of the plan (from 0) "+
		"goes to shard k mod N + 1; every shard plans the whole batch first, so the N shards' directories together are the plan")
}

// validate checks the values; a bad one is a usage error.
func (b *batchFlags) validate() error {
	if b.parallel < 0 || b.parallel > maxParallel {
		return fmt.Errorf("--parallel %d: expected 1 to %d (or 0 for the default)", b.parallel, maxParallel)
	}
	if b.shardArg != "" {
		s, err := batch.ParseShard(b.shardArg)
		if err != nil {
			return fmt.Errorf("--shard %w", err)
		}
		b.shard = s
	}
	return nil
}

// workers is how many runs of plan go at once.
func (b *batchFlags) workers(plan batch.Plan) int {
	if b.parallel > 0 {
		return b.parallel
	}
	return batch.DefaultParallel(plan.Modes())
}

// announce prints what the batch is about to do, on stderr.
func (b *batchFlags) announce(w io.Writer, name string, plan batch.Plan, within, out string) {
	what := fmt.Sprintf("%d runs", len(plan.Runs))
	if !plan.Slice.IsWhole() {
		what = fmt.Sprintf("shard %s, %d of %d runs", plan.Slice, len(plan.Runs), plan.Total)
	}
	if within != "" {
		what += " " + within
	}
	fmt.Fprintf(w, "%s: %s, %d at once, into %s\n", name, what, b.workers(plan), out)
}
