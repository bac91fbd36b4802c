package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// run is a short run of scenario on members members.
func run(id, scenario string, seed int64, d time.Duration, members int, mode string) Run {
	return Run{ID: id, Scenario: scenario, Options: runner.Options{Seed: seed, Duration: d, Members: members, Mode: mode}}
}

// TestParallelRunsAreIsolated carries out three real runs at once, two
// with embedded members and one with etcd processes: each writes its own
// complete run directory with its own seed, the runs overlapped in time,
// and once the batch is done nothing of theirs is left: no goroutine, no
// socket, no etcd process, no data directory.
func TestParallelRunsAreIsolated(t *testing.T) {
	if _, err := harness.FindEtcd(); err != nil {
		t.Fatalf("the process-mode run needs etcd: make etcd: %v", err)
	}
	defer leakcheck.VerifyNone(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // every data directory goes here
	sockets := socketCount(t)

	out := t.TempDir()
	plan := Plan{Runs: []Run{
		run("a", "smoke", 11, 4*time.Second, 3, harness.ModeEmbedded),
		run("b", "lock-lease", 12, 4*time.Second, 1, harness.ModeEmbedded),
		run("c", "smoke", 13, 4*time.Second, 3, harness.ModeProcess),
	}}
	var progress bytes.Buffer
	res, err := Execute(context.Background(), plan, Options{Out: out, Name: "isolated", Parallel: 3, Progress: &progress,
		ProgressEvery: time.Second})
	require.NoError(t, err)
	require.Equal(t, models.ExitOk, res.ExitCode, "aggregate: %+v\nprogress:\n%s", res.Aggregate.Runs, &progress)
	require.Equal(t, -1, res.FirstFailure)

	var spans [][2]int64
	for i, r := range plan.Runs {
		ar := res.Aggregate.Runs[i]
		require.Equal(t, r.ID, ar.ID)
		require.Empty(t, ar.Error)
		require.NotNil(t, ar.Summary, "run %s", r.ID)
		require.Equal(t, r.Options.Seed, ar.Summary.Seed, "run %s checked its own history", r.ID)
		require.Equal(t, r.Scenario, ar.Summary.Scenario)
		require.Equal(t, r.Options.Members, ar.Summary.Members)
		require.Positive(t, ar.Summary.Ops.Total, "run %s recorded operations", r.ID)
		h, err := history.ReadFile(filepath.Join(out, r.ID, reports.HistoryFile))
		require.NoError(t, err)
		require.Equal(t, r.Command(), h.Header.Command)
		for _, f := range []string{reports.IndexFile, reports.JUnitFile, reports.SummaryFile} {
			require.FileExists(t, filepath.Join(out, r.ID, f))
		}
		require.Positive(t, ar.Summary.StartUnixNs)
		spans = append(spans, [2]int64{ar.Summary.StartUnixNs, ar.Summary.StartUnixNs + ar.Summary.DurationNs})
	}
	latestStart, earliestEnd := max(spans[0][0], spans[1][0], spans[2][0]), min(spans[0][1], spans[1][1], spans[2][1])
	require.Less(t, latestStart, earliestEnd, "the three runs went at the same time")
	require.Contains(t, res.Aggregate.Runs[2].Command, "--mode process")

	agg := readAggregate(t, out)
	require.Len(t, agg.Runs, 3)
	require.Equal(t, 3, agg.PlanRuns)
	require.Equal(t, 3, strings.Count(progress.String(), "] "), "one progress line per run:\n%s", &progress)
	require.Contains(t, progress.String(), "[3/3] ")
	require.Regexp(t, `(?m)^batch: 0/3 runs done, 3 running; 0 failing, 0 known-issue findings, about \d+s left$`, progress.String(),
		"a summary while the runs go on")

	requireNothingLeft(t, tmp, sockets)
}

// TestInterruptStopsEveryRun cancels a parallel batch while two long runs
// go on (one of them etcd processes): both heal, check what they recorded
// and write their run directories; the runs that had not started are
// marked interrupted; the aggregate is written, the batch is unknown (3)
// and nothing is left behind.
func TestInterruptStopsEveryRun(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	sockets := socketCount(t)

	out := t.TempDir()
	plan := Plan{Runs: []Run{
		run("long-1", "mixed", 1, 2*time.Minute, 3, harness.ModeProcess),
		run("long-2", "mixed", 2, 2*time.Minute, 3, harness.ModeEmbedded),
		run("never-3", "smoke", 3, 2*time.Minute, 1, harness.ModeEmbedded),
		run("never-4", "smoke", 4, 2*time.Minute, 1, harness.ModeEmbedded),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		res Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Execute(ctx, plan, Options{Out: out, Parallel: 2})
		done <- result{res, err}
	}()
	require.Eventually(t, func() bool {
		return historySize(out, "long-1") > 20_000 && historySize(out, "long-2") > 20_000
	}, time.Minute, 100*time.Millisecond, "both runs record operations")
	cancel()
	var got result
	select {
	case got = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the batch did not end after it was interrupted")
	}
	require.NoError(t, got.err)
	res := got.res
	require.True(t, res.Interrupted)
	require.Contains(t, []int{models.ExitUnknown, models.ExitViolation}, res.ExitCode)
	for i, ar := range res.Aggregate.Runs[:2] {
		require.NotNil(t, ar.Summary, "run %d was checked: %s", i+1, ar.Error)
		require.Equal(t, interruptedDuring, ar.Error)
		require.Contains(t, strings.Join(ar.Summary.Notes, " "), "interrupted")
		require.Less(t, ar.Summary.DurationNs, int64(time.Minute), "run %d stopped early", i+1)
	}
	for _, ar := range res.Aggregate.Runs[2:] {
		require.Nil(t, ar.Summary)
		require.Equal(t, interruptedBefore, ar.Error)
		require.NoDirExists(t, filepath.Join(out, ar.ID))
	}
	agg := readAggregate(t, out)
	require.Equal(t, res.Aggregate.Runs[3].Error, agg.Runs[3].Error, "the aggregate on disk is the final one")
	require.Equal(t, res.ExitCode, agg.ExitCode())
	requireNothingLeft(t, tmp, sockets)
}

// TestBudgetHoldsWithWorkers: with two workers and a budget that fits the
// first two runs only, those run (shortened to what is left) and the rest
// are skipped; the batch ends within its budget plus a shutdown margin.
func TestBudgetHoldsWithWorkers(t *testing.T) {
	out := t.TempDir()
	budget := 14 * time.Second
	var plan Plan
	for i := range 4 {
		plan.Runs = append(plan.Runs, run(string(rune('a'+i)), "smoke", int64(i), 20*time.Second, 1, harness.ModeEmbedded))
	}
	start := time.Now()
	res, err := Execute(context.Background(), plan, Options{Out: out, Parallel: 2, Budget: budget})
	require.NoError(t, err)
	require.Less(t, time.Since(start), budget+10*time.Second)
	require.Equal(t, models.ExitOk, res.ExitCode)
	for _, ar := range res.Aggregate.Runs[:2] {
		require.NotNil(t, ar.Summary, ar.Error)
		require.Contains(t, []time.Duration{budget - RunOverhead - time.Second, budget - RunOverhead}, ar.Planned,
			"shortened to fit the budget")
		require.Contains(t, ar.Command, "--duration "+ar.Planned.String())
	}
	for _, ar := range res.Aggregate.Runs[2:] {
		require.Contains(t, ar.Skipped, "the budget is spent")
	}
	require.Equal(t, budget, readAggregate(t, out).Budget)
}

// TestStopAtFirstFailure runs a deliberately broken lock on two workers:
// once a run fails no other starts, and the first failure is reported in
// plan order.
func TestStopAtFirstFailure(t *testing.T) {
	out := t.TempDir()
	var plan Plan
	for i := range 6 {
		r := run("seed-"+string(rune('1'+i)), "smoke", int64(i+1), 3*time.Second, 1, harness.ModeEmbedded)
		r.Options.Mutant = "lock-no-wait"
		plan.Runs = append(plan.Runs, r)
	}
	var mu sync.Mutex
	var order []int
	res, err := Execute(context.Background(), plan, Options{Out: out, Parallel: 2, StopAtFirstFailure: true,
		Done: func(o Outcome) {
			mu.Lock()
			defer mu.Unlock()
			if o.Started {
				order = append(order, o.Index)
			}
		}})
	require.NoError(t, err)
	require.Equal(t, models.ExitViolation, res.ExitCode)
	require.GreaterOrEqual(t, res.FirstFailure, 0)
	for i, ar := range res.Aggregate.Runs[:res.FirstFailure] {
		require.Equal(t, models.ExitOk, RunExit(ar), "run %d before the first failure", i)
	}
	skipped := 0
	for _, ar := range res.Aggregate.Runs {
		if ar.Skipped != "" {
			skipped++
			require.Regexp(t, `^not started: run seed-\d failed$`, ar.Skipped)
		}
	}
	require.Positive(t, skipped, "no run starts after a failure (ran %v)", order)
	require.Len(t, order, len(plan.Runs)-skipped)
}

// TestBadOptionsAreBadInput: runs whose options the runner refuses stop
// the batch with exit code 2.
func TestBadOptionsAreBadInput(t *testing.T) {
	out := t.TempDir()
	r := run("x", "lock-lease", 1, time.Second, 1, harness.ModeEmbedded)
	r.Options.Mutant = "observe-reorder" // breaks elections; lock-lease runs none
	plan := Plan{Runs: []Run{r, r, r}}
	plan.Runs[1].ID, plan.Runs[2].ID = "y", "z"
	res, err := Execute(context.Background(), plan, Options{Out: out, Parallel: 1})
	require.NoError(t, err)
	require.Equal(t, models.ExitBadInput, res.ExitCode)
	require.Contains(t, res.Aggregate.Runs[0].Error, "runs no election workload")
	require.Contains(t, res.Aggregate.Runs[2].Skipped, "options were refused")
}

func historySize(out, id string) int64 {
	st, err := os.Stat(filepath.Join(out, id, reports.HistoryFile))
	if err != nil {
		return 0
	}
	return st.Size()
}

func readAggregate(t *testing.T, dir string) reports.Aggregate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var agg reports.Aggregate
	require.NoError(t, json.Unmarshal(data, &agg))
	return agg
}

// socketCount counts this process's open sockets.
func socketCount(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// children lists this process's child processes (their pids), from the
// parent pid in every /proc/PID/stat.
func children(t *testing.T) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	require.NotEmpty(t, stats, "/proc is mounted")
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		s := string(data)
		// Fields after the command name (in parentheses): state, ppid.
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == me {
			out = append(out, filepath.Base(filepath.Dir(f)))
		}
	}
	return out
}

// requireNothingLeft checks that no etcd process, data directory or
// socket outlived the batch (sockets closing asynchronously get a grace).
func requireNothingLeft(t *testing.T, tmp string, sockets int) {
	t.Helper()
	assert.Empty(t, children(t), "child processes outlived the batch")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "temporary directories outlived the batch")
	assert.Eventually(t, func() bool { return socketCount(t) <= sockets }, leakcheck.Grace, 50*time.Millisecond,
		"sockets outlived the batch: %d, %d before", socketCount(t), sockets)
}
