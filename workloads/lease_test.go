package workloads

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// TestAbandonedLeaseLossIsRecorded: a client whose link is paused abandons
// its lease (the revoke times out, outcome unknown); the lease expires during
// the pause; once the link is back the client learns the lease is gone and
// records lease-lost, as it would have had it kept the lease.
func TestAbandonedLeaseLossIsRecorded(t *testing.T) {
	c := cluster(t)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), Workload: string(KindLock)})
	require.NoError(t, err)
	w, err := New(c, rec, Config{Kind: KindLock, Clients: 1, Unfenced: halfUnfenced, Prefix: "/" + t.Name(), OpTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer w.Close()
	cl := w.Clients()[0]
	ctx := context.Background()
	require.True(t, cl.ensureLease(ctx))
	lease := cl.Lease()

	require.NoError(t, c.PauseClient(cl.Conn()))
	abandoned := make(chan struct{})
	go func() {
		defer close(abandoned)
		cl.abandonLease(ctx, "l0", 300*time.Millisecond)
	}()
	admin, err := c.NewClient(2)
	require.NoError(t, err)
	defer admin.Close()
	require.Eventually(t, func() bool {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := admin.TimeToLive(tctx, clientv3.LeaseID(lease))
		return err == nil && resp.TTL == -1
	}, 15*time.Second, 50*time.Millisecond, "the lease of the paused client never expired")
	require.NoError(t, c.ResumeClient(cl.Conn()))
	<-abandoned
	cl.bg.Wait()
	require.NoError(t, rec.Close())

	h, err := history.ReadFile(path)
	require.NoError(t, err)
	var fs []string
	var asked []int64 // the TimeToLive answers the client was given
	for _, op := range h.Operations() {
		require.Equal(t, lease, op.Input.Lease)
		switch {
		case op.F == history.FKeepAlive:
			require.Equal(t, history.LeaseKeeper(cl.ID()), op.Client, "keep-alives are the lease keeper's")
		case op.F == history.FLeaseTTL:
			if op.Outcome == history.Ok {
				asked = append(asked, *op.Output.TTL)
			}
		default:
			fs = append(fs, op.F+"/"+string(op.Outcome))
		}
	}
	require.Equal(t, []string{"revoke/info", "lease-lost/ok"}, fs)
	require.NotEmpty(t, asked)
	require.Equal(t, int64(-1), asked[len(asked)-1], "the loss was learned from a TimeToLive answer: not found")
}
