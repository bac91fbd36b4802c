package workloads

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// halfUnfenced makes half of the tests' writes plain puts, so that both
// kinds of write show in their histories.
const halfUnfenced = 0.5

// The tests share one 3-member cluster; each uses its own key prefix.
var (
	sharedOnce    sync.Once
	sharedCluster *harness.Cluster
	sharedErr     error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCluster != nil {
		if err := sharedCluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close cluster:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func cluster(t testing.TB) *harness.Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// An election timeout of a second rides out a loaded machine's stalls
		// (a leader change would fail in-flight writes of a "healthy" run)
		// and keeps etcd's minimum lease TTL (1.5 s) below the clients' 2 s.
		sharedCluster, sharedErr = harness.Start(ctx, harness.Config{Members: 3, TickMs: 50, ElectionMs: 1000})
	})
	require.NoError(t, sharedErr)
	return sharedCluster
}

// run runs a workload for d, or, given during, until during returns (at
// most d), and returns the parsed history and the workload.
func run(t *testing.T, cfg Config, d time.Duration, during func(w *Workload, rec *history.Recorder)) (*history.History, *Workload) {
	t.Helper()
	c := cluster(t)
	if cfg.Prefix == "" {
		cfg.Prefix = "/" + t.Name()
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Seed: cfg.Seed, Members: c.Size(),
		Workload: string(cfg.Kind), Backend: string(cfg.Backend)})
	require.NoError(t, err)
	w, err := New(c, rec, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ended := make(chan time.Time, 1)
	context.AfterFunc(ctx, func() { ended <- time.Now() })
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if during != nil {
		during(w, rec)
		cancel()
	}
	require.NoError(t, <-done)
	assert.Less(t, time.Since(<-ended), 5*time.Second, "Run returns soon after its context ends")
	assert.Zero(t, rec.InFlight(), "every invoke has its completion")
	require.NoError(t, rec.Close())
	h, err := history.ReadFile(path) // validates times, ids, one op in flight per client
	require.NoError(t, err)
	require.Empty(t, h.Warnings)
	return h, w
}

func TestWorkloadsOnHealthyCluster(t *testing.T) {
	for _, kind := range []Kind{KindLock, KindElection} {
		for _, backend := range []Backend{BackendGRPC, BackendConcurrency} {
			t.Run(string(kind)+"-"+string(backend), func(t *testing.T) {
				cfg := Config{Kind: kind, Backend: backend, Seed: 7, Unfenced: halfUnfenced}
				h, w := run(t, cfg, 4*time.Second, nil)
				ops := h.Operations()
				assert.Greater(t, len(ops), 200, "hundreds of operations")
				checkCommon(t, h, w)
				if kind == KindLock {
					checkLocks(t, ops, backend)
				} else {
					checkElections(t, ops, w)
				}
			})
		}
	}
}

// checkCommon checks what holds for every workload on a healthy cluster.
func checkCommon(t *testing.T, h *history.History, w *Workload) {
	t.Helper()
	ops := h.Operations()
	last := map[int]history.Operation{}
	info := 0
	for _, op := range ops {
		require.NotEqual(t, history.Pending, op.Outcome, "op %d has a completion", op.ID)
		if prev, ok := last[op.Client]; ok {
			require.Greater(t, op.Call, prev.Completed, "ops of client %d overlap", op.Client)
		}
		last[op.Client] = op
		assert.NotEqual(t, history.FLeaseLost, op.F, "no lease is lost on a healthy cluster")
		if op.Outcome == history.Info {
			info++
		}
		client := op.Client
		if op.F == history.FKeepAlive {
			require.Greater(t, client, history.KeeperBase, "keep-alives are recorded by lease keepers")
			client -= history.KeeperBase // a keeper talks to its client's member
		}
		require.Equal(t, (client-1)%3+1, op.Member, "clients are spread over the members")
	}
	// Only the operations cut by the end of the run are unknown.
	assert.LessOrEqual(t, info, len(w.Clients()))
	for _, c := range w.Clients() {
		in := c.Intents()
		if len(in) == 0 {
			continue // observers draw no intents
		}
		plan, err := Plan(w.Config(), c.ID(), len(in))
		require.NoError(t, err)
		assert.Equal(t, plan, in, "client %d draws its plan", c.ID())
	}
}

type section struct{ start, end int64 }

