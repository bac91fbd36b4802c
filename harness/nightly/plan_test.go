package nightly

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
)

func total(runs []Run) time.Duration {
	var d time.Duration
	for _, r := range runs {
		d += r.Estimate()
	}
	return d
}

func TestPlanDefaultMatrixFitsBudget(t *testing.T) {
	n := len(faults.Scenarios())
	runs, err := Plan(Config{}, 30*time.Minute, 20250101)
	require.NoError(t, err)
	require.Len(t, runs, n*2*2, "every scenario x 2 backends x 2 sizes fits 30m")
	require.LessOrEqual(t, total(runs), 30*time.Minute)
	require.GreaterOrEqual(t, runs[0].Duration, DefaultMinDuration)
	ids := map[string]bool{}
	for i, r := range runs {
		require.Equal(t, int64(20250101+i), r.Seed)
		require.False(t, ids[r.ID], "duplicate id %s", r.ID)
		ids[r.ID] = true
	}

	runs, err = Plan(Config{}, 2*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, runs, 8)
	require.LessOrEqual(t, total(runs), 2*time.Minute)
	seen := map[string]bool{}
	for _, r := range runs {
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
	runs, err := Plan(cfg, 2*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, Run{ID: "01-smoke-concurrency-m3", Scenario: "smoke", Seed: 9, Members: 3, Backend: "concurrency",
		Mode: "embedded", Duration: 2*time.Minute - 40*time.Second - 2*RunOverhead}, runs[0])
	require.Equal(t, "02-lock-kill-grpc-m5-process", runs[1].ID)
	require.Equal(t, int64(3), runs[1].Seed)
	require.Equal(t, 40*time.Second, runs[1].Duration)
	require.Contains(t, runs[1].Command(), "--mode process")

	matrix := filepath.Join(t.TempDir(), "matrix.json")
	require.NoError(t, os.WriteFile(matrix, []byte(`{"matrix": {"scenarios": ["smoke", "mixed"], "backends": ["grpc"], "members": [3], "max_duration": "30s"}}`), 0o644))
	cfg, err = LoadConfig(matrix)
	require.NoError(t, err)
	runs, err = Plan(cfg, 10*time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, 30*time.Second, runs[0].Duration, "capped by max_duration")

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
