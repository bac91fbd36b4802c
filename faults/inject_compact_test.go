package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// compactingAdmin is a fake admin that can also compact: it answers every
// read at revision rev and logs reads and compactions in its cluster's call
// log.
type compactingAdmin struct {
	fakeAdmin
	rev int64
}

func (a compactingAdmin) Get(_ context.Context, key string, _ ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	a.cluster.mu.Lock()
	defer a.cluster.mu.Unlock()
	if err := a.cluster.log("get %s", key); err != nil {
		return nil, err
	}
	return &clientv3.GetResponse{Header: &etcdserverpb.ResponseHeader{Revision: a.rev}}, nil
}

func (a compactingAdmin) Compact(_ context.Context, rev int64, _ ...clientv3.CompactOption) (*clientv3.CompactResponse, error) {
	a.cluster.mu.Lock()
	defer a.cluster.mu.Unlock()
	if err := a.cluster.log("compact %d", rev); err != nil {
		return nil, err
	}
	return &clientv3.CompactResponse{}, nil
}

func newCompactingEnv(rev int64) *fakeEnv {
	env := newFakeEnv()
	env.Admin = compactingAdmin{fakeAdmin: fakeAdmin{env.cluster}, rev: rev}
	return env
}

// A compaction compacts at the revision current when it fires, and records
// a one-shot fault that names the revision and ends once it is done.
func TestCompactionCompactsAtTheCurrentRevision(t *testing.T) {
	env := newCompactingEnv(42)
	events := runOne(t, env.Env, Compaction, 0)
	require.Len(t, events, 2)
	assert.Equal(t, history.Event{Type: history.TypeFault, Fault: history.KindCompaction, Phase: history.PhaseStart,
		Detail: "keyspace compacted at revision 42", Time: events[0].Time}, events[0])
	assert.Equal(t, history.Event{Type: history.TypeFault, Fault: history.KindCompaction, Phase: history.PhaseEnd,
		Time: events[1].Time}, events[1])
	assert.Equal(t, []string{"get compaction", "compact 42"}, env.cluster.Calls())
	assert.True(t, history.FaultKindOf(history.KindCompaction).OneShot)
	assert.False(t, ClientSide(Compaction), "a compaction acts on the whole keyspace, not on a client")
}

// With nobody waiting in Lock or Campaign, the compaction still fires,
// after a bounded wait for a waiter.
func TestCompactionFiresWithoutAWaiter(t *testing.T) {
	env := newCompactingEnv(7)
	for _, c := range env.clients {
		c.waiting = ""
	}
	start := time.Now()
	events := runOne(t, env.Env, Compaction, 0)
	require.Len(t, events, 2)
	assert.Equal(t, []string{"get compaction", "compact 7"}, env.cluster.Calls())
	assert.GreaterOrEqual(t, time.Since(start), holderWait, "it waited for a waiter first")
}

// An admin client that cannot compact is refused with a clear error before
// anything is recorded or done.
func TestCompactionNeedsAnAdminThatCompacts(t *testing.T) {
	env := newFakeEnv()
	_, err := injectors[Compaction].inject(context.Background(), env.Env, 0)
	require.ErrorContains(t, err, "cannot compact")
	assert.Empty(t, runOne(t, env.Env, Compaction, 0))
	assert.Empty(t, env.cluster.Calls())
}

// A compaction that failed records its start but no end: nothing says it
// took effect.
func TestFailedCompactionRecordsNoEnd(t *testing.T) {
	env := newCompactingEnv(9)
	env.cluster.failing = "compact"
	events := runOne(t, env.Env, Compaction, 0)
	require.Len(t, events, 1)
	assert.Equal(t, history.PhaseStart, events[0].Phase)
	assert.Equal(t, []string{"get compaction", "compact 9"}, env.cluster.Calls())

	env = newCompactingEnv(9)
	env.cluster.failing = "get"
	assert.Empty(t, runOne(t, env.Env, Compaction, 0), "no revision, no compaction")
	assert.Equal(t, []string{"get compaction"}, env.cluster.Calls())
}
