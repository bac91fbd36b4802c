package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// startCluster starts a cluster that logs errors through t and closes it at
// the end of the test.
func startCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// clientsPerMember returns one harness client per member (index 0 = member 1).
func clientsPerMember(t testing.TB, c *Cluster) []*Client {
	t.Helper()
	out := make([]*Client, c.Size())
	for i := range out {
		cl, err := c.NewClient(i + 1)
		require.NoError(t, err)
		out[i] = cl
	}
	return out
}

// electionTimeout is the configured election timeout of c.
func electionTimeout(c *Cluster) time.Duration {
	return time.Duration(c.cfg.ElectionMs) * time.Millisecond
}

// waitFollows waits until member w knows leader as its leader: a member that
// voted learns who won only from the leader's first message, and drops
// proposals (a write through it fails at once) until then.
func waitFollows(t testing.TB, c *Cluster, w, leader int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		m := c.running(w)
		return m != nil && m.Lead() == c.MemberID(leader)
	}, within, 10*time.Millisecond, "member %d does not follow leader %d", w, leader)
}

// put writes key=val through cl with a timeout.
func put(cl *Client, key, val string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := cl.Put(ctx, key, val)
	return err
}

// get reads key through cl with a timeout.
func get(cl *Client, key string, timeout time.Duration, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return cl.Get(ctx, key, opts...)
}

// waitLeaderIn waits until the cluster's leader is one of members and returns it.
func waitLeaderIn(t testing.TB, c *Cluster, within time.Duration, members ...int) int {
	t.Helper()
	var leader int
	require.Eventually(t, func() bool {
		l := c.Leader()
		for _, m := range members {
			if l == m {
				leader = l
				return true
			}
		}
		return false
	}, within, 10*time.Millisecond, "no leader among %v", members)
	return leader
}

// others lists the members of c other than the given ones.
func others(c *Cluster, not ...int) []int {
	var out []int
	for i := 1; i <= c.Size(); i++ {
		skip := false
		for _, n := range not {
			skip = skip || n == i
		}
		if !skip {
			out = append(out, i)
		}
	}
	return out
}

// memberOf maps an etcd member ID to its member number (0 if unknown).
func (c *Cluster) memberOf(id uint64) int {
	for i, s := range c.slots {
		if s.id == id {
			return i + 1
		}
	}
	return 0
}
