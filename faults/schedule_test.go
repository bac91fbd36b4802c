package faults

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScheduleIsDeterministic(t *testing.T) {
	sc, err := Lookup("mixed")
	require.NoError(t, err)
	a := NewSchedule(sc, 42, time.Minute)
	b := NewSchedule(sc, 42, time.Minute)
	require.NotEmpty(t, a)
	require.Equal(t, a, b, "one seed must give one schedule")
	require.NotEqual(t, a, NewSchedule(sc, 43, time.Minute), "another seed should give another schedule")
}

func TestScheduleFitsTheRunAndLeavesItsEndHealthy(t *testing.T) {
	for _, sc := range Scenarios() {
		for seed := int64(0); seed < 20; seed++ {
			d := 20 * time.Second
			sch := NewSchedule(sc, seed, d)
			if len(sc.Injectors) == 0 {
				require.Empty(t, sch, sc.Name)
				continue
			}
			var prevEnd time.Duration
			for _, st := range sch {
				require.Contains(t, sc.Injectors, st.Injector)
				require.GreaterOrEqual(t, st.At, prevEnd, "%s seed %d: faults must not overlap", sc.Name, seed)
				prevEnd = st.At + st.For
				require.LessOrEqual(t, prevEnd+sc.Quiet, d, "%s seed %d: the end of the run must stay healthy", sc.Name, seed)
				if st.Injector == PauseClient {
					require.Greater(t, st.For, sc.LeaseTTL, "a pause must outlast the lease")
				}
			}
		}
	}
}

func TestCatalogNamesEveryRequiredScenario(t *testing.T) {
	for _, name := range []string{"smoke", "lock-partition", "lock-lease", "lock-pause", "lock-kill",
		"election-partition", "election-lease", "election-kill", "mixed"} {
		sc, err := Lookup(name)
		require.NoError(t, err, name)
		require.NotEmpty(t, sc.Description, name)
		require.NotEmpty(t, sc.Workloads, name)
		for _, inj := range sc.Injectors {
			require.Contains(t, injectors, inj, "%s uses unknown injector", name)
		}
	}
	_, err := Lookup("nope")
	require.ErrorContains(t, err, "unknown scenario")
}

func TestShuffledIsAPermutation(t *testing.T) {
	for choice := uint64(0); choice < 200; choice++ {
		got := shuffled(5, choice*7919)
		require.ElementsMatch(t, []int{1, 2, 3, 4, 5}, got)
	}
}
