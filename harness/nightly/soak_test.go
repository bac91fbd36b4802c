package nightly

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness/runner"
)

func TestPlanSoak(t *testing.T) {
	opts := runner.Options{Duration: 20 * time.Second, Members: 1, Mode: "process", EtcdBin: "/opt/etcd"}
	plan, err := PlanSoak(Soak{Scenarios: []string{"smoke", "lock-kill"}, Seeds: 2, Seed: 5, Options: opts})
	require.NoError(t, err)
	var ids []string
	for _, r := range plan.Runs {
		ids = append(ids, r.ID)
		require.Equal(t, 20*time.Second, r.Options.Duration)
		require.Contains(t, r.Command(), "--members 1 ")
		require.Contains(t, r.Command(), "--mode process --etcd-bin /opt/etcd")
	}
	require.Equal(t, []string{"smoke-5", "smoke-6", "lock-kill-5", "lock-kill-6"}, ids, "scenario by scenario, seed by seed")
	require.Equal(t, int64(6), plan.Runs[3].Options.Seed)

	for name, s := range map[string]Soak{
		"no scenarios":   {Seeds: 1},
		"no seeds":       {Scenarios: []string{"smoke"}},
		"bad scenario":   {Scenarios: []string{"nope"}, Seeds: 1},
		"scenario twice": {Scenarios: []string{"smoke", "smoke"}, Seeds: 1},
	} {
		_, err := PlanSoak(s)
		require.Error(t, err, name)
	}
}
