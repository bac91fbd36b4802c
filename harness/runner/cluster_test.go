package runner

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// TestEndpointsRun runs client-side faults against a cluster started
// separately, as --endpoints does, and gets a verdict; the cluster is left
// running.
func TestEndpointsRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := harness.Start(ctx, harness.Config{Members: 3, Logger: zap.NewNop()})
	cancel()
	require.NoError(t, err)
	defer other.Close()

	res, h := runScenario(t, "client-faults", 3, 10*time.Second, func(o *Options) {
		o.Endpoints = other.Endpoints()
		o.Members = 0
	})
	require.NotEmpty(t, res.Verdict)
	requireNoFalseAlarm(t, res)
	requireHealed(t, h)
	require.Equal(t, 3, h.Header.Members)
	require.NotEmpty(t, h.Operations())
	require.NotEmpty(t, res.Applied, "no client-side fault was applied")
	requireServerTruth(t, h)

	cli, err := other.Dial(1)
	require.NoError(t, err)
	defer cli.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cli.Put(ctx, "after", "run")
	require.NoError(t, err, "the run closed a cluster it did not start")
}

func TestEndpointsRejectClusterFaults(t *testing.T) {
	t.Parallel()
	sc, err := faults.Lookup("mixed")
	require.NoError(t, err)
	_, err = Run(context.Background(), sc, Options{Endpoints: []string{"127.0.0.1:1"}, Out: t.TempDir()})
	require.True(t, IsBadOptions(err), "%v", err)
	require.ErrorContains(t, err, "(isolate-leader, isolate-member, split, bridge, latency, kill-member, kill-leader, move-leader)",
		"names exactly the cluster faults")
	require.ErrorContains(t, err, "need an embedded or process cluster")
}

// TestProcessModeRun runs member pauses on etcd processes.
func TestProcessModeRun(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindEtcd(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("process mode needs an etcd binary in CI: %v", err)
		}
		t.Skipf("no etcd binary: %v", err)
	}
	sc, err := faults.Lookup("member-pause")
	require.NoError(t, err)
	d := 12 * time.Second
	seed := int64(0)
	for s := int64(1); s <= 200 && seed == 0; s++ {
		for _, st := range faults.NewSchedule(sc, s, d) {
			if st.Injector == faults.PauseMember {
				seed = s
			}
		}
	}
	require.NotZero(t, seed, "no seed schedules a pause")
	res, h := runScenario(t, sc.Name, seed, d, func(o *Options) { o.Mode = harness.ModeProcess })
	requireNoFalseAlarm(t, res)
	requireHealed(t, h)
	require.Positive(t, res.Applied[faults.PauseMember], "no member was paused: %v", res.Applied)
	paused := 0
	for _, f := range h.Faults() {
		if f.Kind == history.KindPauseMember {
			paused++
		}
	}
	require.Positive(t, paused)
	require.NotEqual(t, models.Violation, res.Verdict)
	requireServerTruth(t, h)
}

// requireServerTruth: the run recorded server truth for the names its
// clients used, complete (no gap), and the truth check ran on each.
func requireServerTruth(t *testing.T, h *history.History) {
	t.Helper()
	require.True(t, h.Header.ServerTruth)
	seen := map[string]bool{}
	for _, s := range h.ServerEvents() {
		require.NotEqual(t, history.ServerGap, s.Event, "a gap in the truth: %+v", s)
		seen[s.Name] = true
	}
	for _, op := range h.Operations() {
		if op.Outcome == history.Ok && (op.F == history.FLock || op.F == history.FCampaign) {
			require.True(t, seen[op.Name], "no server truth for %s", op.Name)
		}
	}
	require.NotEmpty(t, h.Header.EtcdVersion, "the version the cluster reports")
}
