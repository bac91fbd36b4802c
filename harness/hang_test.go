package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestHangClientPort hangs one member's client port on a real cluster: a
// client of that member alone is stuck; a client of every member meets the
// hang on the requests its balancer sends there, then goes on through the
// others; the hung member keeps applying through its peer links; a client
// made during the hang is stuck too; and ending the hang, or Heal, lets
// everyone through again.
func TestHangClientPort(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	const hung = 2
	all, err := c.NewClientAll()
	require.NoError(t, err)
	assert.Zero(t, all.Member, "a client of every member has no member of its own")
	only, err := c.NewClient(hung)
	require.NoError(t, err)
	for i := range 6 { // every member's connection ready
		require.NoError(t, put(all, "warm", string(rune('a'+i)), 5*time.Second))
	}
	require.NoError(t, put(only, "warm", "x", 5*time.Second))
	direct, err := c.Dial(hung) // the member's front door: no fault touches it
	require.NoError(t, err)
	defer direct.Close()

	require.NoError(t, c.HangClientPort(hung))
	err = put(only, "stuck", "x", time.Second)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a client of the hung member alone must be stuck, not refused")

	// The balancer sends one request in three to the hung member while its
	// connection looks alive: that one is stuck, the others go through.
	stuck, through := 0, 0
	for i := 0; i < 6 && (stuck == 0 || through == 0); i++ {
		switch err := put(all, "spread", "x", 500*time.Millisecond); {
		case err == nil:
			through++
		case errors.Is(err, context.DeadlineExceeded):
			stuck++
		default:
			t.Fatalf("a request of a client of every member failed, not stuck: %v", err)
		}
	}
	assert.Positive(t, stuck, "a request that went to the hung member must be stuck")
	assert.Positive(t, through, "requests that went to the others must succeed")

	// Once gRPC's keepalive gives up on the hung connection (its pings are
	// at least 10 s apart), the balancer leaves the member out: every
	// request succeeds.
	hungAt := time.Now()
	require.Eventually(t, func() bool {
		for i := range 6 {
			if put(all, "failover", string(rune('a'+i)), time.Second) != nil {
				return false
			}
			if _, err := get(all, "failover", time.Second); err != nil {
				return false
			}
		}
		return true
	}, 40*time.Second, 100*time.Millisecond, "a client of every member must fail over to the others")
	t.Logf("failed over %v after the hang", time.Since(hungAt).Round(100*time.Millisecond))

	// The hung member still applies what the others commit, through its
	// peer links: its own store has the write, and it serves linearizable
	// reads to a connection its port's hang does not touch.
	require.NoError(t, put(all, "applied", "while-hung", 5*time.Second))
	require.Eventually(t, func() bool {
		resp, err := directGet(direct, "applied", clientv3.WithSerializable())
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "while-hung"
	}, 10*time.Second, 20*time.Millisecond, "the hung member must apply writes committed through the others")
	_, err = directGet(direct, "applied")
	require.NoError(t, err, "the hung member's peer links must work: a linearizable read through it")
	require.Error(t, put(only, "still-stuck", "x", 500*time.Millisecond), "the client of the hung member alone is still stuck")

	// A client made during the hang meets it too.
	late, err := c.NewClient(hung)
	require.NoError(t, err)
	require.Error(t, put(late, "late", "x", time.Second), "a client made during the hang is stuck")

	require.NoError(t, c.UnhangClientPort(hung))
	for _, cl := range []*Client{only, late} {
		require.Eventually(t, func() bool { return put(cl, "unhung", "x", time.Second) == nil },
			15*time.Second, 20*time.Millisecond, "client %d works once the hang ends", cl.ID)
	}
	resp, err := directGet(direct, "stuck", clientv3.WithSerializable())
	require.NoError(t, err)
	assert.Empty(t, resp.Kvs, "a request caught in the hang never reaches the member")

	// Heal ends a hang as well.
	require.NoError(t, c.HangClientPort(hung))
	require.Error(t, put(only, "hung-again", "x", 500*time.Millisecond))
	require.NoError(t, c.Heal())
	require.Eventually(t, func() bool { return put(only, "healed", "x", time.Second) == nil },
		15*time.Second, 20*time.Millisecond, "Heal ends the hang")
	require.Error(t, c.HangClientPort(4), "out of range")
}

// TestClientAllLeasesAreAttributedToTheMemberTheyWentTo: with the ports
// of two members hung, a client of every member grants its lease through
// the third, and the lease is attributed to that member.
func TestClientAllLeasesAreAttributedToTheMemberTheyWentTo(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	all, err := c.NewClientAll()
	require.NoError(t, err)
	require.NoError(t, c.HangClientPort(1))
	require.NoError(t, c.HangClientPort(3))
	var id clientv3.LeaseID
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		g, err := all.Grant(ctx, leaseTTL)
		if err != nil {
			return false
		}
		id = g.ID
		return true
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 2, c.LeaseMember(id), "the grant could only go through member 2")
}

// directGet reads key through an un-proxied client, bounded.
func directGet(cli *clientv3.Client, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cli.Get(ctx, key, opts...)
}
