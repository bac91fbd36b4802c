package nightly

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/workloads"
)

func testZoo() Zoo {
	return Zoo{Etcds: []Etcd{{"v3.5.12", "bin/etcd-v3.5.12"}, {"v3.5.13", "bin/etcd-v3.5.13"}},
		Scenarios: []string{"lock-lease", "election-lease"}, Seed: 7, Duration: 10 * time.Second,
		Members: 3, Backend: workloads.BackendGRPC}
}

func TestPlanZooSameSeedsOnEveryEtcd(t *testing.T) {
	z := testZoo()
	z.Seeds = 2
	plan, budget, err := PlanZoo(z)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2*2*2)
	require.Equal(t, 2*total(plan), budget, "with seeds and no budget, the batch may take twice every run's estimate")
	ids := map[string]bool{}
	for i, r := range plan.Runs {
		seed, sc, e := int64(7+i/4), z.Scenarios[i/2%2], z.Etcds[i%2]
		require.Equal(t, seed, r.Options.Seed, "run %d", i)
		require.Equal(t, sc, r.Scenario, "run %d", i)
		require.Equal(t, e.Label, r.Etcd, "run %d", i)
		require.Equal(t, e.Bin, r.Options.EtcdBin, "run %d", i)
		require.Equal(t, harness.ModeProcess, r.Options.Mode)
		require.Equal(t, 10*time.Second, r.Options.Duration)
		require.Contains(t, r.ID, e.Label)
		require.False(t, ids[r.ID], "duplicate id %s", r.ID)
		ids[r.ID] = true
		require.True(t, strings.HasSuffix(r.Command(), "--mode process --etcd-bin "+e.Bin), r.Command())
	}
}

func TestPlanZooSeedsFromBudget(t *testing.T) {
	z := testZoo()
	z.Budget = time.Minute // per etcd: 2 scenarios x 15 s estimate fit twice
	plan, budget, err := PlanZoo(z)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2*2*2)
	require.Equal(t, 2*time.Minute, budget, "each etcd gets its budget")
	require.LessOrEqual(t, total(plan), budget)

	z.Budget = time.Second
	plan, _, err = PlanZoo(z)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 4, "at least one seed; the executor skips what the budget does not allow")

	z.Seeds, z.Budget = 3, time.Minute
	plan, budget, err = PlanZoo(z)
	require.NoError(t, err)
	require.Len(t, plan.Runs, 12, "seeds given: all planned, the budget bounds the batch")
	require.Equal(t, 2*time.Minute, budget)
}

func TestPlanZooRefusesBadInput(t *testing.T) {
	for name, change := range map[string]func(*Zoo){
		"no etcds":       func(z *Zoo) { z.Etcds = nil },
		"no scenarios":   func(z *Zoo) { z.Scenarios = nil },
		"no seeds":       func(z *Zoo) { z.Seeds, z.Budget = 0, 0 },
		"label twice":    func(z *Zoo) { z.Etcds[1].Label = z.Etcds[0].Label },
		"no binary":      func(z *Zoo) { z.Etcds[1].Bin = "" },
		"bad scenario":   func(z *Zoo) { z.Scenarios = []string{"nope"} },
		"bad members":    func(z *Zoo) { z.Members = 4 },
		"no duration":    func(z *Zoo) { z.Duration = 0 },
		"negative seeds": func(z *Zoo) { z.Seeds = -1 },
	} {
		z := testZoo()
		z.Seeds = 1
		change(&z)
		_, _, err := PlanZoo(z)
		require.Error(t, err, name)
	}
}
