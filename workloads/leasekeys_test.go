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

// TestLeaseCarriesItsKeys: on the real cluster, a client with LeaseKeys
// puts that many keys with the lease it grants (recorded as one attach
// operation), its keeper's TimeToLive questions between the attach and the
// revoke list all of them from index 0, and a revoke of the lease deletes
// every one at one revision, the revoke's own.
func TestLeaseCarriesItsKeys(t *testing.T) {
	const n = 1000
	c := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), Workload: string(KindLock)})
	require.NoError(t, err)
	w, err := New(c, rec, Config{Kind: KindLock, Clients: 1, Prefix: "/" + t.Name(), LeaseKeys: n, TTLProbe: 50 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	cl := w.Clients()[0]
	require.True(t, cl.ensureLease(ctx))
	lease := clientv3.LeaseID(cl.Lease())

	admin, err := c.Dial(1)
	require.NoError(t, err)
	defer admin.Close()
	root := w.cfg.LeaseKeysRoot()
	got, err := admin.Get(ctx, root, clientv3.WithPrefix())
	require.NoError(t, err)
	require.Len(t, got.Kvs, n)
	for _, kv := range got.Kvs {
		require.Equal(t, int64(lease), kv.Lease, "%s", kv.Key)
	}
	gone, err := cl.timeToLive(ctx, cl.lease)
	require.NoError(t, err)
	require.False(t, gone)

	events := admin.Watch(ctx, root, clientv3.WithPrefix(), clientv3.WithRev(got.Header.Revision+1))
	revokeAt := rec.Now()
	revoked, err := admin.Revoke(ctx, lease)
	require.NoError(t, err)
	deleted := map[string]int64{}
	for len(deleted) < n {
		select {
		case wr := <-events:
			require.NoError(t, wr.Err())
			for _, ev := range wr.Events {
				require.Equal(t, clientv3.EventTypeDelete, ev.Type)
				deleted[string(ev.Kv.Key)] = ev.Kv.ModRevision
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d deletions seen", len(deleted), n)
		}
	}
	for key, rev := range deleted {
		require.Equal(t, revoked.Header.Revision, rev, "%s deleted at the revoke's revision", key)
	}

	cl.lease.stop()
	cl.bg.Wait()
	require.NoError(t, rec.Close())
	h, err := history.ReadFile(path)
	require.NoError(t, err)
	var attached *history.Operation
	answers := 0
	for _, op := range h.Operations() {
		switch {
		case op.F == history.FAttach:
			require.Nil(t, attached, "one attach")
			attached = &op
			require.Equal(t, history.Ok, op.Outcome)
			require.Equal(t, int64(n), *op.Input.Keys)
			require.Equal(t, int64(lease), op.Input.Lease)
		case op.F == history.FLeaseTTL && op.Outcome == history.Ok && op.Output.GrantedTTL > 0:
			require.NotNil(t, op.Output.Keys, "an answer that found the lease lists its keys")
			if attached == nil || op.Call < attached.Return || op.Return > revokeAt {
				continue // while the keys were put, or the revoke deleted them
			}
			answers++
			require.Equal(t, int64(n), *op.Output.Keys, "op %d", op.ID)
			require.Zero(t, op.Output.KeysFrom)
		}
	}
	require.NotNil(t, attached)
	require.Positive(t, answers)
}
