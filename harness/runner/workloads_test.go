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
