package batch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/nightly"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// zooThroughputIssues are the scenarios of BenchmarkZooThroughput, each
// with the known etcd issue it finds on the pinned release.
var zooThroughputIssues = []struct{ scenario, issue string }{
	{"stale-unlock", "22082"},
	{"campaign-compaction", "21128"},
	{"election-retry", "22123"},
	{"lease-promote", "etcdchaos-4"},
}

// BenchmarkZooThroughput carries out the same zoo, the pinned release in
// etcd processes with the scenarios of zooThroughputIssues and b.N seeds
// of each (seeds 1 to b.N, one plan, so that every worker has runs to
// take), serially, at the default parallelism and at one run more than
// the default, side by side. It reports runs and known findings (a run
// that found its scenario's issue) per wall-clock minute, the share of
// runs that found their issue, the share that failed (a violation or an
// unknown: on the pinned release, a false alarm or a new bug), and CPU
// seconds (the harness and its etcd processes) per second of run. The
// run above the default shows what starving the runs of CPU does to what
// they find.
func BenchmarkZooThroughput(b *testing.B) {
	bin, err := harness.FindEtcd()
	if err != nil {
		b.Skipf("no etcd binary for the pinned release (make etcd): %v", err)
	}
	const runFor = 20 * time.Second
	scenarios := make([]string, len(zooThroughputIssues))
	expect := map[string]string{}
	for i, s := range zooThroughputIssues {
		scenarios[i], expect[s.scenario] = s.scenario, s.issue
	}
	def := batch.DefaultParallel([]string{harness.ModeProcess})
	for _, parallel := range slices.Compact([]int{1, def, def + 1}) {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			plan, _, err := nightly.PlanZoo(nightly.Zoo{Etcds: []nightly.Etcd{{Label: "pinned", Bin: bin}},
				Scenarios: scenarios, Seeds: b.N, Seed: 1, Duration: runFor, Members: 3,
				Backend: workloads.BackendConcurrency})
			require.NoError(b, err)
			cpu0, start := cpuTime(), time.Now()
			res, err := batch.Execute(context.Background(), plan, batch.Options{
				Out: filepath.Join(b.TempDir(), "zoo"), Parallel: parallel, CheckTimeout: time.Minute})
			require.NoError(b, err)
			wall, cpu := time.Since(start), cpuTime()-cpu0
			var runs, found, failed int
			for _, r := range res.Aggregate.Runs {
				require.NotNil(b, r.Summary, "run %s: %s", r.ID, r.Error)
				runs++
				if batch.RunExit(r) != 0 {
					failed++
				}
				for _, k := range r.Summary.KnownIssues {
					if k.Issue != nil && k.Issue.ID == expect[r.Scenario] {
						found++
						break
					}
				}
			}
			b.ReportMetric(float64(runs)/wall.Minutes(), "runs/min")
			b.ReportMetric(float64(found)/wall.Minutes(), "found/min")
			b.ReportMetric(float64(found)/float64(runs), "found/run")
			b.ReportMetric(float64(failed)/float64(runs), "failed/run")
			b.ReportMetric(cpu.Seconds()/(float64(runs)*runFor.Seconds()), "cpu-s/run-s")
		})
	}
}

// cpuTime is the CPU time, user and system, of this process and of its
// children that ended (the etcd processes of finished runs).
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}
