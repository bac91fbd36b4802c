package linear

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/gen"
)

func TestAccounts(t *testing.T) {
	cases := []struct {
		file, check string
		want        []string
	}{
		{"illegal-lock-overlap", models.CheckLock, []string{
			"client 3 was granted l0 at 12.31 s (op 2) while client 5 held it since 11.90 s (op 1)",
			"client 5's lease was alive until 13.02 s"}},
		{"illegal-lock-lower-rev", models.CheckLock, []string{"revision 8, not above revision 10 granted earlier to client 1 (op 1)"}},
		{"illegal-lock-owner-after-lease-lost", models.CheckLock, []string{"which was already gone", "client 1 saw it lost at 2.50 s"}},
		{"illegal-fenced-write-non-owner", models.CheckFenced, []string{"client 2's fenced write to l0 at 0.15 s (op 3) took effect while client 1 held it since 0.12 s (op 1)"}},
		{"illegal-election-two-leaders", models.CheckElection, []string{"two leaders: client 2 became leader of e0 at 0.13 s (op 2) while client 1 led it since 0.11 s (op 1)"}},
		{"illegal-election-proclaim-non-leader", models.CheckElection, []string{"client 1 proclaimed \"late\" on e0", "not the leader", "resigned at 0.13 s (op 2)"}},
		{"illegal-election-stale-leader-read", models.CheckElection, []string{"client 2 read the leader of e0 at 0.15 s (op 3)", "value \"a\"", "with value \"b\""}},
		{"known-election-campaign-after-revoke-fault", models.CheckElection, []string{"with lease c8, which was already gone: a revoke-lease fault on client 2 at 1.00 s ended it by 1.01 s"}},
		{"illegal-observe-reversal", models.CheckObserve, []string{"went back to an older leader"}},
		{"illegal-observe-phantom", models.CheckObserve, []string{"value \"b\"", "no campaign or proclaim"}},
		{"unsafe-unfenced-pause", models.CheckUnfenced, []string{"client 1's unfenced write to l0 at 3.16 s (op 5)", "client 2 held it since 2.30 s (op 2)"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c, ok := findCheck(check(t, readTestdata(t, tc.file), Options{}), tc.check)
			require.True(t, ok)
			assert.Equal(t, models.Violation, c.Recorded)
			for _, w := range tc.want {
				assert.Contains(t, c.Account, w)
			}
		})
	}
}

// Recheck runs the same check with some operations taken as of unknown
// outcome: withdrawing the refused stale write leaves a linearizable
// history, withdrawing an unrelated operation does not.
func TestRecheckWithdraws(t *testing.T) {
	c, ok := findCheck(check(t, readTestdata(t, "unsafe-unfenced-pause"), Options{}), models.CheckUnfenced)
	require.True(t, ok)
	require.Equal(t, models.Violation, c.Recorded)
	require.Equal(t, int64(5), c.Porcupine.Refused)
	assert.Equal(t, RefusalNotOwner, c.Porcupine.Refusal)
	again := c.Porcupine.Recheck(context.Background(), map[int64]bool{5: true})
	assert.Equal(t, models.Ok, again.Recorded)
	unrelated := c.Porcupine.Recheck(context.Background(), map[int64]bool{4: true})
	assert.Equal(t, models.Violation, unrelated.Recorded)
	assert.Equal(t, int64(5), unrelated.Porcupine.Refused)
}

func generated(t testing.TB, cfg gen.Config, timeout time.Duration) (*history.History, []models.CheckResult) {
	t.Helper()
	h, err := history.Read(bytes.NewReader(gen.Generate(cfg)), "generated")
	require.NoError(t, err)
	return h, check(t, h, Options{Timeout: timeout})
}

// countOps counts completions by function and outcome.
func countOps(h *history.History) map[string]int {
	n := map[string]int{}
	for _, op := range h.Operations() {
		n[op.F+"/"+string(op.Outcome)]++
	}
	return n
}

func TestGeneratedLockHistoriesAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		h, res := generated(t, gen.Config{Seed: seed, Names: 3, Clients: 5, Ops: 6000}, 20*time.Second)
		n := countOps(h)
		require.Greater(t, n["lock/info"], 0, "some locks are indeterminate")
		require.Greater(t, n["lease-lost/ok"], 0, "some leases expire")
		require.Greater(t, n["write/fail"], 0, "some guarded writes are rejected")
		for _, c := range res {
			assert.Equal(t, models.Ok, c.Verdict, "seed %d %s %s: %s", seed, c.Check, c.Name, c.Account)
		}
		assert.Len(t, res, 9, "lock, fenced and unfenced checks per name")
	}
}

func TestGeneratedElectionHistoriesAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		h, res := generated(t, gen.Config{Seed: seed, Names: 2, Clients: 5, Ops: 6000, Election: true}, 20*time.Second)
		n := countOps(h)
		require.Greater(t, n["campaign/info"], 0)
		require.Greater(t, n["lease-lost/ok"], 0)
		require.Greater(t, n["observe/ok"], 100)
		require.Greater(t, n["leader/ok"], 100)
		for _, c := range res {
			assert.Equal(t, models.Ok, c.Verdict, "seed %d %s %s: %s", seed, c.Check, c.Name, c.Account)
		}
		assert.Len(t, res, 4, "election and observe checks per name")
	}
}

func TestGeneratedBugsAreFound(t *testing.T) {
	_, res := generated(t, gen.Config{Seed: 9, Names: 2, Clients: 5, Ops: 3000, BugDoubleGrant: 0.05}, 20*time.Second)
	c, _ := findCheck(res, models.CheckLock)
	assert.Equal(t, models.Violation, c.Verdict, "a lock service that grants waiting keys breaks mutual exclusion")

	_, res = generated(t, gen.Config{Seed: 9, Names: 2, Clients: 5, Ops: 3000, Election: true, BugStaleRead: 0.05}, 20*time.Second)
	c, _ = findCheck(res, models.CheckElection)
	assert.Equal(t, models.Violation, c.Verdict)
	assert.Contains(t, c.Account, `"stale"`)
}

func TestUndecidableIsUnknown(t *testing.T) {
	h, err := history.Read(bytes.NewReader([]byte(gen.UndecidableLockHistory(40))), "undecidable")
	require.NoError(t, err)
	res := check(t, h, Options{Timeout: 50 * time.Millisecond})
	require.Len(t, res, 1)
	assert.Equal(t, models.Unknown, res[0].Verdict)
	assert.True(t, res[0].Fails)
}
