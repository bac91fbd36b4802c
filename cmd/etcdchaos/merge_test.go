package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

// writeShard writes an aggregate directory of shard i/n holding runs,
// each with a run directory of its summary.
func writeShard(t *testing.T, dir string, i, n, planRuns int, runs ...reports.AggregateRun) {
	t.Helper()
	for _, r := range runs {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, r.ID), 0o755))
		data, err := json.Marshal(r.Summary)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, r.ID, reports.SummaryFile), data, 0o644))
	}
	require.NoError(t, reports.WriteAggregate(dir, reports.Aggregate{Name: "nightly", Runs: runs,
		Shard: &reports.ShardInfo{Index: i, Count: n}, PlanRuns: planRuns}))
}

// summaryRun is a run whose id starts with its place in the plan ("02-b").
func summaryRun(id string, v models.Verdict, code int) reports.AggregateRun {
	index, _ := strconv.Atoi(id[:2])
	return reports.AggregateRun{ID: id, PlanIndex: index, Scenario: "smoke", Members: 3, Summary: &reports.Summary{Verdict: v, ExitCode: code, Scenario: "smoke"}}
}

func TestMergeExitCodes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	okRuns := filepath.Join(root, "ok")
	writeShard(t, filepath.Join(okRuns, "1"), 1, 2, 3, summaryRun("01-a", models.Ok, 0), summaryRun("03-c", models.Ok, 0))
	writeShard(t, filepath.Join(okRuns, "2"), 2, 2, 3, summaryRun("02-b", models.KnownIssue, 0))
	bad := filepath.Join(root, "bad")
	writeShard(t, filepath.Join(bad, "1"), 1, 2, 2, summaryRun("01-a", models.Ok, 0))
	writeShard(t, filepath.Join(bad, "2"), 2, 2, 2, summaryRun("02-b", models.Violation, models.ExitViolation))

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"every shard ok", []string{filepath.Join(okRuns, "1"), "--out", filepath.Join(root, "m1"), filepath.Join(okRuns, "2")},
			models.ExitOk, "2 ok 1 known-issue", ""},
		{"a violation", []string{"--out", filepath.Join(root, "m2"), filepath.Join(bad, "2"), filepath.Join(bad, "1")},
			models.ExitViolation, "1 violation", ""},
		{"a shard missing", []string{"--out", filepath.Join(root, "m3"), filepath.Join(okRuns, "1")},
			models.ExitUnknown, "2 runs", "warning: shard 2/2 is missing"},
		{"no aggregate.json", []string{"--out", filepath.Join(root, "m4"), filepath.Join(okRuns, "1"), root},
			models.ExitBadInput, "", root + ": no aggregate.json"},
		{"shards of two plans", []string{"--out", filepath.Join(root, "m5"), filepath.Join(okRuns, "1"), filepath.Join(bad, "2")},
			models.ExitBadInput, "", "different plans"},
		{"no directories", []string{"--out", filepath.Join(root, "m6")}, exitUsage, "", "expected one or more shard directories"},
		{"unknown flag", []string{"--shards", "2", filepath.Join(okRuns, "1")}, exitUsage, "", "flag provided but not defined: -shards"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"merge"}, c.args...), &stdout, &stderr)
		require.Equal(t, c.code, code, "%s\nstdout:\n%s\nstderr:\n%s", c.name, stdout.String(), stderr.String())
		require.Contains(t, stdout.String(), c.stdout, c.name)
		require.Contains(t, stderr.String(), c.stderr, c.name)
	}
	require.FileExists(t, filepath.Join(root, "m1", "02-b", reports.SummaryFile), "run directories are copied into --out")
	require.NoDirExists(t, filepath.Join(root, "m4"), "nothing is written for bad input")
}

