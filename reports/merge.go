package reports

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BadInputError is a merge refused for what it was given (a missing or
// unreadable aggregate.json, shards of different plans, a run id twice):
// exit code 2, where a failure to write the merged directory is not.
type BadInputError struct{ Err error }

func (e BadInputError) Error() string { return e.Err.Error() }
func (e BadInputError) Unwrap() error { return e.Err }

func badInput(format string, args ...any) error {
	return BadInputError{fmt.Errorf(format, args...)}
}

// ShardDir is one shard's aggregate directory as a merge reads it.
type ShardDir struct {
	Dir       string
	Aggregate Aggregate
}

// ReadShard reads dir/aggregate.json, written by a batch run with
// --shard I/N.
func ReadShard(dir string) (ShardDir, error) {
	path := filepath.Join(dir, AggregateSummaryFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ShardDir{}, badInput("%s: no %s (not the output directory of a batch, or the batch did not finish)", dir, AggregateSummaryFile)
	}
	if err != nil {
		return ShardDir{}, badInput("read %s: %w", path, err)
	}
	var a Aggregate
	if err := json.Unmarshal(data, &a); err != nil {
		return ShardDir{}, badInput("%s: not an aggregate: %w", path, err)
	}
	if a.Shard == nil {
		return ShardDir{}, badInput("%s: no \"shard\" field: merge takes the directories of batches run with --shard I/N", path)
	}
	if a.Shard.Count < 1 || a.Shard.Index < 1 || a.Shard.Index > a.Shard.Count {
		return ShardDir{}, badInput("%s: shard %s (expected I/N with 1 <= I <= N)", path, a.Shard)
	}
	for i, r := range a.Runs {
		if r.ID == "" || !filepath.IsLocal(r.ID) || strings.ContainsAny(r.ID, `/\`) {
			return ShardDir{}, badInput("%s: run %d has id %q (expected the name of a directory beside it)", path, i+1, r.ID)
		}
		if r.PlanIndex < 1 || (a.PlanRuns > 0 && r.PlanIndex > a.PlanRuns) {
			return ShardDir{}, badInput("%s: run %s has plan_index %d (expected its place in the plan, 1 to %d)", path, r.ID, r.PlanIndex, a.PlanRuns)
		}
	}
	return ShardDir{Dir: dir, Aggregate: a}, nil
}

// MergeAggregates combines the shards of one plan into the aggregate the
// unsharded batch would have written: the same runs in plan order, so the
// same verdicts, JUnit suites and exit code. It refuses (BadInputError)
// shards of different plans (batch name, shard count or plan size), a
// shard given twice and a run id in two shards. Missing shards are no
// error: they are listed in MissingShards, which makes the merge's exit
// code unknown at best, since an incomplete batch must not look green.
//
// The merged batch started when its first shard started and took until
// its last shard ended.
func MergeAggregates(shards []ShardDir) (Aggregate, error) {
	if len(shards) == 0 {
		return Aggregate{}, badInput("no shard directories given")
	}
	first := shards[0]
	byIndex := map[int]string{}
	owner := map[string]string{} // run id -> shard directory
	merged := Aggregate{Name: first.Aggregate.Name, PlanRuns: first.Aggregate.PlanRuns}
	var end time.Time
	total := 0
	for _, s := range shards {
		a := s.Aggregate
		switch {
		case a.Name != first.Aggregate.Name:
			return Aggregate{}, badInput("%s is a shard of batch %q, %s of %q: shards of different batches", s.Dir, a.Name, first.Dir, first.Aggregate.Name)
		case a.Shard.Count != first.Aggregate.Shard.Count:
			return Aggregate{}, badInput("%s is shard %s, %s is shard %s: shards of different plans (shard counts differ)", s.Dir, a.Shard, first.Dir, first.Aggregate.Shard)
		case a.PlanRuns != first.Aggregate.PlanRuns:
			return Aggregate{}, badInput("%s has a plan of %d runs, %s of %d: shards of different plans", s.Dir, a.PlanRuns, first.Dir, first.Aggregate.PlanRuns)
		}
		if other, ok := byIndex[a.Shard.Index]; ok {
			return Aggregate{}, badInput("shard %s given twice: %s and %s", a.Shard, other, s.Dir)
		}
		byIndex[a.Shard.Index] = s.Dir
		for _, r := range a.Runs {
			if other, ok := owner[r.ID]; ok {
				return Aggregate{}, badInput("run %s is in two shards: %s and %s", r.ID, other, s.Dir)
			}
			owner[r.ID] = s.Dir
		}
		total += len(a.Runs)
		if merged.Started.IsZero() || a.Started.Before(merged.Started) {
			merged.Started = a.Started
		}
		if e := a.Started.Add(a.Elapsed); e.After(end) {
			end = e
		}
		merged.Budget = max(merged.Budget, a.Budget)
	}
	for i := 1; i <= first.Aggregate.Shard.Count; i++ {
		if _, ok := byIndex[i]; !ok {
			merged.MissingShards = append(merged.MissingShards, ShardInfo{Index: i, Count: first.Aggregate.Shard.Count})
		}
	}
	if plan := merged.PlanRuns; plan > 0 && (total > plan || (total != plan && len(merged.MissingShards) == 0)) {
		return Aggregate{}, badInput("the shards hold %d runs, their plan %d: shards of different plans", total, plan)
	}
	merged.Elapsed = end.Sub(merged.Started)
	merged.Runs = planOrder(shards)
	return merged, nil
}

// planOrder puts the shards' runs back in the order of the plan, by
// their PlanIndex (ReadShard checked every run has one).
func planOrder(shards []ShardDir) []AggregateRun {
	var runs []AggregateRun
	for _, s := range shards {
		runs = append(runs, s.Aggregate.Runs...)
	}
	slices.SortFunc(runs, func(a, b AggregateRun) int { return cmp.Compare(a.PlanIndex, b.PlanIndex) })
	return runs
}

// MergeDirs merges shard directories into out: it reads and checks every
// shard first, then copies each shard's run directories into out, so the
// merged index links to reports inside out whatever machines the shards
// came from, and writes the merged aggregate.json, junit.xml and
// index.html. out must not exist or be empty: a merge never overwrites.
func MergeDirs(out string, dirs []string) (Aggregate, error) {
	shards := make([]ShardDir, 0, len(dirs))
	for _, d := range dirs {
		s, err := ReadShard(d)
		if err != nil {
			return Aggregate{}, err
		}
		shards = append(shards, s)
	}
	merged, err := MergeAggregates(shards)
	if err != nil {
		return Aggregate{}, err
	}
	for _, s := range shards {
		for _, r := range s.Aggregate.Runs {
			if r.Summary == nil {
				continue
			}
			if st, err := os.Stat(filepath.Join(s.Dir, r.ID)); err != nil || !st.IsDir() {
				return Aggregate{}, badInput("%s: run %s has a summary but no run directory %s", s.Dir, r.ID, filepath.Join(s.Dir, r.ID))
			}
		}
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return Aggregate{}, badInput("--out %s: exists and is not empty (merge writes a new directory)", out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Aggregate{}, badInput("--out %s: %w", out, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Aggregate{}, fmt.Errorf("merge: %w", err)
	}
	for _, s := range shards {
		for _, r := range s.Aggregate.Runs {
			src := filepath.Join(s.Dir, r.ID)
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				continue // a skipped run, or one that failed before it wrote anything
			}
			if err := os.CopyFS(filepath.Join(out, r.ID), os.DirFS(src)); err != nil {
				return Aggregate{}, fmt.Errorf("merge: copy run %s from %s: %w", r.ID, s.Dir, err)
			}
		}
	}
	if err := WriteAggregate(out, merged); err != nil {
		return Aggregate{}, fmt.Errorf("merge: %w", err)
	}
	return merged, nil
}
