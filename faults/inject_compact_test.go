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

// advancingAdmin is a compacting fake admin whose revision moves on by one
// at each read, as a cluster under load does.
type advancingAdmin struct {
	compactingAdmin
	next *int64
}

func (a advancingAdmin) Get(_ context.Context, key string, _ ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	a.cluster.mu.Lock()
	defer a.cluster.mu.Unlock()
	if err := a.cluster.log("get %s", key); err != nil {
		return nil, err
	}
	*a.next++
	return &clientv3.GetResponse{Header: &etcdserverpb.ResponseHeader{Revision: *a.next}}, nil
}

// A compaction behind a waiter cuts the waiting client off first, then
// compacts at a revision above the one current after the cut (so its
// watch, which waits from a revision at or below that one, cannot
// resume), and reconnects it when healed: one fault of the client.
func TestCompactBehindWaiterCompactsPastTheCutOffWaiter(t *testing.T) {
	env := newFakeEnv()
	rev := int64(40)
	env.Admin = advancingAdmin{compactingAdmin: compactingAdmin{fakeAdmin: fakeAdmin{env.cluster}}, next: &rev}
	events := runOne(t, env.Env, CompactBehindWaiter, 0)
	require.Len(t, events, 2)
	assert.Equal(t, history.Event{Type: history.TypeFault, Fault: history.KindCompactBehindWaiter, Phase: history.PhaseStart, Target: 3, Member: 3,
		Detail: "client 3 cut from member 3, waiting for l0; the keyspace compacted past the revision current when it was cut off",
		Time:   events[0].Time}, events[0])
	assert.Equal(t, history.PhaseEnd, events[1].Phase)
	assert.Equal(t, []string{"isolate client 3", "get compaction", "get compaction", "compact 42", "reconnect client 3"}, env.cluster.Calls())
	assert.Equal(t, "[]", env.healthy(), "the waiter is reconnected")
}

// If the revision does not move past the cut-off's, nothing is compacted
// and the waiter is reconnected all the same.
func TestCompactBehindWaiterHealsWhenTheRevisionStands(t *testing.T) {
	env := newCompactingEnv(40)
	events := runOne(t, env.Env, CompactBehindWaiter, 0)
	require.Len(t, events, 2)
	calls := env.cluster.Calls()
	assert.Equal(t, "isolate client 3", calls[0])
	assert.Equal(t, "reconnect client 3", calls[len(calls)-1])
	assert.NotContains(t, calls, "compact 40")
	assert.Equal(t, "[]", env.healthy())
}
