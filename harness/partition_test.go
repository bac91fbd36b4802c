package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestLeaderIsolation(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	cls := clientsPerMember(t, c)
	require.NoError(t, put(cls[0], "before", "1", 5*time.Second))

	old := c.Leader()
	require.NotZero(t, old)
	majority := others(c, old)
	require.NoError(t, c.Partition([]int{old}, majority))
	isolatedAt := time.Now()

	err := put(cls[old-1], "lost", "x", time.Second)
	require.Error(t, err, "a write to the isolated old leader must not commit")

	leader := waitLeaderIn(t, c, 10*time.Second, majority...)
	t.Logf("new leader %d after %v", leader, time.Since(isolatedAt))
	waitFollows(t, c, majority[0], leader, 10*time.Second)
	require.NoError(t, put(cls[majority[0]-1], "after", "2", 5*time.Second))

	require.NoError(t, c.Heal())
	rev := waitConverged(t, c, cls)
	resp, err := get(cls[old-1], "lost", 5*time.Second)
	require.NoError(t, err)
	assert.Zero(t, resp.Count, "the uncommitted write was discarded")
	resp, err = get(cls[old-1], "after", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, int64(1), resp.Count)
	t.Logf("converged at revision %d", rev)
}

// waitConverged waits until every member has applied the same revision and
// checks that they agree on HashKV at it. It returns that revision.
func waitConverged(t *testing.T, c *Cluster, cls []*Client) int64 {
	t.Helper()
	// A write through member 1 fixes a target revision. Right after a heal
	// member 1 may not know the leader yet and drop the proposal: retry.
	var rev int64
	start := time.Now()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		presp, err := cls[0].Put(ctx, "converge", "x")
		if err != nil {
			return false
		}
		rev = presp.Header.Revision
		return true
	}, 15*time.Second, 10*time.Millisecond, "no write through member 1")
	t.Logf("write through member 1 after %v", time.Since(start))
	require.Eventually(t, func() bool {
		for _, cl := range cls {
			resp, err := get(cl, "converge", time.Second, clientv3.WithSerializable())
			if err != nil || resp.Header.Revision < rev {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "members did not reach revision %d", rev)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hashes []uint32
	for i, cl := range cls {
		resp, err := cl.HashKV(ctx, cl.Endpoints()[0], rev)
		require.NoError(t, err, "HashKV member %d", i+1)
		hashes = append(hashes, resp.Hash)
	}
	for i := range hashes {
		assert.Equal(t, hashes[0], hashes[i], "HashKV of member %d at rev %d", i+1, rev)
	}
	return rev
}

func TestSplitFiveMembers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 5})
	cls := clientsPerMember(t, c)
	et := electionTimeout(c)
	require.NoError(t, put(cls[0], "k", "v0", 5*time.Second))
	// A quorum acknowledged v0; wait until member 2 has applied it too, so
	// that its local read below can only miss what the partition hides.
	waitConverged(t, c, cls)

	minority, majority := []int{1, 2}, []int{3, 4, 5}
	require.NoError(t, c.Partition(minority, majority))
	leader := waitLeaderIn(t, c, 10*time.Second, majority...)
	waitFollows(t, c, 4, leader, 10*time.Second)

	require.NoError(t, put(cls[3], "k", "v1", 5*time.Second), "majority commits")
	require.Error(t, put(cls[1], "k", "minority", time.Second), "minority does not commit")

	_, err := get(cls[1], "k", time.Second)
	require.Error(t, err, "linearizable read through member 2 needs a quorum")
	resp, err := get(cls[1], "k", time.Second, clientv3.WithSerializable())
	require.NoError(t, err, "serializable read through member 2 is served locally")
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "v0", string(resp.Kvs[0].Value), "member 2 did not see the majority's write")

	// Links inside each side carry traffic; links across carry none.
	before := linkSnapshot(c)
	require.Eventually(t, func() bool {
		now := linkSnapshot(c)
		return now[1][2] > before[1][2] && now[2][1] > before[2][1] &&
			now[3][4] > before[3][4] && now[4][3] > before[4][3]
	}, 4*et+time.Second, 20*time.Millisecond, "traffic inside the sides")
	after := linkSnapshot(c)
	for _, a := range minority {
		for _, b := range majority {
			assert.Equal(t, before[a][b], after[a][b], "bytes %d->%d across the partition", a, b)
			assert.Equal(t, before[b][a], after[b][a], "bytes %d->%d across the partition", b, a)
		}
	}

	require.NoError(t, c.Heal())
	waitConverged(t, c, cls)
	resp, err = get(cls[1], "k", 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "v1", string(resp.Kvs[0].Value))
}

