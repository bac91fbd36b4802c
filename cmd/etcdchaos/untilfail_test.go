package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// TestUntilFailFindsMutant runs a broken lock until a run fails: the loop
// stops at the failing run and prints its seed and a command that parses
// back to the same scenario, seed and mutant; checking the failing run's
// saved history gives the same verdict.
func TestUntilFailFindsMutant(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("run", "--scenario", "smoke", "--mutant", "lock-no-wait", "--until-fail", "--max-runs", "3",
		"--seed", "1", "--duration", "3s", "--members", "1", "--out", out)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	m := regexp.MustCompile(`failed \(exit 1\): seed (\d+), run directory (\S+)\nreproduce with:\n  (.+)\n`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	seed, dir, repro := m[1], m[2], m[3]
	require.Equal(t, filepath.Join(out, "seed-"+seed), dir)

	args := strings.Fields(repro)
	require.Equal(t, []string{"etcdchaos", "run"}, args[:2])
	f, _, err := parseRunFlags(args[2:], io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "smoke", f.scenario)
	assert.Equal(t, seed, strconv.FormatInt(f.seed, 10))
	assert.Equal(t, "lock-no-wait", f.mutant)
	assert.Equal(t, "3s", f.duration.String())
	assert.Equal(t, 1, f.members)

	path := filepath.Join(dir, "history.jsonl")
	h, err := history.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "lock-no-wait", h.Header.Mutant)
	assert.Equal(t, repro, h.Header.Command)
	assert.Equal(t, f.seed, h.Header.Seed)
	code, checkOut, _ := runCLI("check", path)
	assert.Equal(t, 1, code)
	assert.Regexp(t, `(?m)^lock l\d: violation`, checkOut)
	assert.Contains(t, stdout, "verdict: violation")
}

// With two workers, until-fail stops starting runs at the first failure,
// lets the run going on finish, and reports the first failing seed in seed
// order; its out directory holds the aggregate of the runs.
func TestUntilFailParallel(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("run", "--scenario", "smoke", "--mutant", "lock-no-wait", "--until-fail", "--max-runs", "6",
		"--parallel", "2", "--seed", "1", "--duration", "3s", "--members", "1", "--out", out)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "until-fail: 6 runs at most, 2 at once")
	m := regexp.MustCompile(`run (\d) failed \(exit 1\): seed (\d+), run directory`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	agg := readAggregate(t, out)
	require.Len(t, agg.Runs, 6)
	first := -1
	for i, r := range agg.Runs {
		if r.Summary != nil && r.Summary.ExitCode != 0 && first < 0 {
			first = i
		}
	}
	require.Equal(t, strconv.Itoa(first+1), m[1], "the first failing run in seed order")
	require.Equal(t, strconv.FormatInt(agg.Runs[first].Seed, 10), m[2])
	ran := strings.Count(stdout, " of at most 6: seed ")
	require.Less(t, ran, 6, "no run starts after the first failure")
	require.Equal(t, 6-ran, strings.Count(string(mustRead(t, filepath.Join(out, "aggregate.json"))), `"skipped": "not started: run seed-`))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestUntilFailBatchFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--parallel 2":                            "--parallel needs --until-fail",
		"--shard 1/2":                             "--shard needs --until-fail",
		"--until-fail --shard 1/2":                "--shard needs --seed",
		"--until-fail --seed 1 --shard 3/2":       `--shard "3/2": expected I/N`,
		"--until-fail --seed 1 --shard abc":       `--shard "abc": expected I/N`,
		"--until-fail --parallel -2":              "--parallel -2: expected 1 to 64",
		"--until-fail --seed 1 --shard 0/0":       `--shard "0/0": expected I/N`,
		"--until-fail --seed 1 --parallel 100000": "--parallel 100000",
	} {
		code, _, stderr := runCLI(append([]string{"run", "--out", t.TempDir()}, strings.Fields(args)...)...)
		assert.Equal(t, exitUsage, code, args)
		assert.Contains(t, stderr, want, args)
	}
	f, _, err := parseRunFlags([]string{"--until-fail", "--seed", "10", "--max-runs", "5", "--shard", "2/2"}, io.Discard)
	require.NoError(t, err)
	plan := f.untilFailPlan().Shard(f.loop.batch.shard)
	require.Len(t, plan.Runs, 2)
	assert.Equal(t, "seed-11", plan.Runs[0].ID)
	assert.Equal(t, "seed-13", plan.Runs[1].ID)
	assert.Equal(t, 5, plan.Total)
}

func TestUntilFailStopsAfterMaxRuns(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("run", "--scenario", "smoke", "--until-fail", "--max-runs", "2",
		"--seed", "5", "--duration", "2s", "--members", "1", "--out", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "run 2 of at most 2: seed 6")
	assert.Contains(t, stdout, "no failure in 2 runs")
	for _, s := range []string{"seed-5", "seed-6"} {
		_, err := os.Stat(filepath.Join(out, s, "history.jsonl"))
		assert.NoError(t, err, s)
	}
}

func TestRunMutantFlags(t *testing.T) {
	f, _, err := parseRunFlags([]string{"--scenario", "lock-lease", "--seed", "9", "--mutant", "lock-ignore-lease"}, io.Discard)
	require.NoError(t, err)
	assert.Contains(t, f.reproCommand(), "--seed 9 ")
	assert.Contains(t, f.reproCommand(), "--mutant lock-ignore-lease")
	assert.Equal(t, "lock-ignore-lease", f.options(io.Discard).Mutant)
	assert.NotContains(t, f.reproCommand(), "until-fail")

	for _, args := range [][]string{{"--mutant", "bogus"}, {"--until-fail", "--max-runs", "0"}} {
		_, _, err := parseRunFlags(args, io.Discard)
		assert.Error(t, err, "%v", args)
	}
	code, _, stderr := runCLI("run", "--scenario", "lock-lease", "--mutant", "observe-reorder", "--duration", "1s", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "runs no election workload")
}

func TestMutantsCommand(t *testing.T) {
	code, out, _ := runCLI("mutants")
	require.Equal(t, 0, code)
	for _, m := range workloads.Mutants() {
		assert.Regexp(t, `(?m)^`+m.Name+` +`+string(m.Kind)+` +`+regexp.QuoteMeta(m.Check)+` +`+m.Scenario+` `, out)
	}
	code, _, _ = runCLI("mutants", "extra")
	assert.Equal(t, exitUsage, code)
}
