package runner

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// mutantSeeds bounds the runs a mutant may take to be caught. Mutants that
// need a lease fault to land at the right moment are caught in two runs
// out of three or more (BenchmarkMutantDetection reports the rate), so ten
// runs miss about once in ten thousand; the others are caught in the first.
const mutantSeeds = 10

// mutantRun is how long each mutant's scenario runs in tests: long enough
// for its bug to show (lease faults need a few seconds to come), short
// enough for make test.
func mutantRun(m workloads.Mutant) time.Duration {
	if m.Scenario == "smoke" {
		return 6 * time.Second
	}
	return 10 * time.Second
}

// runMutant runs m's scenario with m and the given seed.
func runMutant(t testing.TB, m workloads.Mutant, seed int64, d time.Duration) Result {
	t.Helper()
	sc, err := faults.Lookup(m.Scenario)
	require.NoError(t, err)
	res, err := Run(context.Background(), sc, Options{Seed: seed, Duration: d, Members: 3, Mutant: m.Name,
		Out: filepath.Join(t.TempDir(), "run"), CheckTimeout: 30 * time.Second})
	require.NoError(t, err)
	requireCheckReproducesRun(t, res)
	return res
}

// caught returns the earliest history time (ns) at which check found a
// violation, and whether it found one.
func caught(res models.Result, check string) (int64, bool) {
	at, found := int64(0), false
	for _, c := range res.Checks {
		if c.Check == check && c.Verdict == models.Violation && (!found || c.At < at) {
			at, found = c.At, true
		}
	}
	return at, found
}

// TestMutantsAreCaught runs every mutant on its scenario: within a bounded
// number of seeds a run fails, with a violation of the mutant's check, and
// checking the saved history again gives the same verdict. With server
// truth on, as every run has it, no seed classifies the mutant's check as
// a known etcd issue or the documented hazard: a broken client is never
// excused as etcd's bug. (The mutant breaks one operation; the rest is
// real etcd, whose own known bugs a run may still meet elsewhere.)
func TestMutantsAreCaught(t *testing.T) {
	for _, m := range workloads.Mutants() {
		t.Run(m.Name, func(t *testing.T) {
			for seed := int64(1); seed <= mutantSeeds; seed++ {
				start := time.Now()
				res := runMutant(t, m, seed, mutantRun(m))
				at, ok := caught(res.Check, m.Check)
				t.Logf("seed %d: %s in %v, %s at %.2fs", seed, res.Verdict, time.Since(start).Round(time.Second), m.Check, float64(at)/1e9)
				requireNeverExcused(t, res, m)
				if !ok {
					continue
				}
				require.Equal(t, models.ExitViolation, res.ExitCode)
				requireSameVerdict(t, res, m)
				return
			}
			require.Failf(t, "mutant not caught", "%s: no %s violation in %d seeds", m.Name, m.Check, mutantSeeds)
		})
	}
}

// requireNeverExcused: no operation the mutant breaks is a known issue's
// finding, or withdrawn by classification as a known issue's false claim
// or the hazard's stale write.
func requireNeverExcused(t *testing.T, res Result, m workloads.Mutant) {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(res.Dir, HistoryFile))
	require.NoError(t, err)
	broken := map[int64]bool{}
	for _, op := range h.Operations() {
		if op.F == m.Breaks {
			broken[op.ID] = true
		}
	}
	require.NotEmpty(t, broken, "the mutant's operations ran")
	for _, c := range res.Check.Checks {
		for _, id := range c.Withdrawn {
			require.False(t, broken[id], "%s %s withdrew op %d, a %s the mutant broke: %s", c.Check, c.Name, id, m.Breaks, c.Account)
		}
		for _, f := range c.Findings {
			if f.Class != models.Violation {
				require.False(t, broken[f.Op], "%s %s classified op %d, a %s the mutant broke, as %s: %s", c.Check, c.Name, f.Op, m.Breaks, f.Class, f.Account)
			}
		}
	}
}

// requireSameVerdict checks the saved history of a violating run again.
func requireSameVerdict(t *testing.T, res Result, m workloads.Mutant) {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(res.Dir, HistoryFile))
	require.NoError(t, err)
	require.Equal(t, m.Name, h.Header.Mutant)
	require.True(t, h.Header.ServerTruth, "the mutant ran with server truth on")
	again, err := verdict.Check(context.Background(), h, models.Options{Timeout: 30 * time.Second})
	require.NoError(t, err)
	require.Equal(t, res.Check.Verdict, again.Verdict)
	require.Equal(t, res.Check.ExitCode, again.ExitCode)
	_, ok := caught(again, m.Check)
	require.True(t, ok, "checking the saved history again found no %s violation", m.Check)
}

func TestMutantOptions(t *testing.T) {
	sc, err := faults.Lookup("lock-lease")
	require.NoError(t, err)
	for _, name := range []string{"no-such-mutant", "observe-reorder"} {
		_, err := Run(context.Background(), sc, Options{Mutant: name, Out: t.TempDir()})
		require.True(t, IsBadOptions(err), "%s: %v", name, err)
	}
}

// BenchmarkMutantDetection reports, per mutant, the median workload time
// until the first violating operation (seconds since the run started) over
// b.N seeds, one whole run each (-benchtime 5x: five seeds); seeds that find
// nothing count as the full run.
func BenchmarkMutantDetection(b *testing.B) {
	for _, m := range workloads.Mutants() {
		b.Run(m.Name, func(b *testing.B) {
			d := 2 * mutantRun(m)
			var secs []float64
			found := 0
			for i := 0; i < b.N; i++ {
				res := runMutant(b, m, int64(1000+i), d)
				at, ok := caught(res.Check, m.Check)
				if ok {
					found++
				} else {
					at = d.Nanoseconds()
				}
				secs = append(secs, float64(at)/1e9)
			}
			sort.Float64s(secs)
			b.ReportMetric(secs[len(secs)/2], "s-to-detect")
			b.ReportMetric(float64(found)/float64(b.N), "caught/run")
		})
	}
}
