package nightly

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
)

func total(p batch.Plan) time.Duration {
	var d time.Duration
	for _, r := range p.Runs {
		d += r.Estimate()
	}
	return d
}

func TestPlanDefaultMatrixFitsBudget(t *testing.T) {
	n := len(faults.Scenarios())
	plan, err := Plan(Config{}, 30*time.Minute, 20250101)
	require.NoError(t, err)
	require.Len(t, plan.Runs, n*2*2, "every scenario x 2 backends x 2 sizes fits 30m")
	require.LessOrEqual(t, total(plan), 30*time.Minute)
	require.GreaterOrEqual(t, plan.Runs[0].Options.Duration, DefaultMinDuration)
	ids := map[string]bool{}
	for i, r := range plan.Runs {
		require.Equal(t, int64(20250101+i), r.Options.Seed)
		require.False(t, ids[r.ID], "duplicate id %s", r.ID)
		ids[r.ID] = true
	}

	plan, err = Plan(Config{}, 2*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 8)
	require.LessOrEqual(t, total(plan), 2*time.Minute)
	seen := map[string]bool{}
	for _, r := range plan.Runs {
		require.False(t, seen[r.Scenario], "a scenario repeats before every scenario ran once")
		seen[r.Scenario] = true
	}

	_, err = Plan(Config{}, 10*time.Second, 1)
	require.ErrorContains(t, err, "too small")
}

func TestPlanConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nightly.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"seed": 9, "runs": [
		{"scenario": "smoke"},
		{"scenario": "lock-kill", "members": 5, "backend": "grpc", "mode": "process", "duration": "40s", "seed": 3}]}`), 0o644))
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	plan, err := Plan(cfg, 2*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	require.Equal(t, batch.Run{ID: "01-smoke-concurrency-m3", Scenario: "smoke", Options: runner.Options{Seed: 9, Members: 3,
		Backend: "concurrency", Mode: "embedded", Duration: 2*time.Minute - 40*time.Second - 2*RunOverhead}}, plan.Runs[0])
	require.Equal(t, "02-lock-kill-grpc-m5-process", plan.Runs[1].ID)
	require.Equal(t, int64(3), plan.Runs[1].Options.Seed)
	require.Equal(t, 40*time.Second, plan.Runs[1].Options.Duration)
	require.Contains(t, plan.Runs[1].Command(), "--mode process")

	matrix := filepath.Join(t.TempDir(), "matrix.json")
	require.NoError(t, os.WriteFile(matrix, []byte(`{"matrix": {"scenarios": ["smoke", "mixed"], "backends": ["grpc"], "members": [3], "max_duration": "30s"}}`), 0o644))
	cfg, err = LoadConfig(matrix)
	require.NoError(t, err)
	plan, err = Plan(cfg, 10*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	require.Equal(t, 30*time.Second, plan.Runs[0].Options.Duration, "capped by max_duration")

	for _, bad := range []string{`{"runs": [{"scenario": "nope"}]}`, `{"runs": [{"scenario": "smoke", "members": 4}]}`,
		`{"matrix": {"modes": ["vm"]}}`, `{"matrix": {"backends": ["zk"]}}`, `{"budget": "1m"}`, `{"runs": [{"scenario": "smoke", "duration": 5}]}`} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		cfg, err := LoadConfig(path)
		if err == nil {
			_, err = Plan(cfg, time.Minute, 1)
		}
		require.Error(t, err, bad)
	}
}
