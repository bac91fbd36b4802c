package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExternalCluster(t *testing.T) {
	t.Parallel()
	real := startCluster(t, Config{Members: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps := real.Endpoints()
	ext, err := Start(ctx, Config{Mode: ModeExternal, Endpoints: []string{eps[0], eps[1], eps[2][len("http://"):]}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ext.Close()) })
	require.Equal(t, 3, ext.Size())
	require.Equal(t, ModeExternal, ext.Mode())
	l, err := ext.WaitLeader(ctx)
	require.NoError(t, err)
	require.Equal(t, real.Leader(), l, "the leader by Status is the real one")

	cl, err := ext.NewClient(2)
	require.NoError(t, err)
	require.NoError(t, put(cl, "ext", "1", 5*time.Second))
	require.NoError(t, ext.IsolateClient(cl))
	require.Error(t, put(cl, "ext", "2", 500*time.Millisecond), "client-side faults still work")
	require.NoError(t, ext.Heal())
	require.Eventually(t, func() bool { return put(cl, "ext", "3", time.Second) == nil }, 10*time.Second, 50*time.Millisecond)

	for name, err := range map[string]error{
		"partition": ext.Partition([]int{1}, []int{2, 3}), "cut": ext.CutLink(1, 2),
		"latency": ext.SetLinkLatency(1, 2, time.Millisecond), "kill": ext.Kill(1), "restart": ext.Restart(1),
		"move": ext.MoveLeader(ctx, 2), "pause": ext.PauseMember(1),
	} {
		require.ErrorIs(t, err, ErrNotSupported, name)
	}

	// Closing the external view leaves the real cluster alone.
	require.NoError(t, ext.Close())
	own, err := real.NewClient(1)
	require.NoError(t, err)
	r, err := get(own, "ext", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "3", string(r.Kvs[0].Value))
}

func TestExternalBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Mode: ModeExternal},
		{Mode: ModeExternal, Endpoints: []string{"https://127.0.0.1:1"}},
		{Mode: ModeExternal, Endpoints: []string{"nohost"}},
		{Endpoints: []string{"127.0.0.1:1"}},
		{Mode: "vm"},
	} {
		_, err := Start(context.Background(), cfg)
		require.Error(t, err, "%+v", cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, Config{Mode: ModeExternal, Endpoints: []string{"127.0.0.1:1"}})
	require.ErrorContains(t, err, "did not answer")
}
