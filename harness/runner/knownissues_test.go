package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
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
// b.N seeds of knownIssueRun each (-benchtime 5x: seeds 1 to 5, each run
// once). Issue 22123 needs a Resign that keeps its Election after failing,
// which only the concurrency backend does; the server bugs of older
// releases run in etcd processes of those releases, skipped where the
// binary is not built; 22082 is concurrency.Mutex's and etcdchaos-3 the
// v3lock service's form of the same stale unlock; 21128 is in concurrency.Election,
// which the v3election service runs too; 14758 runs in etcd processes, where
// lease-race finds it (embedded members did not, in seeds 1 and 2).
func BenchmarkKnownIssues(b *testing.B) {
	for _, tc := range []struct {
		scenario string
		backend  workloads.Backend
		issues   []string
		// release, when set, runs etcd processes of that release
		// ("pinned": bin/etcd).
		release string
	}{
		{"waiters", workloads.BackendConcurrency, []string{"19597", "22123"}, ""},
		{"waiters", workloads.BackendGRPC, []string{"19597"}, ""},
		{"election-retry", workloads.BackendConcurrency, []string{"22123"}, ""},
		{"stale-unlock", workloads.BackendConcurrency, []string{"22082"}, ""},
		{"stale-unlock", workloads.BackendGRPC, []string{"etcdchaos-3"}, ""},
		{"campaign-compaction", workloads.BackendConcurrency, []string{"21128"}, ""},
		{"campaign-compaction", workloads.BackendGRPC, []string{"21128"}, ""},
		// Server bugs of older releases and the pinned one's, in etcd
		// processes: bin/etcd-<release> (make etcd ETCD_VERSION=...), or
		// bin/etcd for the pinned release.
		{"stale-leader", workloads.BackendConcurrency, []string{"15247"}, "v3.5.12"},
		{"lease-ttl", workloads.BackendConcurrency, []string{"17506"}, "v3.5.13"},
		{"stale-leader", workloads.BackendConcurrency, []string{"etcdchaos-1", "etcdchaos-2"}, "pinned"},
		{"lease-promote", workloads.BackendConcurrency, []string{"etcdchaos-4"}, "pinned"},
		{"lease-race", workloads.BackendConcurrency, []string{"14758"}, "pinned"},
	} {
		sc, err := faults.Lookup(tc.scenario)
		require.NoError(b, err)
		name := tc.scenario + "/" + string(tc.backend)
		if tc.release != "" {
			name += "/" + tc.release
		}
		b.Run(name, func(b *testing.B) {
			opts := Options{Duration: knownIssueRun, Members: 3, Backend: tc.backend, CheckTimeout: time.Minute}
			if tc.release != "" {
				opts.Mode, opts.EtcdBin = harness.ModeProcess, releaseBinary(b, tc.release)
			}
			secs := map[string][]float64{}
			found := map[string]int{}
			runs := 0
			for i := 0; b.Loop(); i++ {
				runs++
				opts.Seed, opts.Out = int64(1+i), filepath.Join(b.TempDir(), "run")
				res, err := Run(context.Background(), sc, opts)
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
				b.ReportMetric(float64(found[issue])/float64(runs), fmt.Sprintf("found/run-%s", issue))
			}
		})
	}
}

// releaseBinary is the etcd binary of release for a process-mode run:
// bin/etcd for "pinned", else bin/etcd-<release>; the benchmark is skipped
// when it has not been built.
func releaseBinary(b *testing.B, release string) string {
	b.Helper()
	if release == "pinned" {
		bin, err := harness.FindEtcd()
		if err != nil {
			b.Skipf("no etcd binary for the pinned release (make etcd): %v", err)
		}
		return bin
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "etcd-"+release))
	require.NoError(b, err)
	if _, err := os.Stat(bin); err != nil {
		b.Skipf("no %s (make etcd ETCD_VERSION=%s): %v", bin, release, err)
	}
	return bin
}
