package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestKillFollowerThenLeaderAndRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	cls := clientsPerMember(t, c)
	leader := c.Leader()
	follower := others(c, leader)[0]
	third := others(c, leader, follower)[0]
	require.NoError(t, put(cls[leader-1], "k1", "v1", 5*time.Second))

	require.NoError(t, c.Kill(follower))
	assert.False(t, c.IsRunning(follower))
	require.Error(t, c.Kill(follower), "already killed")
	require.NoError(t, put(cls[leader-1], "k2", "v2", 5*time.Second), "two of three still commit")

	require.NoError(t, c.Kill(leader))
	assert.Zero(t, c.Leader(), "a hard kill hands leadership to nobody")
	require.Error(t, put(cls[third-1], "k3", "lost", time.Second), "one of three cannot commit")

	require.NoError(t, c.Restart(follower))
	require.NoError(t, c.Restart(leader))
	require.Error(t, c.Restart(leader), "already running")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.WaitLeader(ctx)
	require.NoError(t, err)

	for i, cl := range cls {
		for _, kv := range [][2]string{{"k1", "v1"}, {"k2", "v2"}} {
			var resp []byte
			require.Eventually(t, func() bool {
				r, err := get(cl, kv[0], time.Second)
				if err != nil || len(r.Kvs) != 1 {
					return false
				}
				resp = r.Kvs[0].Value
				return true
			}, 10*time.Second, 20*time.Millisecond, "read %s through member %d", kv[0], i+1)
			assert.Equal(t, kv[1], string(resp))
		}
	}
	require.NoError(t, put(cls[follower-1], "k4", "v4", 5*time.Second), "cluster serves writes")
	waitConverged(t, c, cls)
}

func TestClientPauseAndIsolate(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	a, err := c.NewClient(1)
	require.NoError(t, err)
	b, err := c.NewClient(1)
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID)
	require.NoError(t, put(a, "warm", "x", 5*time.Second))

	// Pause: the request hangs, then completes after resume.
	require.NoError(t, c.PauseClient(a))
	done := make(chan error, 1)
	go func() { done <- put(a, "paused", "x", 10*time.Second) }()
	require.Never(t, func() bool { return len(done) > 0 }, 500*time.Millisecond, 20*time.Millisecond,
		"a paused client's request must hang")
	require.NoError(t, put(b, "other", "x", 5*time.Second), "another client of the member works")
	require.NoError(t, c.ResumeClient(a))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("request did not complete after resume")
	}

	// Isolate: the request fails; another client of the same member works.
	require.NoError(t, c.IsolateClient(a))
	require.Error(t, put(a, "isolated", "x", time.Second))
	require.NoError(t, put(b, "other", "y", 5*time.Second))
	require.NoError(t, c.ReconnectClient(a))
	require.Eventually(t, func() bool { return put(a, "back", "x", time.Second) == nil },
		10*time.Second, 20*time.Millisecond, "client works after reconnect")

	// Held answers: the put takes effect but its answer never comes, so the
	// client gives up; another client sees the write. Released, the link
	// works again.
	require.NoError(t, c.HoldClientAnswers(a))
	err = put(a, "unanswered", "x", 500*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a put whose answer is held must time out")
	require.Eventually(t, func() bool {
		resp, err := get(b, "unanswered", time.Second)
		return err == nil && len(resp.Kvs) == 1
	}, 5*time.Second, 20*time.Millisecond, "the unanswered put took effect")
	require.NoError(t, c.ReleaseClientAnswers(a))
	require.Eventually(t, func() bool { return put(a, "answered", "x", time.Second) == nil },
		10*time.Second, 20*time.Millisecond, "client works after its answers are released")

	// Latency on one client only.
	require.NoError(t, c.SetClientLatency(a, 200*time.Millisecond))
	start := time.Now()
	require.NoError(t, put(a, "slow", "x", 5*time.Second))
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "200ms each way")
	// Latency would hold back every put through b; one fast put shows b has
	// none (a single put may be slow on a loaded machine).
	require.Eventually(t, func() bool {
		start := time.Now()
		return put(b, "fast", "x", 5*time.Second) == nil && time.Since(start) < 400*time.Millisecond
	}, 10*time.Second, 10*time.Millisecond, "other client unaffected")

	// Heal clears client faults too.
	require.NoError(t, c.IsolateClient(a))
	require.NoError(t, c.Heal())
	require.Eventually(t, func() bool { return put(a, "healed", "x", time.Second) == nil },
		10*time.Second, 20*time.Millisecond)
	require.NoError(t, c.HoldClientAnswers(a))
	require.NoError(t, c.Heal())
	require.NoError(t, put(a, "released", "x", 5*time.Second), "Heal releases held answers")

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	require.Error(t, c.PauseClient(a), "closed client")
}

