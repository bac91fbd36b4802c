package batch

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"1/1": {1, 1}, "2/3": {2, 3}, " 7/7 ": {7, 7}} {
		got, err := ParseShard(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		require.Equal(t, strings.TrimSpace(in), got.String())
	}
	for _, bad := range []string{"0/0", "3/2", "abc", "0/3", "1/0", "-1/2", "1/2/3", "2", "", "/2", "a/b"} {
		_, err := ParseShard(bad)
		require.Error(t, err, bad)
		require.ErrorContains(t, err, "expected I/N", bad)
	}
}

func TestShardRoundRobin(t *testing.T) {
	var p Plan
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		p.Runs = append(p.Runs, Run{ID: id})
	}
	ids := func(p Plan) string {
		var s []string
		for _, r := range p.Runs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	require.Equal(t, "a,c,e", ids(p.Shard(Shard{1, 2})))
	require.Equal(t, "b,d", ids(p.Shard(Shard{2, 2})))
	require.Equal(t, "", ids(p.Shard(Shard{7, 7})), "a shard may be empty")
	require.Equal(t, 5, p.Shard(Shard{7, 7}).Total)
	require.Equal(t, p, p.Shard(Shard{}), "the zero shard is the whole plan")
}

// The reproduce command names every option that changes what runs, and
// leaves out the command's defaults.
func TestCommand(t *testing.T) {
	unfenced := 0.25
	r := Run{Scenario: "waiters", Options: runner.Options{Seed: 7, Duration: 40 * time.Second, Members: 5, Clients: 12,
		Backend: workloads.BackendGRPC, Unfenced: &unfenced, Strict: true, Mutant: "lock-no-wait", Fixes: []int{19597, 22123},
		Mode: harness.ModeProcess, EtcdBin: "bin/etcd-v3.5.12", Network: harness.NetworkNetns, LeaseCheckpoint: true}}
	require.Equal(t, "etcdchaos run --scenario waiters --seed 7 --duration 40s --members 5 --clients 12 --backend grpc "+
		"--unfenced 0.25 --strict --mutant lock-no-wait --fix 19597,22123 --mode process --etcd-bin bin/etcd-v3.5.12 "+
		"--network netns --lease-checkpoint", r.Command())
	r = Run{Scenario: "smoke", Options: runner.Options{Seed: 1, Mode: harness.ModeEmbedded, Network: harness.NetworkProxy}}
	require.Equal(t, "etcdchaos run --scenario smoke --seed 1 --duration 30s --members 3 --backend concurrency", r.Command())
	r.Options.Endpoints = []string{"http://a:2379", "http://b:2379"}
	require.True(t, strings.HasSuffix(r.Command(), "--endpoints http://a:2379,http://b:2379"), r.Command())
}

// The batch's exit code is the README's table over its runs.
func TestExitCode(t *testing.T) {
	sum := func(v models.Verdict, code int) *reports.Summary { return &reports.Summary{Verdict: v, ExitCode: code} }
	ok := reports.AggregateRun{Summary: sum(models.Ok, 0)}
	known := reports.AggregateRun{Summary: sum(models.KnownIssue, 0)}
	hazard := reports.AggregateRun{Summary: sum(models.UnsafeWithoutFencing, 0)}
	strictKnown := reports.AggregateRun{Summary: sum(models.KnownIssue, 1)}
	violation := reports.AggregateRun{Summary: sum(models.Violation, 1)}
	unknown := reports.AggregateRun{Summary: sum(models.Unknown, 3)}
	failed := reports.AggregateRun{Error: "start cluster: no etcd"}
	interrupted := reports.AggregateRun{Summary: sum(models.Ok, 0), Error: interruptedDuring}
	notStarted := reports.AggregateRun{Error: interruptedBefore}
	budget := reports.AggregateRun{Skipped: "the budget is spent"}
	for _, tc := range []struct {
		runs []reports.AggregateRun
		bad  bool
		want int
	}{
		{[]reports.AggregateRun{ok, known, hazard, budget}, false, 0},
		{[]reports.AggregateRun{ok, strictKnown}, false, 1},
		{[]reports.AggregateRun{unknown, violation}, false, 1},
		{[]reports.AggregateRun{ok, unknown}, false, 3},
		{[]reports.AggregateRun{ok, failed}, false, 3},
		{[]reports.AggregateRun{ok, interrupted}, false, 3},
		{[]reports.AggregateRun{ok, notStarted}, false, 3},
		{[]reports.AggregateRun{failed}, true, 2},
		{[]reports.AggregateRun{violation, failed}, true, 1},
	} {
		require.Equal(t, tc.want, ExitCode(reports.Aggregate{Runs: tc.runs}, tc.bad), "%+v", tc.runs)
	}
}

func TestDefaultParallel(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	embedded := DefaultParallel([]string{harness.ModeEmbedded})
	mixed := DefaultParallel([]string{harness.ModeEmbedded, harness.ModeProcess})
	process := DefaultParallel([]string{harness.ModeProcess})
	require.Equal(t, max(1, min(cores, 8)), embedded)
	require.Equal(t, embedded, mixed, "a plan with any embedded run is held to one per core")
	require.Equal(t, max(1, min(cores*3/2, 8)), process)
	require.Equal(t, embedded, DefaultParallel(nil), "an empty plan")
	if cores == 2 {
		require.Equal(t, 2, embedded, "two embedded runs at once on two cores")
		require.Equal(t, 3, process, "three process-mode runs at once on two cores")
	}
}

// The estimate of the time left spreads the work not done over the
// workers and never passes the budget.
func TestProgressLeft(t *testing.T) {
	var p Plan
	for range 4 {
		p.Runs = append(p.Runs, Run{Options: runner.Options{Duration: 15 * time.Second}}) // 20 s each with overhead
	}
	pr := newProgress(nil, p, 2, time.Time{})
	require.Equal(t, 40*time.Second, pr.left())
	pr.finish(0, reports.AggregateRun{Summary: &reports.Summary{Verdict: models.Ok}})
	require.Equal(t, 30*time.Second, pr.left())
	pr.finish(1, reports.AggregateRun{Summary: &reports.Summary{Verdict: models.Violation, ExitCode: 1}})
	pr.finish(2, reports.AggregateRun{Skipped: "budget"})
	require.Equal(t, 20*time.Second, pr.left(), "one run left: one worker's worth")
	require.Equal(t, 1, pr.failing)
	pr = newProgress(nil, p, 2, time.Now().Add(10*time.Second))
	require.LessOrEqual(t, pr.left(), 10*time.Second)
}