func checkLocks(t *testing.T, ops []history.Operation, backend Backend) {
	t.Helper()
	count := map[string]int{}
	sections := map[string][]section{}
	open := map[int]history.Operation{}
	lastRev := map[string]int64{}
	for _, op := range ops {
		count[op.F+"/"+string(op.Outcome)]++
		switch op.F {
		case history.FLock:
			if op.Outcome == history.Ok {
				require.NotEmpty(t, op.Output.Key)
				require.Positive(t, op.Output.Rev)
				require.Equal(t, op.Input.Lease, op.Output.Lease)
				open[op.Client] = op
			} else if op.Outcome == history.Fail {
				assert.Contains(t, op.Error, ErrLocked.Error(), "only TryLock fails")
			}
		case history.FWrite:
			lock := open[op.Client]
			require.Equal(t, lock.Output.Key, op.Input.Key, "writes name the held lock")
			require.Equal(t, lock.Output.Rev, op.Input.Rev)
			if op.Outcome == history.Ok {
				assert.Greater(t, op.Output.Rev, lastRev[op.Name], "writes to one resource in revision order")
				lastRev[op.Name] = op.Output.Rev
			}
		case history.FUnlock:
			lock := open[op.Client]
			require.Equal(t, lock.Output.Key, op.Input.Key)
			if op.Outcome == history.Ok {
				sections[op.Name] = append(sections[op.Name], section{lock.Return, op.Call})
			}
			delete(open, op.Client)
		}
	}
	t.Logf("outcomes: %v", count)
	assert.Positive(t, count["lock/ok"])
	assert.Positive(t, count["unlock/ok"])
	assert.Positive(t, count["write/ok"])
	assert.Zero(t, count["write/fail"], "no fenced write fails on a healthy cluster")
	if backend == BackendConcurrency {
		assert.Positive(t, count["lock/fail"], "some TryLocks find the lock held")
	}
	fenced, unfenced := 0, 0
	for _, op := range ops {
		if op.F == history.FWrite && op.Input.IsFenced() {
			fenced++
		} else if op.F == history.FWrite {
			unfenced++
		}
	}
	assert.Positive(t, fenced)
	assert.Positive(t, unfenced)
	for name, ss := range sections {
		sort.Slice(ss, func(i, j int) bool { return ss[i].start < ss[j].start })
		for i := 1; i < len(ss); i++ {
			require.GreaterOrEqual(t, ss[i].start, ss[i-1].end, "critical sections of %s overlap", name)
		}
	}
}

func checkElections(t *testing.T, ops []history.Operation, w *Workload) {
	t.Helper()
	count := map[string]int{}
	values := map[string]bool{}
	observed := map[string]int{}
	for _, op := range ops {
		count[op.F+"/"+string(op.Outcome)]++
		switch op.F {
		case history.FCampaign:
			values[op.Input.Value] = true
			if op.Outcome == history.Ok {
				require.Equal(t, op.Input.Lease, op.Output.Lease)
				require.Positive(t, op.Output.Rev)
			}
		case history.FProclaim:
			require.False(t, values[op.Input.Value], "proclaimed values are unique")
			values[op.Input.Value] = true
		}
	}
	for _, op := range ops {
		if (op.F == history.FObserve || op.F == history.FLeader) && op.Outcome == history.Ok && !op.Output.None {
			assert.True(t, values[op.Output.Value], "%s saw a value that was campaigned or proclaimed: %q", op.F, op.Output.Value)
			assert.Positive(t, op.Output.Lease)
			assert.Positive(t, op.Output.ModRev)
			if op.F == history.FObserve {
				observed[op.Name]++
			}
		}
	}
	t.Logf("outcomes: %v", count)
	for _, k := range []string{"campaign/ok", "proclaim/ok", "resign/ok", "leader/ok"} {
		assert.Positive(t, count[k], k)
	}
	assert.Zero(t, count["proclaim/fail"], "no leader loses its key on a healthy cluster")
	for _, name := range w.Names() {
		assert.Greater(t, observed[name], 10, "the observer of %s records the values it is delivered", name)
	}
}

