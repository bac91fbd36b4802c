package nightly

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// TestShardsSplitThePlan: each shard process plans the batch itself and
// takes its shard. The N shards together are exactly the unsharded plan:
// every run in exactly one shard, with the same id, seed and duration, and
// each shard keeps the plan's order. Nightly plans depend on the budget, so
// this also shows that every shard plans the same runs.
func TestShardsSplitThePlan(t *testing.T) {
	plans := map[string]func() (batch.Plan, error){
		"nightly 30m": func() (batch.Plan, error) { return Plan(Config{}, 30*time.Minute, 20250101) },
		"nightly 3m":  func() (batch.Plan, error) { return Plan(Config{}, 3*time.Minute, 20250101) },
		"zoo": func() (batch.Plan, error) {
			z := testZoo()
			z.Budget = 3 * time.Minute
			p, _, err := PlanZoo(z)
			return p, err
		},
		"soak": func() (batch.Plan, error) {
			return PlanSoak(Soak{Scenarios: []string{"smoke", "mixed", "lock-kill", "waiters"}, Seeds: 3, Seed: 1,
				Options: runner.Options{Duration: 20 * time.Second, Members: 3, Backend: workloads.BackendGRPC}})
		},
	}
	for name, plan := range plans {
		whole, err := plan()
		require.NoError(t, err, name)
		require.GreaterOrEqual(t, len(whole.Runs), 8, "%s: enough runs to split seven ways", name)
		for _, n := range []int{1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s in %d", name, n), func(t *testing.T) {
				var union []batch.Run
				at := map[string]int{} // run id -> its place in the whole plan
				for i, r := range whole.Runs {
					require.NotContains(t, at, r.ID, "run ids are unique")
					at[r.ID] = i
				}
				for i := 1; i <= n; i++ {
					again, err := plan() // another process plans the same batch
					require.NoError(t, err)
					shard := again.Shard(batch.Shard{Index: i, Count: n})
					require.Equal(t, batch.Shard{Index: i, Count: n}, shard.Slice)
					require.Equal(t, len(whole.Runs), shard.Total, "a shard knows the size of the whole plan")
					last := -1
					for _, r := range shard.Runs {
						k, ok := at[r.ID]
						require.True(t, ok, "run %s of shard %d/%d is not in the plan", r.ID, i, n)
						require.Equal(t, whole.Runs[k], r, "run %s differs from the plan's", r.ID)
						require.Greater(t, k, last, "shard %d/%d keeps the plan's order", i, n)
						require.Equal(t, i-1, k%n, "run %d goes to shard k mod N + 1", k)
						last = k
					}
					union = append(union, shard.Runs...)
				}
				require.ElementsMatch(t, whole.Runs, union, "the shards together are the plan, no run twice")
				require.Len(t, union, len(whole.Runs))
			})
		}
	}
}
