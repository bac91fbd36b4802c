package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

const leaseTTL = 2 // seconds

// keepAlive grants a lease through cl and keeps it alive until the test
// ends, as a well-behaved client would: clientv3 ends a keep-alive stream
// that got no answer for a TTL (during an election, say), so it is opened
// again until the test ends.
func keepAlive(t *testing.T, cl *Client) clientv3.LeaseID {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g, err := cl.Grant(ctx, leaseTTL)
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if ch, err := cl.KeepAlive(ctx, g.ID); err == nil {
				for range ch { //nolint:revive // drain keep-alive responses
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return g.ID
}

// leaseTTLLeft asks cl for the remaining TTL of id (-1 if it is gone).
func leaseTTLLeft(cl *Client, id clientv3.LeaseID) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := cl.TimeToLive(ctx, id)
	if err != nil {
		return 0, err
	}
	return resp.TTL, nil
}

// keepAliveOnce renews id once through cl with a timeout.
func keepAliveOnce(cl *Client, id clientv3.LeaseID, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := cl.KeepAliveOnce(ctx, id)
	return err
}

// TestLeaseKeepAliveDoesNotCrossPartition isolates a follower. The election
// timeout is long, so the isolated follower keeps believing in the leader
// and forwards its client's keep-alives to the leader's peer URL: only the
// lease-aware link layer refuses them.
func TestLeaseKeepAliveDoesNotCrossPartition(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3, TickMs: 100, ElectionMs: 5000})
	leader := c.Leader()
	f := others(c, leader)
	isolated, kept := f[0], f[1]
	cIso, err := c.NewClient(isolated)
	require.NoError(t, err)
	cKept, err := c.NewClient(kept)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lost, err := cIso.Grant(ctx, leaseTTL)
	require.NoError(t, err)
	held, err := cKept.Grant(ctx, leaseTTL)
	require.NoError(t, err)
	require.Equal(t, isolated, c.LeaseMember(lost.ID))
	require.Equal(t, kept, c.LeaseMember(held.ID))
	require.NoError(t, keepAliveOnce(cIso, lost.ID, 2*time.Second), "forwarded keep-alive before the partition")

	require.NoError(t, c.Partition([]int{isolated}, []int{leader, kept}))
	require.Error(t, keepAliveOnce(cIso, lost.ID, 2*time.Second), "forwarded keep-alive crossed the partition")
	require.NoError(t, keepAliveOnce(cKept, held.ID, 2*time.Second), "majority follower forwards keep-alives")
	require.Equal(t, leader, c.Leader(), "the test assumes the leader did not change")

	require.NoError(t, c.Heal())
	require.Eventually(t, func() bool { return keepAliveOnce(cIso, lost.ID, time.Second) == nil },
		5*time.Second, 50*time.Millisecond, "keep-alive after heal")
}

// TestLeaseOfIsolatedFollowerExpires isolates a follower whose client keeps a
// lease alive: the lease expires on the majority within the TTL plus a few
// election timeouts, while the lease of a majority-side client stays.
func TestLeaseOfIsolatedFollowerExpires(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	leader := c.Leader()
	f := others(c, leader)
	requireIsolatedLeaseExpires(t, c, f[0], f[1], leader, "the partition", nil)
}

// TestLeaseOfIsolatedLeaderExpires isolates the leader with its client's
// lease: the majority elects a new leader, which expires the lease within the
// TTL plus a few election timeouts of taking over.
func TestLeaseOfIsolatedLeaderExpires(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	old := c.Leader()
	majority := others(c, old)
	requireIsolatedLeaseExpires(t, c, old, majority[0], majority[1], "the new leader was elected", func() {
		waitLeaderIn(t, c, 10*time.Second, majority...)
	})
}

// requireIsolatedLeaseExpires isolates member isolated, whose client keeps a
// lease alive, from kept and observer (the majority), whose clients keep a
// lease alive and watch. Once settle (if any) returns, the isolated lease
// must expire within the TTL plus a few election timeouts, while the
// majority-side lease stays.
func requireIsolatedLeaseExpires(t *testing.T, c *Cluster, isolated, kept, observer int, since string, settle func()) {
	t.Helper()
	cIso, err := c.NewClient(isolated)
	require.NoError(t, err)
	cKept, err := c.NewClient(kept)
	require.NoError(t, err)
	cObs, err := c.NewClient(observer)
	require.NoError(t, err)
	lost := keepAlive(t, cIso)
	held := keepAlive(t, cKept)

	require.NoError(t, c.Partition([]int{isolated}, []int{kept, observer}))
	if settle != nil {
		settle()
	}
	from := time.Now()
	require.Eventually(t, func() bool {
		ttl, err := leaseTTLLeft(cObs, lost)
		return err == nil && ttl == -1
	}, 15*time.Second, 50*time.Millisecond, "lease of the isolated client never expired")
	took := time.Since(from)
	t.Logf("lease expired %v after %s", took, since)
	assert.Less(t, took, leaseTTL*time.Second+4*electionTimeout(c))

	ttl, err := leaseTTLLeft(cObs, held)
	require.NoError(t, err)
	assert.Positive(t, ttl, "lease of the majority-side client must stay alive")
}

// TestSessionLeasesAreAttributed checks that concurrency sessions (used by
// locks and elections) grant their lease through the harness client, so the
// link layer knows the lease's member.
func TestSessionLeasesAreAttributed(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	cl, err := c.NewClient(2)
	require.NoError(t, err)
	s, err := concurrency.NewSession(cl.Client, concurrency.WithTTL(leaseTTL))
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, 2, c.LeaseMember(s.Lease()))
	assert.Zero(t, c.LeaseMember(12345))
}