// TestSeedReproducesChoices runs a workload twice with one seed: each client
// draws the same intents, and its lock operations follow them.
func TestSeedReproducesChoices(t *testing.T) {
	var names [2]map[int][]string
	for i := range names {
		cfg := Config{Kind: KindLock, Backend: BackendGRPC, Seed: 42, Unfenced: halfUnfenced, Prefix: fmt.Sprintf("/seed%d", i)}
		h, w := run(t, cfg, 1500*time.Millisecond, nil)
		names[i] = map[int][]string{}
		for _, op := range h.Operations() {
			if op.F == history.FLock {
				names[i][op.Client] = append(names[i][op.Client], op.Name)
			}
		}
		for _, c := range w.Clients() {
			plan, err := Plan(cfg, c.ID(), len(names[i][c.ID()]))
			require.NoError(t, err)
			for j, p := range plan {
				require.Equal(t, w.Names()[p.Name], names[i][c.ID()][j], "client %d's lock %d follows its plan", c.ID(), j)
			}
		}
	}
	for id, first := range names[0] {
		second := names[1][id]
		n := min(len(first), len(second))
		require.Positive(t, n)
		assert.Equal(t, first[:n], second[:n], "client %d", id)
	}
}

// TestFaultHooks exercises what a fault injector uses: a client stops
// renewing its lease and records lease-lost once it is gone; a paused client
// records nothing until resumed.
func TestFaultHooks(t *testing.T) {
	cfg := Config{Kind: KindLock, Backend: BackendConcurrency, Clients: 3, Seed: 3, Unfenced: halfUnfenced}
	var lost int64
	var pausedFrom, pausedTo int64
	h, _ := run(t, cfg, time.Minute, func(w *Workload, rec *history.Recorder) {
		c1, c2 := w.Clients()[0], w.Clients()[1]
		require.Eventually(t, func() bool { return c1.Lease() != 0 }, 3*time.Second, 5*time.Millisecond)
		lost = c1.StopKeepAlive()
		require.NotZero(t, lost)
		// The lease expires about one TTL after its last renewal; the client
		// notices and moves to a new lease.
		require.Eventually(t, func() bool { l := c1.Lease(); return l != 0 && l != lost }, 5*time.Second, 10*time.Millisecond)

		// Pause client 2 outside its critical sections, so the others go on.
		for range 50 {
			c2.Pause()
			require.Eventually(t, c2.Paused, 3*time.Second, time.Millisecond)
			if _, holding := c2.Holding(); !holding {
				break
			}
			c2.Resume()
			require.Eventually(t, func() bool { return !c2.Paused() }, time.Second, time.Millisecond)
		}
		_, holding := c2.Holding()
		require.False(t, holding)
		pausedFrom = rec.Now()
		before := rec.Counts().Invoked
		require.Eventually(t, func() bool { return rec.Counts().Invoked > before+20 }, 3*time.Second, time.Millisecond, "others go on")
		pausedTo = rec.Now()
		c2.Resume()
		require.Eventually(t, func() bool { return !c2.Paused() }, time.Second, time.Millisecond)
	})
	var sawLost bool
	for _, op := range h.Operations() {
		if op.F == history.FLeaseLost {
			require.Equal(t, 1, op.Client)
			require.Equal(t, lost, op.Input.Lease)
			require.NotNil(t, op.Input.LastAlive)
			assert.LessOrEqual(t, *op.Input.LastAlive, op.Call)
			sawLost = true
		}
		if op.Client == 2 && op.Call > pausedFrom && op.Call < pausedTo {
			t.Errorf("paused client 2 invoked op %d (%s) at %d during its pause [%d, %d]", op.ID, op.F, op.Call, pausedFrom, pausedTo)
		}
	}
	assert.True(t, sawLost, "lease-lost recorded")
}

// With EveryEndpoint each client has every member as an endpoint: its
// operations name no member, and its balancer spreads its lease grants
// over the members, each attributed to the member it went to.
func TestEveryEndpointClients(t *testing.T) {
	cfg := Config{Kind: KindLock, Backend: BackendGRPC, Seed: 11, Clients: 8, EveryEndpoint: true}
	h, w := run(t, cfg, 3*time.Second, nil)
	ops := h.Operations()
	assert.Greater(t, len(ops), 50, "the clients work")
	granted := map[int]bool{}
	for _, op := range ops {
		require.Zero(t, op.Member, "op %d of client %d names a member", op.ID, op.Client)
		assert.NotEqual(t, history.FLeaseLost, op.F, "no lease is lost on a healthy cluster")
		if op.F == history.FLock && op.Outcome == history.Ok {
			m := cluster(t).LeaseMember(clientv3.LeaseID(op.Output.Lease))
			require.NotZero(t, m, "lease %x is attributed to a member", op.Output.Lease)
			granted[m] = true
		}
	}
	for _, c := range w.Clients() {
		assert.Zero(t, c.Member(), "client %d has no member of its own", c.ID())
	}
	t.Logf("leases granted through members %v", granted)
	assert.Greater(t, len(granted), 1, "leases are granted through more than one member")
}
