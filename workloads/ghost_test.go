package workloads

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

// compactedCampaignRun makes etcd issue 21128 happen on the real cluster:
// A leads e0 and B waits behind it. B is cut off from its member, A
// proclaims and the keyspace is compacted at that revision, A resigns, and
// B is reconnected: its watch resumes from the revision it read before it
// waited, which is compacted, so B's Campaign returns the compaction error
// while its key is already the oldest. B keeps its lease for its backoff,
// during which A reads the leader. With fixed, B runs the fix of 21128. It
// returns the history and B's campaign.
func compactedCampaignRun(t *testing.T, fixed bool) (*history.History, history.Operation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := Config{Backend: BackendConcurrency, WaitTimeout: time.Minute, CampaignBackoff: 2 * time.Second}
	if fixed {
		cfg.Fixes = []int{21128}
	}
	s := newScripted(t, ctx, "campaign-compaction", cfg)
	c := s.c
	admin, a, b, la, bKey := s.leaderAndLeasedWaiter(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.campaign(ctx, "e0")
	}()
	exists := func() bool {
		resp, err := admin.Get(ctx, bKey, clientv3.WithCountOnly())
		require.NoError(t, err)
		return resp.Count == 1
	}
	require.Eventually(t, exists, 10*time.Second, 10*time.Millisecond, "B waits with its key in the queue")
	time.Sleep(200 * time.Millisecond) // B's Campaign reads the older key and watches it

	s.fault(history.KindIsolateClient, history.PhaseStart, b)
	require.NoError(t, c.IsolateClient(b.conn))
	require.True(t, a.proclaim(ctx, "e0", la))
	resp, err := admin.Get(ctx, bKey, clientv3.WithCountOnly())
	require.NoError(t, err)
	_, err = admin.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	require.NoError(t, err)
	a.resign(ctx, "e0", la)
	require.NoError(t, c.ReconnectClient(b.conn))
	s.fault(history.KindIsolateClient, history.PhaseEnd, b)

	require.Eventually(t, func() bool { _, waiting := b.Waiting(); return !waiting }, 30*time.Second, 5*time.Millisecond,
		"B's campaign returns once its watch resumes")
	// B records its campaign's end just after it stops waiting; the read
	// must come after that, within B's 2 s backoff.
	time.Sleep(200 * time.Millisecond)
	a.readCycle(ctx, Intent{Think: []time.Duration{0}})
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("B's campaign never ended")
	}
	h := s.finish(ctx)
	for _, op := range h.Operations() {
		if op.F == history.FCampaign && op.Client == b.ID() {
			return h, op
		}
	}
	t.Fatal("B's campaign is not in the history")
	return nil, history.Operation{}
}

// A Campaign whose watch resumes at a compacted revision returns the
// compaction error and leaves its key, which leads while B believes it
// lost: the ghost check finds it and names 21128. With the fix, which
// deletes the key before Campaign returns, the same steps leave no ghost.
func TestCompactedCampaignOnRealEtcd(t *testing.T) {
	t.Run("library", func(t *testing.T) {
		h, campaign := compactedCampaignRun(t, false)
		require.Contains(t, campaign.Error, "required revision has been compacted")
		res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 30 * time.Second})
		require.NoError(t, err)
		require.Len(t, res.KnownIssues, 1, "%+v", res.Checks)
		assert.Equal(t, "21128", res.KnownIssues[0].Issue.ID)
		assert.Equal(t, models.CheckGhost, res.KnownIssues[0].Check)
		assert.Equal(t, models.ExitOk, res.ExitCode)
		require.Len(t, res.Ghosts, 1)
		assert.Equal(t, campaign.ID, res.Ghosts[0].Op)
		assert.True(t, res.Ghosts[0].Compacted)
	})
	t.Run("fixed", func(t *testing.T) {
		h, campaign := compactedCampaignRun(t, true)
		require.Contains(t, campaign.Error, "required revision has been compacted", "the same steps meet the same compaction")
		res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 30 * time.Second, Strict: true})
		require.NoError(t, err)
		assert.Empty(t, res.KnownIssues)
		assert.Empty(t, res.Ghosts, "the key went before the campaign returned")
		assert.Equal(t, models.ExitOk, res.ExitCode, "%+v", res.Checks)
	})
}
