package runner

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/internal/diskstall"
	"github.com/etcdchaos/etcdchaos/history"
)

// TestDiskStallRun runs disk-stall with members run as processes: while a
// leader's disk is stalled the others elect a new leader and commit
// without it, no write through a member whose disk is held completes, and
// nothing is taken for a violation.
func TestDiskStallRun(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindEtcd(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("process mode needs an etcd binary in CI: %v", err)
		}
		t.Skipf("no etcd binary: %v", err)
	}
	if err := diskstall.Probe(t.TempDir()); err != nil {
		// A machine without FUSE (no /dev/fuse, or mounts refused) cannot
		// stall a disk, and nothing a setup script installs gives it one.
		t.Skipf("no FUSE here, so no disk stalls: %v", err)
	}
	sc, err := faults.Lookup("disk-stall")
	require.NoError(t, err)
	d := 20 * time.Second
	seed := int64(0)
	for s := int64(1); s <= 200 && seed == 0; s++ {
		for _, st := range faults.NewSchedule(sc, s, d) {
			if st.Injector == faults.StallLeaderDisk && st.At+st.For < d-3*time.Second {
				seed = s
			}
		}
	}
	require.NotZero(t, seed, "no seed schedules a leader's disk stall")
	res, h := runScenario(t, sc.Name, seed, d, func(o *Options) { o.Mode = harness.ModeProcess })
	requireNoFalseAlarm(t, res)
	requireHealed(t, h)
	requireServerTruth(t, h)
	require.Positive(t, res.Applied[faults.StallLeaderDisk], "no leader's disk was stalled: %v", res.Applied)

	// A member's raft loop stops at its first write after the stall began,
	// which an active workload brings within an election timeout.
	settle := int64(time.Duration(h.Header.ElectionTimeoutMs) * time.Millisecond)
	ops := h.Operations()
	retried := retriedResigns(h.Header, ops) // answered without a request (etcd 22123)
	stalls := 0
	for _, f := range h.Faults() {
		if f.Kind != history.KindStallDisk {
			continue
		}
		require.True(t, f.Ended)
		stalls++
		for _, op := range ops {
			if writes[op.F] && op.Outcome == history.Ok && op.Member == f.Member && op.Call > f.Start+settle && op.Return < f.End && !retried[op.ID] {
				require.Failf(t, "write through a stalled member", "op %d (%s %s by client %d) completed ok through member %d while its disk was stalled (%s)",
					op.ID, op.F, op.Name, op.Client, op.Member, f.Detail)
			}
		}
		if !f.Leader {
			continue
		}
		served := 0
		for _, op := range ops {
			if writes[op.F] && op.Outcome == history.Ok && op.Member != f.Member && op.Call > f.Start && op.Return < f.End-int64(100*time.Millisecond) {
				served++
			}
		}
		require.Positive(t, served, "nothing was committed while leader %d's disk was stalled (%s)", f.Member, f.Detail)
	}
	require.Positive(t, stalls)
}
