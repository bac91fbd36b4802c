package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// RevokeBehind on a real cluster: the holder's lease, with its thousand
// keys, is revoked right behind the nemesis's own lease of ballastKeys
// keys: etcd deletes the ballast at one revision and the holder's keys at
// the next, nothing in between; the fault is recorded as a revoke of the
// holder's lease, and no ballast key is left.
func TestRevokeBehindOnRealEtcd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := harness.Start(ctx, harness.Config{Members: 3})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	admin, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer admin.Close()

	g, err := admin.Grant(ctx, 60)
	require.NoError(t, err)
	const holderKeys = 1000
	for from := 0; from < holderKeys; from += 100 {
		var puts []clientv3.Op
		for i := from; i < from+100; i++ {
			puts = append(puts, clientv3.OpPut(fmt.Sprintf("/holder/k%05d", i), "", clientv3.WithLease(g.ID)))
		}
		_, err := admin.Txn(ctx).Then(puts...).Commit()
		require.NoError(t, err)
	}
	start, err := admin.Get(ctx, "/holder/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.Equal(t, int64(holderKeys), start.Count)

	holder := &fakeClient{conn: &harness.Client{ID: 1, Member: 1}, lease: int64(g.ID), holding: "l0"}
	env := &Env{Cluster: c, Admin: admin, Clients: []Client{holder}, LeaseTTL: time.Second}
	events := runOne(t, env, RevokeBehind, 0)
	require.Len(t, events, 2, "a start and an end: the revoke took effect")
	for _, e := range events {
		assert.Equal(t, history.KindRevokeLease, e.Fault)
		assert.Equal(t, int64(g.ID), e.Lease)
		assert.Equal(t, 1, e.Target)
	}

	deleted := map[string]int64{} // key prefix -> revision of its deletions
	count := 0
	watch := admin.Watch(ctx, "/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1))
	for count < ballastKeys+holderKeys {
		select {
		case wr := <-watch:
			require.NoError(t, wr.Err())
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypeDelete {
					continue
				}
				count++
				root := "/holder/"
				if strings.HasPrefix(string(ev.Kv.Key), BallastRoot) {
					root = BallastRoot
				}
				if rev, ok := deleted[root]; ok {
					require.Equal(t, rev, ev.Kv.ModRevision, "%s: one revision per revoke", ev.Kv.Key)
				}
				deleted[root] = ev.Kv.ModRevision
			}
		case <-ctx.Done():
			t.Fatalf("%d deletions seen", count)
		}
	}
	assert.Equal(t, deleted[BallastRoot]+1, deleted["/holder/"], "the holder's revoke is applied right behind the ballast's")
	left, err := admin.Get(ctx, BallastRoot, clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	assert.Zero(t, left.Count, "no ballast key is left")
}

// Without an admin that can grant leases and put keys there is no ballast:
// the step is skipped, nothing recorded.
func TestRevokeBehindNeedsAWriter(t *testing.T) {
	e := newFakeEnv()
	assert.Empty(t, runOne(t, e.Env, RevokeBehind, 0))
	assert.Empty(t, e.cluster.Calls())
}