func TestEndpointsAndDial(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 3})
	eps := c.Endpoints()
	require.Len(t, eps, 3)
	cli, err := c.Dial(2)
	require.NoError(t, err)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, eps[1])
	require.NoError(t, err)
	assert.Equal(t, c.MemberID(2), st.Header.MemberId)
	ml, err := cli.MemberList(ctx)
	require.NoError(t, err)
	require.Len(t, ml.Members, 3)
	for _, m := range ml.Members {
		i := c.memberOf(m.ID)
		require.NotZero(t, i)
		assert.Equal(t, []string{c.PeerURL(i)}, m.PeerURLs)
		assert.Equal(t, []string{eps[i-1]}, m.ClientURLs)
		assert.Equal(t, fmt.Sprintf("m%d", i), m.Name)
	}
}

// TestCleanStartStopLogsNoErrors starts and stops clusters with a normal
// workload and asserts etcd logged nothing at error level or above.
func TestCleanStartStopLogsNoErrors(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3} {
		core, logs := observer.New(zapcore.ErrorLevel)
		c, err := Start(context.Background(), Config{Members: n, Logger: zap.New(core)})
		require.NoError(t, err)
		cl, err := c.NewClient(1)
		require.NoError(t, err)
		require.NoError(t, put(cl, "k", "v", 5*time.Second))
		keepAliveFor(t, cl)
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
		for _, e := range logs.All() {
			t.Errorf("members=%d: error log: %s %v", n, e.Message, e.ContextMap())
		}
	}
}

// keepAliveFor opens a lease keep-alive stream that stays open until Close.
func keepAliveFor(t *testing.T, cl *Client) {
	t.Helper()
	ctx := context.Background()
	g, err := cl.Grant(ctx, leaseTTL)
	require.NoError(t, err)
	_, err = cl.KeepAlive(ctx, g.ID)
	require.NoError(t, err)
}

// clusterAddrs lists every address the cluster listens on: proxies, client
// links and the members' private listeners.
func clusterAddrs(t *testing.T, c *Cluster) []string {
	t.Helper()
	host := func(rawURL string) string {
		u, err := url.Parse(rawURL)
		require.NoError(t, err)
		return u.Host
	}
	var out []string
	for i, s := range c.slots {
		out = append(out, host(c.PeerURL(i+1)), host(s.front.URL()))
		m := c.running(i + 1)
		require.NotNil(t, m)
		out = append(out, m.PeerAddr(), m.ClientAddr())
	}
	for _, cl := range c.clientsOf(0) {
		for _, link := range cl.links {
			out = append(out, link.Addr())
		}
	}
	return out
}

func requireBindable(t *testing.T, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if assert.NoError(t, err, "address %s still in use", a) {
			require.NoError(t, ln.Close())
		}
	}
}

// TestCloseReleasesEverything runs alone (not parallel) so that goleak sees
// only this cluster.
func TestCloseReleasesEverything(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	c, err := Start(context.Background(), Config{Members: 3})
	require.NoError(t, err)
	cls := clientsPerMember(t, c)
	keepAliveFor(t, cls[0])
	w := cls[1].Watch(context.Background(), "k")
	require.NoError(t, put(cls[2], "k", "v", 5*time.Second))
	<-w
	require.NoError(t, c.Partition([]int{1}, []int{2, 3}))
	require.NoError(t, c.SetLinkLatency(2, 3, 10*time.Millisecond))
	require.NoError(t, c.PauseClient(cls[2]))
	all, err := c.NewClientAll()
	require.NoError(t, err)
	keepAliveFor(t, all)
	require.NoError(t, c.HangClientPort(2))
	require.NoError(t, c.Kill(3))
	require.NoError(t, c.Restart(3))
	addrs := clusterAddrs(t, c)
	dirs, err := filepath.Glob(filepath.Join(tmp, "etcdchaos-*"))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "data dir under TMPDIR")

	start := time.Now()
	require.NoError(t, c.Close())
	t.Logf("close took %v", time.Since(start))
	requireBindable(t, addrs)
	_, err = os.Stat(dirs[0])
	assert.True(t, errors.Is(err, os.ErrNotExist), "data dir removed: %v", err)
}