// linkSnapshot returns LinkBytes for every pair, indexed [from][to].
func linkSnapshot(c *Cluster) [][]uint64 {
	out := make([][]uint64, c.Size()+1)
	for a := range out {
		out[a] = make([]uint64, c.Size()+1)
		for b := range out[a] {
			out[a][b] = c.LinkBytes(a, b)
		}
	}
	return out
}

func TestLinkLatency(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	cls := clientsPerMember(t, c)
	leader := c.Leader()
	follower := others(c, leader)[0]
	require.NoError(t, put(cls[follower-1], "warm", "x", 5*time.Second))

	const d = 300 * time.Millisecond
	require.NoError(t, c.SetLinkLatency(leader, follower, d))
	require.NoError(t, c.SetLinkLatency(follower, leader, d))
	start := time.Now()
	require.NoError(t, put(cls[follower-1], "slow", "x", 10*time.Second))
	took := time.Since(start)
	// The proposal travels follower->leader and the commit leader->follower.
	assert.GreaterOrEqual(t, took, 2*d-50*time.Millisecond, "write through a delayed follower")

	require.NoError(t, c.Heal())
	require.Eventually(t, func() bool {
		start := time.Now()
		return put(cls[follower-1], "fast", "x", 5*time.Second) == nil && time.Since(start) < d
	}, 5*time.Second, 10*time.Millisecond, "latency removed by Heal")
}

func TestCutLinkKeepsOthers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	leader := c.Leader()
	f := others(c, leader)
	require.NoError(t, c.CutLink(leader, f[0]))
	require.Equal(t, [][2]int{{min(leader, f[0]), max(leader, f[0])}}, c.CutLinks())
	before := linkSnapshot(c)
	require.Eventually(t, func() bool {
		now := linkSnapshot(c)
		return now[leader][f[1]] > before[leader][f[1]] && now[f[1]][f[0]] > before[f[1]][f[0]]
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, before[leader][f[0]], c.LinkBytes(leader, f[0]))
	assert.Equal(t, before[f[0]][leader], c.LinkBytes(f[0], leader))
}

func TestMoveLeader(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	to := others(c, c.Leader())[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.MoveLeader(ctx, to))
	l, err := c.WaitLeader(ctx)
	require.NoError(t, err)
	assert.Equal(t, to, l)
	require.NoError(t, c.MoveLeader(ctx, to), "moving to the leader is a no-op")
	require.Error(t, c.MoveLeader(ctx, 7))
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 2, 4, 6} {
		_, err := Start(context.Background(), Config{Members: n})
		assert.Error(t, err, fmt.Sprintf("members=%d", n))
	}
	_, err := Start(context.Background(), Config{TickMs: 100, ElectionMs: 200})
	assert.Error(t, err)

	c := startCluster(t, Config{Members: 1})
	assert.Error(t, c.Partition([]int{2}))
	assert.Error(t, c.SetLinkLatency(1, 1, time.Second))
	assert.Error(t, c.Kill(0))
	assert.Error(t, c.Kill(2))
	assert.Error(t, c.Restart(1), "member 1 is running")
	_, err = c.NewClient(3)
	assert.Error(t, err)
	assert.Error(t, c.IsolateClient(nil))
	assert.Equal(t, 1, c.Leader())
}
