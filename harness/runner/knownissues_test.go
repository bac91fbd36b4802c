package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// knownIssueRun is how long each run of BenchmarkKnownIssues lasts.
const knownIssueRun = 60 * time.Second

// firstKnown returns the earliest history time (ns) of a finding of the
// given etcd issue, and whether there is one.
func firstKnown(res models.Result, issue string) (int64, bool) {
	at, found := int64(0), false
	for _, k := range res.KnownIssues {
		if k.Issue != nil && k.Issue.ID == issue && (!found || k.At < at) {
			at, found = k.At, true
		}
	}
	return at, found
}

// BenchmarkKnownIssues reports, per scenario, backend and known etcd issue,
// the share of runs that find it and the median time into the run until the
// first finding (a run that finds nothing counts as its whole length), over
// b.N seeds of knownIssueRun each (-benchtime 5x: five). Issue 22123 needs a
// Resign that keeps its Election after failing, which only the concurrency
// backend does; 22082 is concurrency.Mutex's and etcdchaos-3 the v3lock
// service's form of the same stale unlock; 21128 is in concurrency.Election,
// which the v3election service runs too.
func BenchmarkKnownIssues(b *testing.B) {
	for _, tc := range []struct {
		scenario string
		backend  workloads.Backend
		issues   []string
	}{
		{"waiters", workloads.BackendConcurrency, []string{"19597", "22123"}},
		{"waiters", workloads.BackendGRPC, []string{"19597"}},
		{"election-retry", workloads.BackendConcurrency, []string{"22123"}},
		{"stale-unlock", workloads.BackendConcurrency, []string{"22082"}},
		{"stale-unlock", workloads.BackendGRPC, []string{"etcdchaos-3"}},
		{"campaign-compaction", workloads.BackendConcurrency, []string{"21128"}},
		{"campaign-compaction", workloads.BackendGRPC, []string{"21128"}},
	} {
		sc, err := faults.Lookup(tc.scenario)
		require.NoError(b, err)
		b.Run(tc.scenario+"/"+string(tc.backend), func(b *testing.B) {
			secs := map[string][]float64{}
			found := map[string]int{}
			for i := 0; i < b.N; i++ {
				res, err := Run(context.Background(), sc, Options{Seed: int64(1 + i), Duration: knownIssueRun, Members: 3,
					Backend: tc.backend, Out: filepath.Join(b.TempDir(), "run"), CheckTimeout: time.Minute})
				require.NoError(b, err)
				for _, issue := range tc.issues {
					at, ok := firstKnown(res.Check, issue)
					if ok {
						found[issue]++
					} else {
						at = knownIssueRun.Nanoseconds()
					}
					secs[issue] = append(secs[issue], float64(at)/1e9)
				}
			}
			for _, issue := range tc.issues {
				sort.Float64s(secs[issue])
				b.ReportMetric(secs[issue][len(secs[issue])/2], fmt.Sprintf("s-to-detect-%s", issue))
				b.ReportMetric(float64(found[issue])/float64(b.N), fmt.Sprintf("found/run-%s", issue))
			}
		})
	}
}
