package runner

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// TestLeaderPauseRun freezes the leader's etcd process for longer than the
// election timeout: the others elect a new leader (they serve writes or
// linearizable reads while the old one is frozen), clients on the other members keep their leases alive
// through it, and nothing is taken for a violation.
func TestLeaderPauseRun(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindEtcd(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("process mode needs an etcd binary in CI: %v", err)
		}
		t.Skipf("no etcd binary: %v", err)
	}
	sc, err := faults.Lookup("leader-pause")
	require.NoError(t, err)
	// Long enough to see leases outlive a leader pause by more than a TTL.
	d := 20 * time.Second
	seed := int64(0)
	for s := int64(1); s <= 200 && seed == 0; s++ {
		for _, st := range faults.NewSchedule(sc, s, d) {
			if st.Injector == faults.PauseLeader && st.At+st.For+sc.LeaseTTL < d-3*time.Second {
				seed = s
			}
		}
	}
	require.NotZero(t, seed, "no seed schedules a leader pause")
	res, h := runScenario(t, sc.Name, seed, d, func(o *Options) { o.Mode = harness.ModeProcess })
	requireNoFalseAlarm(t, res)
	requireHealed(t, h)
	requireServerTruth(t, h)
	require.Positive(t, res.Applied[faults.PauseLeader], "no leader was paused: %v", res.Applied)

	ops := h.Operations()
	pauses := 0
	for _, f := range h.Faults() {
		if f.Kind != history.KindPauseMember || !strings.HasPrefix(f.Detail, "leader ") {
			continue
		}
		pauses++
		require.True(t, f.Ended)
		// A write that committed, or a linearizable leader read that was
		// served, through another member while the old leader was frozen
		// (well before it continued) had a new leader.
		served := 0
		for _, op := range ops {
			if (writes[op.F] || op.F == history.FLeader) && op.Outcome == history.Ok && op.Member != f.Member &&
				op.Call > f.Start && op.Return < f.End-int64(100*time.Millisecond) {
				served++
			}
		}
		require.Positive(t, served, "nothing was served while leader %d was paused (%s)", f.Member, f.Detail)
		ttl := h.Header.LeaseTTLMs * int64(time.Millisecond)
		if f.End+ttl < h.EndTime() {
			require.Positive(t, leasesKeptAlive(ops, f, ttl), "no lease of a client on another member outlived the pause of leader %d", f.Member)
		}
	}
	require.Positive(t, pauses)
}

// leasesKeptAlive counts the leases that a client on another member used in
// an ok lock or campaign before the pause and again more than a TTL after
// it: they were renewed after the new leader, elected during the pause,
// took them over.
func leasesKeptAlive(ops []history.Operation, pause history.Fault, ttl int64) int {
	before, kept := map[int64]bool{}, map[int64]bool{}
	for _, op := range ops {
		if op.Outcome != history.Ok || (op.F != history.FLock && op.F != history.FCampaign) || op.Member == pause.Member {
			continue
		}
		switch {
		case op.Return < pause.Start:
			before[op.Input.Lease] = true
		case op.Call > pause.End+ttl && before[op.Input.Lease]:
			kept[op.Input.Lease] = true
		}
	}
	return len(kept)
}
