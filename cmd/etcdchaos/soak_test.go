package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

func TestSoakRunsEachScenarioAndSeed(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("soak", "--seeds", "2", "--duration", "2s", "--members", "1", "--scenarios", "smoke",
		"--out", out, "--parallel", "2")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Regexp(t, `(?m)^smoke +1 +ok +0`, stdout)
	assert.Regexp(t, `(?m)^smoke +2 +ok +0`, stdout)
	assert.Contains(t, stdout, "soak: 2 runs, 0 failed")
	assert.Contains(t, stderr, "soak: 2 runs, 2 at once")
	assert.Regexp(t, `\[2/2\] smoke-\d: ok`, stderr, "a progress line per run")
	for _, d := range []string{"smoke-1", "smoke-2"} {
		_, err := os.Stat(filepath.Join(out, d, "history.jsonl"))
		assert.NoError(t, err, d)
	}
	agg := readAggregate(t, out)
	require.Len(t, agg.Runs, 2)
	assert.Equal(t, "soak", agg.Name)
	assert.Equal(t, 2, agg.PlanRuns)
	assert.Empty(t, agg.Shard)
}

// A soak shard runs its share of the plan, into run directories named as
// in the whole plan, and says in aggregate.json which shard it was.
func TestSoakShard(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("soak", "--seeds", "3", "--duration", "2s", "--members", "1", "--scenarios", "smoke",
		"--out", out, "--shard", "2/2", "--parallel", "1")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "soak: 1 runs, 0 failed")
	agg := readAggregate(t, out)
	require.Len(t, agg.Runs, 1)
	assert.Equal(t, "smoke-2", agg.Runs[0].ID, "run 1 of 0..2 goes to shard 2")
	assert.Equal(t, &reports.ShardInfo{Index: 2, Count: 2}, agg.Shard)
	assert.Equal(t, 2, agg.Runs[0].PlanIndex)
	assert.Equal(t, 3, agg.PlanRuns)
	assert.FileExists(t, filepath.Join(out, "smoke-2", "summary.json"))
	assert.NoDirExists(t, filepath.Join(out, "smoke-1"))
}

func readAggregate(t *testing.T, dir string) reports.Aggregate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var agg reports.Aggregate
	require.NoError(t, json.Unmarshal(data, &agg))
	return agg
}

// The soak's table and exit code come from its runs' aggregate entries:
// the documented hazard and known etcd issues pass, a violation fails
// (1), and an unknown or interrupted run makes the soak unknown (3).
func TestSoakTable(t *testing.T) {
	ok := reports.AggregateRun{ID: "smoke-1", Scenario: "smoke", Seed: 1,
		Summary: &reports.Summary{Verdict: models.Ok, ExitCode: models.ExitOk}}
	hazard := reports.AggregateRun{ID: "lock-pause-1", Scenario: "lock-pause", Seed: 1,
		Summary: &reports.Summary{Verdict: models.UnsafeWithoutFencing, ExitCode: models.ExitOk}}
	violation := reports.AggregateRun{ID: "mixed-2", Scenario: "mixed", Seed: 2, Command: "etcdchaos run --seed 2",
		Summary: &reports.Summary{Verdict: models.Violation, ExitCode: models.ExitViolation,
			Checks: []reports.CheckSummary{{Check: "lock", Name: "l0", Verdict: models.Violation, Fails: true}}}}
	unknown := reports.AggregateRun{ID: "waiters-1", Scenario: "waiters", Seed: 1,
		Summary: &reports.Summary{Verdict: models.Unknown, ExitCode: models.ExitUnknown}}
	interrupted := reports.AggregateRun{ID: "waiters-2", Scenario: "waiters", Seed: 2, Error: "interrupted before it started"}

	var b bytes.Buffer
	var rows []soakRow
	for _, ar := range []reports.AggregateRun{hazard, violation, interrupted} {
		rows = append(rows, soakRowOf(ar))
	}
	printSoak(&b, rows, true)
	assert.Contains(t, b.String(), "soak: 3 runs, 2 failed")
	assert.Regexp(t, `(?m)^lock-pause +1 +unsafe-without-fencing +0 +unsafe without fencing \(documented hazard, not a failure\)$`, b.String())
	assert.Regexp(t, `(?m)^mixed +2 +violation +1 +lock l0 violation; reproduce with: etcdchaos run --seed 2$`, b.String())
	assert.Regexp(t, `(?m)^waiters +2 +unknown +3 +interrupted before it started$`, b.String())
	assert.Contains(t, b.String(), "soak: interrupted before every run was done")

	for _, tc := range []struct {
		runs []reports.AggregateRun
		code int
	}{
		{[]reports.AggregateRun{ok, hazard}, models.ExitOk},
		{[]reports.AggregateRun{ok, violation, unknown}, models.ExitViolation},
		{[]reports.AggregateRun{ok, unknown}, models.ExitUnknown},
		{[]reports.AggregateRun{ok, interrupted}, models.ExitUnknown},
	} {
		assert.Equal(t, tc.code, batch.ExitCode(reports.Aggregate{Runs: tc.runs}, false), "%v", tc.runs)
	}

	for _, args := range [][]string{{"--seeds", "0"}, {"--scenarios", "nope"}, {"extra"},
		{"--shard", "0/0"}, {"--shard", "3/2"}, {"--shard", "abc"}, {"--parallel", "-1"}} {
		code, _, stderr := runCLI(append([]string{"soak"}, args...)...)
		assert.Equal(t, exitUsage, code, "%v", args)
		assert.NotEmpty(t, stderr, "%v", args)
	}
}
