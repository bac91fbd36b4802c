package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/reports"
)

// TestNightlyWithinBudget runs the default matrix with a two-minute budget:
// it ends within the budget plus a shutdown margin, and the aggregate JUnit
// lists every run.
func TestNightlyWithinBudget(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nightly")
	budget := 2 * time.Minute
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"nightly", "--budget", budget.String(), "--out", out, "--seed", "1"}, &stdout, &stderr)
	elapsed := time.Since(start)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Less(t, elapsed, budget+30*time.Second, "the batch overran its budget")

	data, err := os.ReadFile(filepath.Join(out, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var agg reports.Aggregate
	require.NoError(t, json.Unmarshal(data, &agg))
	require.GreaterOrEqual(t, len(agg.Runs), 3)

	data, err = os.ReadFile(filepath.Join(out, reports.AggregateJUnitFile))
	require.NoError(t, err)
	var junit struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(data, &junit))
	require.Len(t, junit.Suites, len(agg.Runs), "one testsuite per run")
	ran := 0
	for i, r := range agg.Runs {
		require.Equal(t, "etcdchaos."+r.ID, junit.Suites[i].Name)
		require.Positive(t, junit.Suites[i].Tests)
		if r.Skipped == "" {
			ran++
			require.NotNil(t, r.Summary, "run %s has no summary: %s", r.ID, r.Error)
			require.FileExists(t, filepath.Join(out, r.ID, reports.IndexFile))
		}
	}
	require.GreaterOrEqual(t, ran, 3)
	index, err := os.ReadFile(filepath.Join(out, reports.AggregateIndexFile))
	require.NoError(t, err)
	require.Contains(t, string(index), agg.Runs[0].ID+"/index.html")
	require.Contains(t, stdout.String(), "junit.xml")
}

func TestNightlyBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--budget", "5s"}, {"--config", "/nonexistent.json"}, {"extra"},
		{"--shard", "0/0"}, {"--shard", "3/2"}, {"--shard", "abc"}, {"--parallel", "-1"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, exitUsage, run(append([]string{"nightly", "--out", t.TempDir()}, args...), &stdout, &stderr), "%v", args)
		require.NotEmpty(t, stderr.String())
	}
}

// A nightly shard plans the whole night, runs its share under the plan's
// run ids and records in aggregate.json which shard it was of how many
// runs.
func TestNightlyShard(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "nightly.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"runs": [
		{"scenario": "smoke", "members": 1, "duration": "2s"},
		{"scenario": "lock-lease", "members": 1, "duration": "2s"},
		{"scenario": "smoke", "members": 1, "duration": "2s", "backend": "grpc"}]}`), 0o644))
	out := filepath.Join(t.TempDir(), "nightly")
	code, stdout, stderr := runCLI("nightly", "--config", cfg, "--budget", "1m", "--seed", "4", "--out", out, "--shard", "2/2")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "nightly: shard 2/2, 1 of 3 runs within 1m0s")
	assert.Contains(t, stdout, "(shard 2/2 of a plan of 3 runs)")
	agg := readAggregate(t, out)
	require.Len(t, agg.Runs, 1)
	assert.Equal(t, "02-lock-lease-concurrency-m1", agg.Runs[0].ID)
	assert.Equal(t, int64(5), agg.Runs[0].Seed, "the seed the whole plan gives run 2")
	assert.Equal(t, &reports.ShardInfo{Index: 2, Count: 2}, agg.Shard)
	assert.Equal(t, 2, agg.Runs[0].PlanIndex)
	assert.Equal(t, 3, agg.PlanRuns)
	require.NotNil(t, agg.Runs[0].Summary, agg.Runs[0].Error)
}
