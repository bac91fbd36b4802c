package reports

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
)

func TestWriteAggregate(t *testing.T) {
	t.Parallel()
	ok := &Summary{Verdict: models.Ok, ExitCode: models.ExitOk, Scenario: "smoke", Checks: []CheckSummary{
		{Check: "mutex", Name: "lock-1", Verdict: models.Ok}, {Check: "liveness", Name: "cluster", Verdict: models.Ok}}}
	bad := &Summary{Verdict: models.Violation, ExitCode: models.ExitViolation, Scenario: "mixed", Checks: []CheckSummary{
		{Check: "mutex", Name: "lock-1", Verdict: models.Violation, Fails: true, Account: "two holders"}}}
	a := Aggregate{Name: "nightly", Started: time.Now(), Elapsed: time.Minute, Budget: 2 * time.Minute, Runs: []AggregateRun{
		{ID: "01-smoke", Scenario: "smoke", Summary: ok},
		{ID: "02-mixed", Scenario: "mixed", Summary: bad},
		{ID: "03-lock-kill", Scenario: "lock-kill", Error: "cluster did not start"},
		{ID: "04-lock-lease", Scenario: "lock-lease", Skipped: "budget spent"},
	}}
	require.Equal(t, models.ExitViolation, a.ExitCode())
	require.Equal(t, models.ExitUnknown, Aggregate{Runs: a.Runs[2:]}.ExitCode())
	require.Equal(t, models.ExitOk, Aggregate{Runs: []AggregateRun{a.Runs[0], a.Runs[3]}}.ExitCode())

	dir := t.TempDir()
	require.NoError(t, WriteAggregate(dir, a))
	data, err := os.ReadFile(filepath.Join(dir, AggregateJUnitFile))
	require.NoError(t, err)
	var j junitSuites
	require.NoError(t, xml.Unmarshal(data, &j))
	require.Len(t, j.Suites, 4, "one suite per run")
	for i, r := range a.Runs {
		require.Equal(t, "etcdchaos."+r.ID, j.Suites[i].Name)
	}
	require.Len(t, j.Suites[0].Cases, 2)
	require.Equal(t, 1, j.Suites[1].Failures)
	require.Equal(t, "two holders", j.Suites[1].Cases[0].Failure.Message)
	require.Equal(t, 1, j.Suites[2].Errors)
	require.Equal(t, 1, j.Suites[3].Skipped)
	require.Equal(t, 5, j.Tests)
	require.Equal(t, 1, j.Failures)

	html, err := os.ReadFile(filepath.Join(dir, AggregateIndexFile))
	require.NoError(t, err)
	for _, want := range []string{`href="01-smoke/index.html"`, `href="02-mixed/index.html"`, "cluster did not start", "budget spent", "v-violation"} {
		require.Contains(t, string(html), want)
	}
	require.NotContains(t, string(html), `href="03-lock-kill/index.html"`, "no link to a report that does not exist")
	require.FileExists(t, filepath.Join(dir, AggregateSummaryFile))
}