// TestMergeRealRuns merges two real runs, each in a shard directory of its
// own, and compares the merge with the batch that ran both: same runs,
// verdicts, JUnit suites and exit code. The batch is a two-run nightly; its
// shards are dealt from it as `--shard I/2` deals the plan (run k to shard
// k mod 2).
func TestMergeRealRuns(t *testing.T) {
	root := t.TempDir()
	config := filepath.Join(root, "two-runs.json")
	require.NoError(t, os.WriteFile(config, []byte(`{"runs": [
		{"scenario": "smoke", "duration": "3s", "members": 1},
		{"scenario": "lock-lease", "duration": "3s", "members": 1, "backend": "grpc"}
	]}`), 0o644))
	whole := filepath.Join(root, "whole")
	var stdout, stderr bytes.Buffer
	code := run([]string{"nightly", "--config", config, "--budget", "1m", "--seed", "5", "--out", whole}, &stdout, &stderr)
	require.Equal(t, models.ExitOk, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	data, err := os.ReadFile(filepath.Join(whole, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var batch reports.Aggregate
	require.NoError(t, json.Unmarshal(data, &batch))
	require.Len(t, batch.Runs, 2)

	var shards []string
	for k, r := range batch.Runs {
		require.NotNil(t, r.Summary, "run %s: %s", r.ID, r.Error)
		dir := filepath.Join(root, fmt.Sprintf("shard-%d", k+1))
		require.NoError(t, os.CopyFS(filepath.Join(dir, r.ID), os.DirFS(filepath.Join(whole, r.ID))))
		require.NoError(t, reports.WriteAggregate(dir, reports.Aggregate{Name: batch.Name, Started: batch.Started,
			Elapsed: batch.Elapsed, Budget: batch.Budget, Runs: []reports.AggregateRun{r},
			Shard: &reports.ShardInfo{Index: k + 1, Count: 2}, PlanRuns: 2}))
		shards = append(shards, dir)
	}
	merged := filepath.Join(root, "merged")
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"merge", "--out", merged, shards[1], shards[0]}, &stdout, &stderr)
	require.Equal(t, batch.ExitCode(), code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	type onDisk struct {
		Runs []reports.AggregateRun `json:"runs"`
	}
	// The suites, after the <testsuites> line whose time is the batch's
	// wall clock, are the same bytes.
	read := func(dir string) (onDisk, string) {
		data, err := os.ReadFile(filepath.Join(dir, reports.AggregateSummaryFile))
		require.NoError(t, err)
		var a onDisk
		require.NoError(t, json.Unmarshal(data, &a))
		junit, err := os.ReadFile(filepath.Join(dir, reports.AggregateJUnitFile))
		require.NoError(t, err)
		lines := strings.SplitN(string(junit), "\n", 3)
		require.Len(t, lines, 3)
		require.Contains(t, lines[1], "<testsuites")
		return a, lines[2]
	}
	want, wantSuites := read(whole)
	got, gotSuites := read(merged)
	require.Equal(t, want.Runs, got.Runs)
	require.Equal(t, wantSuites, gotSuites)
	require.Contains(t, gotSuites, "etcdchaos."+want.Runs[1].ID)
	for _, r := range got.Runs {
		require.FileExists(t, filepath.Join(merged, r.ID, reports.IndexFile))
		require.FileExists(t, filepath.Join(merged, r.ID, "history.jsonl"))
	}
}

// TestMergeRealShards runs a plan as two real shards (`nightly --shard
// I/2`) and merges them: the merge holds the whole plan's runs in its
// order, each with its verdict and run directory, under the batch's exit
// code.
func TestMergeRealShards(t *testing.T) {
	root := t.TempDir()
	config := filepath.Join(root, "three-runs.json")
	require.NoError(t, os.WriteFile(config, []byte(`{"runs": [
		{"scenario": "smoke", "duration": "2s", "members": 1},
		{"scenario": "lock-lease", "duration": "2s", "members": 1, "backend": "grpc"},
		{"scenario": "smoke", "duration": "2s", "members": 1, "backend": "grpc"}
	]}`), 0o644))
	var shards []string
	for i := 1; i <= 2; i++ {
		dir := filepath.Join(root, fmt.Sprintf("shard-%d", i))
		var stdout, stderr bytes.Buffer
		code := run([]string{"nightly", "--config", config, "--budget", "1m", "--seed", "5", "--parallel", "1",
			"--shard", fmt.Sprintf("%d/2", i), "--out", dir}, &stdout, &stderr)
		require.Equal(t, models.ExitOk, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		shards = append(shards, dir)
	}
	merged := filepath.Join(root, "merged")
	var stdout, stderr bytes.Buffer
	code := run([]string{"merge", "--out", merged, shards[1], shards[0]}, &stdout, &stderr)
	require.Equal(t, models.ExitOk, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	data, err := os.ReadFile(filepath.Join(merged, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var agg reports.Aggregate
	require.NoError(t, json.Unmarshal(data, &agg))
	require.Len(t, agg.Runs, 3)
	for i, r := range agg.Runs {
		assert.Equal(t, i+1, r.PlanIndex, "run %s", r.ID)
		assert.Equal(t, int64(5+i), r.Seed, "run %s has the seed the whole plan gives it", r.ID)
		require.NotNil(t, r.Summary, "run %s: %s", r.ID, r.Error)
		assert.FileExists(t, filepath.Join(merged, r.ID, "history.jsonl"))
	}
	assert.Equal(t, 3, agg.PlanRuns)
	assert.Nil(t, agg.Shard, "a complete merge is the whole plan")
}
