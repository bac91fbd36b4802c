package workloads

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

func TestMutantRegistry(t *testing.T) {
	checks := map[string]bool{models.CheckLock: true, models.CheckFenced: true, models.CheckElection: true, models.CheckObserve: true}
	seen := map[string]bool{}
	for _, m := range Mutants() {
		assert.False(t, seen[m.Name], "duplicate %s", m.Name)
		seen[m.Name] = true
		assert.True(t, checks[m.Check], "%s: check %q", m.Name, m.Check)
		assert.NotEmpty(t, m.Description)
		assert.NotEmpty(t, m.Scenario)
		assert.NotEmpty(t, m.Breaks, "%s: the operation it breaks", m.Name)
		assert.Equal(t, m.Kind == KindLock, m.Locker != nil, "%s: a lock mutant wraps a Locker", m.Name)
		assert.Equal(t, m.Kind == KindElection, m.Elector != nil, "%s: an election mutant wraps an Elector", m.Name)
		got, err := LookupMutant(m.Name)
		require.NoError(t, err)
		assert.Equal(t, m.Name, got.Name)
	}
	for _, name := range []string{"lock-no-wait", "lock-ignore-lease", "unlock-foreign", "proclaim-unguarded", "campaign-no-wait", "observe-reorder"} {
		assert.True(t, seen[name], name)
	}
	_, err := LookupMutant("no-such")
	require.ErrorContains(t, err, "lock-no-wait")
	_, err = New(nil, nil, Config{Kind: KindLock, Mutant: "no-such"})
	require.ErrorContains(t, err, `unknown mutant "no-such"`)
}

// TestMutantsBreakTheirCheck runs the mutants that need no faults on both
// backends: each makes its check fail on a healthy cluster, while the
// others run cleanly there.
func TestMutantsBreakTheirCheck(t *testing.T) {
	for _, m := range Mutants() {
		for _, backend := range []Backend{BackendGRPC, BackendConcurrency} {
			t.Run(m.Name+"-"+string(backend), func(t *testing.T) {
				cfg := Config{Kind: m.Kind, Backend: backend, Names: 1, Seed: 3, Mutant: m.Name}
				h, _ := run(t, cfg, 2*time.Second, nil)
				require.NotEmpty(t, h.Operations())
				res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 20 * time.Second})
				require.NoError(t, err)
				violated := false
				for _, c := range res.Checks {
					violated = violated || (c.Check == m.Check && c.Verdict == models.Violation)
				}
				if m.Scenario == "smoke" {
					require.True(t, violated, "%s: no %s violation (verdict %s)", m.Name, m.Check, res.Verdict)
				} else {
					require.False(t, violated, "%s needs faults to show", m.Name)
				}
			})
		}
	}
}

// TestIgnoreLeaseWritesWithoutTheLock: once the lock key is gone, the
// guarded write is rejected while the mutant's write goes ahead.
func TestIgnoreLeaseWritesWithoutTheLock(t *testing.T) {
	c := cluster(t)
	conn, err := c.NewClient(1)
	require.NoError(t, err)
	defer conn.Close()
	ctx := context.Background()
	put, err := conn.Put(ctx, "/"+t.Name()+"/l0/1", "")
	require.NoError(t, err)
	held := Held{Key: "/" + t.Name() + "/l0/1", Rev: put.Header.Revision}
	m, err := LookupMutant("lock-ignore-lease")
	require.NoError(t, err)
	fw, ok := m.Locker(GRPCLocker)(conn.Client).(FencedWriter)
	require.True(t, ok)
	res := "/" + t.Name() + "/res"
	_, err = fw.WriteFenced(ctx, held, res, "a")
	require.NoError(t, err)
	_, err = conn.Delete(ctx, held.Key)
	require.NoError(t, err)
	_, err = fencedPut(ctx, conn.Client, held, res, "b")
	require.ErrorIs(t, err, ErrFenceRejected)
	rev, err := fw.WriteFenced(ctx, held, res, "c")
	require.NoError(t, err)
	get, err := conn.Get(ctx, res)
	require.NoError(t, err)
	require.Equal(t, "c", string(get.Kvs[0].Value))
	require.Equal(t, rev, get.Kvs[0].ModRevision)
}

// fakeElector delivers a fixed sequence from Observe.
type fakeElector struct {
	Elector
	values []LeaderInfo
}

func (f fakeElector) Observe(ctx context.Context, name string) (<-chan LeaderInfo, error) {
	ch := make(chan LeaderInfo, len(f.values))
	for _, v := range f.values {
		ch <- v
	}
	close(ch)
	return ch, nil
}

func TestObserveReorderSwapsPairs(t *testing.T) {
	m, err := LookupMutant("observe-reorder")
	require.NoError(t, err)
	var in []LeaderInfo
	for i := int64(1); i <= 5; i++ {
		in = append(in, LeaderInfo{Key: "k", Rev: 1, ModRev: i})
	}
	e := m.Elector(func(*clientv3.Client) Elector { return fakeElector{values: in} })(nil)
	ch, err := e.Observe(context.Background(), "e0")
	require.NoError(t, err)
	var got []int64
	for v := range ch {
		got = append(got, v.ModRev)
	}
	require.Equal(t, []int64{2, 1, 4, 3, 5}, got)
}
