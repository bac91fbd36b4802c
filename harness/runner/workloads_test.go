package runner

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// TestUnfencedFraction: a run's workloads get the scenario's fraction of
// unfenced writes, or the options' when they override it, and 0 means none
// everywhere: the clients' seeded choices show the same fraction.
func TestUnfencedFraction(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		override *float64
		want     float64
	}{
		{"lock-pause", nil, 0.5},
		{"mixed", nil, 0.25},
		{"lock-kill", nil, 0},
		{"lock-pause", ptr(0.0), 0},
		{"lock-kill", ptr(0.9), 0.9},
		{"mixed", ptr(1.0), 1},
	} {
		sc, err := faults.Lookup(tc.scenario)
		require.NoError(t, err)
		r := &run{sc: sc, opts: Options{Seed: 5, Unfenced: tc.override}}
		cfg := r.workloadConfig(sc.Workloads[0], 0)
		require.Equal(t, tc.want, cfg.Unfenced, "%s, override %v", tc.scenario, tc.override)

		plan, err := workloads.Plan(cfg, 1, 500)
		require.NoError(t, err)
		writes, unfenced := 0, 0
		for _, in := range plan {
			for _, fenced := range in.Fenced {
				writes++
				if !fenced {
					unfenced++
				}
			}
		}
		frac := float64(unfenced) / float64(writes)
		switch tc.want {
		case 0, 1:
			require.Equal(t, tc.want, frac, "%s, override %v", tc.scenario, tc.override)
		default:
			require.InDelta(t, tc.want, frac, 0.05, "%s, override %v", tc.scenario, tc.override)
		}
	}
}

// A scenario's extra keys per lease reach its workloads, and the lease
// checkpoint option reaches the cluster it starts (not an existing one).
func TestLeaseRaceSettingsReachWorkloadsAndCluster(t *testing.T) {
	sc, err := faults.Lookup("lease-race")
	require.NoError(t, err)
	r := &run{sc: sc, opts: Options{LeaseCheckpoint: true}}
	for _, kind := range sc.Workloads {
		require.Equal(t, 1000, r.workloadConfig(kind, 0).LeaseKeys, kind)
	}
	require.True(t, r.clusterConfig().LeaseCheckpoint)
	smoke, err := faults.Lookup("smoke")
	require.NoError(t, err)
	require.Zero(t, (&run{sc: smoke}).workloadConfig(smoke.Workloads[0], 0).LeaseKeys)

	_, err = Options{Endpoints: []string{"127.0.0.1:2379"}, LeaseCheckpoint: true}.clusterOptions(smoke)
	require.True(t, IsBadOptions(err), "%v", err)
}
