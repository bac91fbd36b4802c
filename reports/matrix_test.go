package reports

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
)

// zooAggregate is a zoo of two releases: the old one has known etcd issue
// 15247 (two findings, the first 3 s into the run), the new one has the
// same finding as a regression in one seed and nothing in the other.
func zooAggregate() Aggregate {
	known := &Summary{Verdict: models.KnownIssue, ExitCode: models.ExitOk, Scenario: "lock-lease",
		Checks: []CheckSummary{{Check: "truth", Name: "l0", Verdict: models.KnownIssue, AtNs: int64(3 * time.Second)}},
		KnownIssues: []models.Finding{
			{Issue: &models.IssueRef{ID: "15247", Upstream: true}, Class: models.KnownIssue, Kind: "lease-early-expiry", At: int64(4 * time.Second)},
			{Issue: &models.IssueRef{ID: "15247", Upstream: true}, Class: models.KnownIssue, Kind: "lease-early-expiry", At: int64(3 * time.Second)},
		}}
	regression := &Summary{Verdict: models.Violation, ExitCode: models.ExitViolation, Scenario: "lock-lease",
		Checks: []CheckSummary{
			{Check: "lock", Name: "l0", Verdict: models.Ok},
			{Check: "truth", Name: "l0", Verdict: models.Violation, Fails: true, AtNs: int64(5 * time.Second), Account: "lease expired early"},
		}}
	ok := &Summary{Verdict: models.Ok, ExitCode: models.ExitOk, Scenario: "lock-lease",
		Checks: []CheckSummary{{Check: "truth", Name: "l0", Verdict: models.Ok}}}
	return Aggregate{Name: "zoo", Started: time.Now(), Elapsed: time.Minute, Runs: []AggregateRun{
		{ID: "01-old-s1", Etcd: "v3.5.12", Scenario: "lock-lease", Seed: 1, Summary: known},
		{ID: "02-new-s1", Etcd: "v3.5.13", Scenario: "lock-lease", Seed: 1, Summary: ok},
		{ID: "03-old-s2", Etcd: "v3.5.12", Scenario: "lock-lease", Seed: 2, Summary: ok},
		{ID: "04-new-s2", Etcd: "v3.5.13", Scenario: "lock-lease", Seed: 2, Summary: regression},
		{ID: "05-new-smoke", Etcd: "v3.5.13", Scenario: "smoke", Seed: 1, Summary: ok},
		{ID: "06-old-smoke", Etcd: "v3.5.12", Scenario: "smoke", Seed: 1, Skipped: "the budget is spent"},
	}}
}

func TestAggregateMatrix(t *testing.T) {
	t.Parallel()
	a := zooAggregate()
	require.Nil(t, Aggregate{Runs: []AggregateRun{{ID: "01", Scenario: "smoke"}}}.Matrix(), "a nightly compares no etcds")

	at, ok := a.Runs[0].Detected()
	require.True(t, ok)
	require.Equal(t, 3*time.Second, at, "the earliest finding")
	_, ok = a.Runs[1].Detected()
	require.False(t, ok)
	at, ok = a.Runs[3].Detected()
	require.True(t, ok)
	require.Equal(t, 5*time.Second, at)

	m := a.Matrix()
	require.NotNil(t, m)
	require.Equal(t, []string{"lock-lease", "smoke"}, m.Scenarios)
	require.Len(t, m.Rows, 2)
	old, fixed := m.Rows[0], m.Rows[1]
	require.Equal(t, "v3.5.12", old.Etcd)
	require.Equal(t, "v3.5.13", fixed.Etcd)

	c := old.Cells[0]
	require.Equal(t, 2, c.Runs)
	require.Equal(t, map[models.Verdict]int{models.KnownIssue: 1, models.Ok: 1}, c.Verdicts)
	require.Equal(t, models.KnownIssue, c.Worst)
	require.Equal(t, map[string]int{"15247": 2}, c.KnownIssues)
	require.Equal(t, 1, c.Detected)
	require.Equal(t, "01-old-s1", c.FirstRun)
	require.Equal(t, int64(1), c.FirstSeed)
	require.Equal(t, 3*time.Second, c.TimeToDetect)

	c = fixed.Cells[0]
	require.Equal(t, models.Violation, c.Worst)
	require.Empty(t, c.KnownIssues)
	require.Equal(t, "04-new-s2", c.FirstRun)
	require.Equal(t, int64(2), c.FirstSeed)
	require.Equal(t, 5*time.Second, c.TimeToDetect)

	require.Zero(t, old.Cells[1].Runs, "a skipped run is not counted")
	require.Equal(t, 1, fixed.Cells[1].Runs)
	require.Zero(t, fixed.Cells[1].Detected)

	require.Equal(t, models.ExitViolation, a.ExitCode(), "a finding on a fixed release is a regression")
	require.Equal(t, models.ExitOk, Aggregate{Runs: a.Runs[:3]}.ExitCode(), "a known issue on a release it affects is expected")
}

func TestWriteAggregateMatrix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, WriteAggregate(dir, zooAggregate()))

	data, err := os.ReadFile(filepath.Join(dir, AggregateSummaryFile))
	require.NoError(t, err)
	var file struct {
		Runs   []AggregateRun `json:"runs"`
		Matrix *Matrix        `json:"matrix"`
	}
	require.NoError(t, json.Unmarshal(data, &file))
	require.Len(t, file.Runs, 6)
	require.Equal(t, "v3.5.12", file.Runs[0].Etcd)
	require.NotNil(t, file.Matrix)
	require.Equal(t, map[string]int{"15247": 2}, file.Matrix.Rows[0].Cells[0].KnownIssues)
	require.Equal(t, 3*time.Second, file.Matrix.Rows[0].Cells[0].TimeToDetect)

	html, err := os.ReadFile(filepath.Join(dir, AggregateIndexFile))
	require.NoError(t, err)
	for _, want := range []string{"etcd × scenario", "<th>v3.5.12</th>", "<th>v3.5.13</th>", "known etcd issue 15247 × 2",
		"first at 3s (seed 1", `href="01-old-s1/index.html"`, "first at 5s (seed 2", "nothing found", "not run"} {
		require.Contains(t, string(html), want)
	}

	data, err = os.ReadFile(filepath.Join(dir, AggregateJUnitFile))
	require.NoError(t, err)
	var j junitSuites
	require.NoError(t, xml.Unmarshal(data, &j))
	require.Contains(t, j.Suites[0].Properties, junitProperty{"etcd", "v3.5.12"})
}