// failingRuntime starts members with the embedded runtime but fails member
// fail once the others have started.
type failingRuntime struct {
	embeddedRuntime
	fail    int
	others  chan struct{} // one value per other member started
	mu      sync.Mutex
	started []member.Member
}

func (r *failingRuntime) start(ctx context.Context, spec *member.Spec) (member.Member, error) {
	if spec.Index == r.fail {
		for i := 0; i < cap(r.others); i++ {
			select {
			case <-r.others:
			case <-time.After(10 * time.Second):
				return nil, errors.New("other members did not start")
			}
		}
		return nil, errors.New("injected start failure")
	}
	m, err := r.embeddedRuntime.start(ctx, spec)
	if err == nil {
		r.mu.Lock()
		r.started = append(r.started, m)
		r.mu.Unlock()
	}
	r.others <- struct{}{}
	return m, err
}

func TestCloseAfterFailedStart(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	r := &failingRuntime{fail: 3, others: make(chan struct{}, 2)}
	c, err := startWith(context.Background(), Config{Members: 3, Logger: zap.NewNop()}, r)
	require.ErrorContains(t, err, "injected start failure")
	require.Nil(t, c)
	require.Len(t, r.started, 2, "members 1 and 2 were running when 3 failed")
	var addrs []string
	for _, m := range r.started {
		addrs = append(addrs, m.PeerAddr(), m.ClientAddr())
	}
	requireBindable(t, addrs)
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temp dirs removed")
}

func TestCancelDuringStart(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// Cancel as soon as the first member is running.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started atomic.Int32
	r := startFunc(func(rctx context.Context, spec *member.Spec) (member.Member, error) {
		m, err := embeddedRuntime{}.start(rctx, spec)
		if started.Add(1) == 1 {
			cancel()
		}
		return m, err
	})
	c, err := startWith(ctx, Config{Members: 3, Logger: zap.NewNop()}, r)
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, c)
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temp dirs removed")
}

// startFunc is a runtime of members the harness owns, started by calling it.
type startFunc func(ctx context.Context, spec *member.Spec) (member.Member, error)

func (f startFunc) start(ctx context.Context, spec *member.Spec) (member.Member, error) {
	return f(ctx, spec)
}

func (startFunc) control() error { return ownedMembers{}.control() }

func (startFunc) leader(running []member.Member, ids []uint64) (int, bool) {
	return ownedMembers{}.leader(running, ids)
}

func TestStartStopCycles(t *testing.T) {
	t.Parallel()
	const cycles = 20
	start := time.Now()
	for i := 0; i < cycles; i++ {
		core, logs := observer.New(zapcore.ErrorLevel)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := Start(ctx, Config{Members: 3, Logger: zap.New(core)})
		cancel()
		require.NoError(t, err, "cycle %d", i)
		require.NotZero(t, c.Leader(), "cycle %d", i)
		require.NoError(t, c.Close(), "cycle %d", i)
		require.Zero(t, logs.Len(), "cycle %d: error logs: %v", i, logs.All())
	}
	t.Logf("%d cycles in %v", cycles, time.Since(start))
}

func TestDataDirIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := startCluster(t, Config{Members: 1, DataDir: dir})
	assert.Equal(t, filepath.Join(dir, "m1"), c.DataDir(1))
	require.NoError(t, c.Close())
	_, err := os.Stat(filepath.Join(dir, "m1", "member"))
	require.NoError(t, err, "a caller's data dir is kept")
	_, err = Start(context.Background(), Config{Members: 1, DataDir: dir, Logger: zap.NewNop()})
	require.Error(t, err, "member dirs must not exist yet")
}
