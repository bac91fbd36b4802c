package reports

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

// checked runs the real checker on a generated history, whose clients take
// the same locks without excluding each other: a violating history.
func checked(t *testing.T, n int, seed int64, clients, names int) (string, models.Result) {
	t.Helper()
	h := genHistoryOpt(n, seed, clients, names)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := verdict.Check(ctx, h, models.Options{Timeout: 10 * time.Second, Visualize: true})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Write(dir, h, res, Meta{}))
	return dir, res
}

func TestEndToEndViolatingHistory(t *testing.T) {
	dir, res := checked(t, 400, 31, 16, 4)
	for _, c := range res.Checks {
		t.Logf("%s %s %s fails=%v info=%v ops=%d: %s", c.Check, c.Name, c.Verdict, c.Fails, c.Porcupine != nil && c.Porcupine.Info != nil, c.Ops, c.Account)
	}
	require.Equal(t, models.Violation, res.Verdict)
	s := BuildSummary(genHistory(400, 31), res, Meta{})
	assert.Equal(t, models.ExitViolation, s.ExitCode)

	x := parseJUnit(t, filepath.Join(dir, JUnitFile))
	failing := 0
	for _, c := range res.Checks {
		if c.Fails || c.Verdict == models.Violation || c.Verdict == models.Unknown {
			failing++
		}
	}
	assert.Positive(t, failing)
	assert.Equal(t, len(res.Checks), x.Suites[0].Tests)
	assert.Equal(t, failing, x.Suites[0].Failures)

	html := readFile(t, filepath.Join(dir, IndexFile))
	links := 0
	for _, c := range s.Checks {
		if c.Visualization == "" {
			continue
		}
		links++
		assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(c.Visualization)))
		assert.True(t, strings.Contains(html, `href="`+c.Visualization+`"`), "index links %s", c.Visualization)
	}
	assert.Positive(t, links, "porcupine checks have visualizations")
}

func TestEndToEndOkHistory(t *testing.T) {
	dir, res := checked(t, 1200, 33, 8, 8)
	require.Equal(t, models.Ok, res.Verdict)
	x := parseJUnit(t, filepath.Join(dir, JUnitFile))
	assert.Equal(t, len(res.Checks), x.Suites[0].Tests)
	assert.Zero(t, x.Suites[0].Failures)
	html := readFile(t, filepath.Join(dir, IndexFile))
	assert.True(t, strings.Contains(html, `class="verdict v-ok"`))
	assert.False(t, strings.Contains(html, `id="findings"`), "no findings on an ok run")
}

func TestStaleVisualizationsRemoved(t *testing.T) {
	h := genHistoryOpt(300, 34, 4, 4)
	res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 10 * time.Second, Visualize: true})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Write(dir, h, res, Meta{}))
	s := BuildSummary(h, res, Meta{})
	var vizs []string
	for _, c := range s.Checks {
		if c.Visualization != "" {
			vizs = append(vizs, c.Visualization)
		}
	}
	require.GreaterOrEqual(t, len(vizs), 2)
	for _, v := range vizs {
		assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(v)))
	}
	res.Checks = res.Checks[:1]
	require.NoError(t, Write(dir, h, res, Meta{}))
	kept := BuildSummary(h, res, Meta{}).Checks[0].Visualization
	for _, v := range vizs {
		if v == kept {
			assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(v)))
		} else {
			assert.NoFileExists(t, filepath.Join(dir, filepath.FromSlash(v)), "stale visualization removed")
		}
	}
}

// TestJUnitForModelsTestdata reports every hand-written history of the
// models package: an illegal one has failing test cases, a legal one none.
func TestJUnitForModelsTestdata(t *testing.T) {
	paths, err := filepath.Glob("../models/testdata/*.jsonl")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".jsonl")
		t.Run(name, func(t *testing.T) {
			h, err := history.ReadFile(p)
			if history.IsBadInput(err) {
				t.Skipf("not a valid history (the models package's tests own these files): %v", err)
			}
			require.NoError(t, err)
			res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 10 * time.Second, Visualize: true})
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, Write(dir, h, res, Meta{}))
			x := parseJUnit(t, filepath.Join(dir, JUnitFile))
			assert.Equal(t, len(res.Checks), x.Suites[0].Tests)
			failures := 0
			for _, c := range x.Suites[0].Cases {
				if c.Failure != nil {
					failures++
					assert.NotEmpty(t, c.Failure.Message)
				}
			}
			assert.Equal(t, x.Suites[0].Failures, failures)
			switch {
			case strings.HasPrefix(name, "illegal-"):
				assert.Positive(t, failures, "an illegal history fails")
			case strings.HasPrefix(name, "legal-"):
				assert.Zero(t, failures, "a legal history passes")
			}
		})
	}
}
