package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
)

func knownAt(id string, at time.Duration) models.Finding {
	return models.Finding{Issue: &models.IssueRef{ID: id, Upstream: !strings.HasPrefix(id, "etcdchaos-")},
		Class: models.KnownIssue, Kind: "k", At: int64(at)}
}

// detectionAggregate: on v3.5.12 known issue 15247 is found in 4 of 5 runs,
// 1, 2, 3 and 4 s in (the fifth finds nothing), and a lock violation once
// at 6 s; on v3.5.13 15247 is found in 1 of 2 runs, 10 s in; a skipped run
// and a run without a summary are not counted.
func detectionAggregate() Aggregate {
	run := func(id, etcd, scenario string, seed int64, s *Summary) AggregateRun {
		return AggregateRun{ID: id, Etcd: etcd, Scenario: scenario, Seed: seed, Summary: s}
	}
	known := func(at ...time.Duration) *Summary {
		s := &Summary{Verdict: models.KnownIssue}
		for _, t := range at {
			s.KnownIssues = append(s.KnownIssues, knownAt("15247", t))
		}
		return s
	}
	ok := &Summary{Verdict: models.Ok}
	violation := known(4 * time.Second)
	violation.Verdict = models.Violation
	violation.Findings = []models.FindingGroup{
		{Check: "lock", Class: models.Violation, FirstAt: int64(7 * time.Second)},
		{Check: "unfenced-writes", Class: models.UnsafeWithoutFencing, FirstAt: int64(time.Second)},
	}
	violation.Checks = []CheckSummary{{Check: "lock", Verdict: models.Violation, AtNs: int64(6 * time.Second)}}
	return Aggregate{Name: "zoo", Runs: []AggregateRun{
		run("01", "v3.5.12", "stale-leader", 1, known(3*time.Second, time.Second)),
		run("02", "v3.5.13", "stale-leader", 1, ok),
		run("03", "v3.5.12", "stale-leader", 2, known(2*time.Second)),
		run("04", "v3.5.13", "lease-ttl", 2, known(10*time.Second)),
		run("05", "v3.5.12", "lease-ttl", 3, ok),
		run("06", "v3.5.12", "lease-ttl", 4, violation),
		run("07", "v3.5.12", "waiters", 5, known(3*time.Second)),
		{ID: "08", Etcd: "v3.5.13", Scenario: "waiters", Error: "cluster did not start"},
		{ID: "09", Etcd: "v3.5.12", Scenario: "waiters", Skipped: "the budget is spent"},
	}}
}

func TestDetectionsGiveSharesAndQuantiles(t *testing.T) {
	t.Parallel()
	ds := detectionAggregate().Detections()
	require.Len(t, ds, 4, "two bugs times two etcds")

	old := ds[0]
	require.Equal(t, "15247", old.Bug)
	require.Equal(t, "known etcd issue 15247", old.Label)
	require.Equal(t, "v3.5.12", old.Etcd)
	require.Equal(t, 5, old.Runs)
	require.Equal(t, 4, old.Found)
	require.InDelta(t, 0.8, old.Share, 1e-9)
	var times []time.Duration
	for _, d := range old.Detects {
		times = append(times, d.At)
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Second}, times,
		"each run's first finding, in run order")
	require.Equal(t, &TimeQuantiles{Min: time.Second, Q1: 1750 * time.Millisecond, Median: 2500 * time.Millisecond,
		Q3: 3250 * time.Millisecond, Max: 4 * time.Second}, old.Quantiles)
	require.Equal(t, []string{"stale-leader", "lease-ttl", "waiters"}, old.Scenarios)

	fixed := ds[1]
	require.Equal(t, "v3.5.13", fixed.Etcd)
	require.Equal(t, 2, fixed.Runs, "a run without a summary was not checked")
	require.Equal(t, 1, fixed.Found)
	require.InDelta(t, 0.5, fixed.Share, 1e-9)
	require.Equal(t, &TimeQuantiles{Min: 10 * time.Second, Q1: 10 * time.Second, Median: 10 * time.Second,
		Q3: 10 * time.Second, Max: 10 * time.Second}, fixed.Quantiles)

	lock := ds[2]
	require.Equal(t, "violation: lock", lock.Bug)
	require.Equal(t, "lock", lock.Check)
	require.Equal(t, 1, lock.Found)
	require.Equal(t, 6*time.Second, lock.Detects[0].At, "the earlier of the check's time and its findings'")
	require.Equal(t, "06", lock.Detects[0].Run)
	require.Zero(t, ds[3].Found)
	require.Nil(t, ds[3].Quantiles)
	for _, d := range ds {
		require.NotContains(t, d.Bug, "unfenced", "the documented hazard is not a bug")
	}

	// Runs that name no etcd tested the pinned one.
	pinned := Aggregate{Runs: []AggregateRun{{ID: "01", Summary: &Summary{KnownIssues: []models.Finding{knownAt("etcdchaos-1", 5*time.Second)}}}}}.Detections()
	require.Len(t, pinned, 1)
	require.Equal(t, PinnedEtcd, pinned[0].Etcd)
	require.Contains(t, pinned[0].Label, "found by etcdchaos")
	require.Empty(t, Aggregate{Runs: []AggregateRun{{ID: "01", Summary: &Summary{Verdict: models.Ok}}}}.Detections())
}

func TestQuantilesInterpolate(t *testing.T) {
	t.Parallel()
	q := quantiles([]time.Duration{3 * time.Second, time.Second, 2 * time.Second})
	require.Equal(t, TimeQuantiles{Min: time.Second, Q1: 1500 * time.Millisecond, Median: 2 * time.Second,
		Q3: 2500 * time.Millisecond, Max: 3 * time.Second}, *q)
}

func TestDetectionPlotInAggregateReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, WriteAggregate(dir, detectionAggregate()))
	data, err := os.ReadFile(filepath.Join(dir, AggregateIndexFile))
	require.NoError(t, err)
	html := string(data)
	i := strings.Index(html, `<svg id="plot-detection"`)
	require.Positive(t, i, "the findings-over-time plot")
	svg := html[i : i+strings.Index(html[i:], "</svg>")]
	require.Equal(t, 4, strings.Count(svg, `<g class="detect"`), "a row per bug and etcd")
	require.Equal(t, 6, strings.Count(svg, `<circle class="pt"`), "a dot per run that found a bug")
	require.Equal(t, 3, strings.Count(svg, `<rect class="box"`), "a box per row that found something")
	for _, want := range []string{"4/5 runs (80%)", "1/2 runs (50%)", "0/2 runs (0%)", "15247 · v3.5.12", "violation: lock · v3.5.13",
		"06, seed 4 (lease-ttl): first at 6.00 s", "median 2.50 s"} {
		require.Contains(t, svg, want)
	}
	require.Contains(t, html, "Findings over time")

	data, err = os.ReadFile(filepath.Join(dir, AggregateSummaryFile))
	require.NoError(t, err)
	var file struct {
		Detections []Detection `json:"detections"`
	}
	require.NoError(t, json.Unmarshal(data, &file))
	require.Len(t, file.Detections, 4)
	require.Equal(t, 2500*time.Millisecond, file.Detections[0].Quantiles.Median)

	// A batch that found nothing has no such section.
	require.NoError(t, WriteAggregate(dir, Aggregate{Name: "nightly", Runs: []AggregateRun{{ID: "01", Summary: &Summary{Verdict: models.Ok}}}}))
	data, err = os.ReadFile(filepath.Join(dir, AggregateIndexFile))
	require.NoError(t, err)
	require.NotContains(t, string(data), "plot-detection")
}
