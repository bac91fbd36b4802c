package observer

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const root = "/obs/"

var targets = []Target{
	{Name: "l0", Role: history.RoleLock, Prefix: "/obs/lock/l0"},
	{Name: "l0", Role: history.RoleData, Prefix: "/obs/res/l0", Exact: true},
	{Name: "e0", Role: history.RoleElection, Prefix: "/obs/election/e0"},
}

func startCluster(t *testing.T, members int) *harness.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := harness.Start(ctx, harness.Config{Members: members})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func newRecorder(t *testing.T) (*history.Recorder, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	rec, err := history.New(&buf, history.Header{Scenario: "observer", ServerTruth: true})
	require.NoError(t, err)
	return rec, &buf
}

func readBack(t *testing.T, rec *history.Recorder, buf *bytes.Buffer) []history.ServerEvent {
	t.Helper()
	require.NoError(t, rec.Close())
	h, err := history.Read(bytes.NewReader(buf.Bytes()), "observer.jsonl")
	require.NoError(t, err, "the observer's lines are a valid history")
	return h.ServerEvents()
}

func dial(t *testing.T, c *harness.Cluster, i int) *clientv3.Client {
	t.Helper()
	cli, err := c.Dial(i)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Every event on a target's keys is recorded once, in revision order, with
// the key's create revision, lease and value; a delete carries the deleted
// key's create revision; keys outside the targets are left out.
func TestObserverRecordsEveryEventInRevisionOrder(t *testing.T) {
	c := startCluster(t, 1)
	cli := dial(t, c, 1)
	ctx := context.Background()
	// A key that exists before the observer starts is recorded as of then.
	_, err := cli.Put(ctx, "/obs/election/e0/old", "v0")
	require.NoError(t, err)

	rec, buf := newRecorder(t)
	o, err := Start(ctx, Config{Endpoints: c.Endpoints(), Root: root, Targets: targets, Rec: rec})
	require.NoError(t, err)
	defer o.Close()

	lease, err := cli.Grant(ctx, 30)
	require.NoError(t, err)
	lockKey := fmt.Sprintf("/obs/lock/l0/%x", lease.ID)
	put, err := cli.Put(ctx, lockKey, "", clientv3.WithLease(lease.ID))
	require.NoError(t, err)
	// A txn writes the data key and an unwatched key at one revision.
	data, err := cli.Txn(ctx).Then(clientv3.OpPut("/obs/res/l0", "c1-1"), clientv3.OpPut("/obs/other", "x")).Commit()
	require.NoError(t, err)
	_, err = cli.Put(ctx, "/obs/lock/l01/k", "not l0") // a name that only starts like l0
	require.NoError(t, err)
	revoke, err := cli.Revoke(ctx, lease.ID)
	require.NoError(t, err)
	del, err := cli.Delete(ctx, "/obs/election/e0/old")
	require.NoError(t, err)

	final, err := o.CatchUp(ctx, 10*time.Second)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, final, del.Header.Revision)
	got := readBack(t, rec, buf)
	for i := range got {
		got[i].Time = 0
	}
	putRev, dataRev, delRev := put.Header.Revision, data.Header.Revision, del.Header.Revision
	assert.Equal(t, []history.ServerEvent{
		{Name: "e0", Role: history.RoleElection, Event: history.ServerPut, Key: "/obs/election/e0/old", Rev: 2, CreateRev: 2, Value: "v0"},
		{Name: "l0", Role: history.RoleLock, Event: history.ServerPut, Key: lockKey, Rev: putRev, CreateRev: putRev, Lease: int64(lease.ID)},
		{Name: "l0", Role: history.RoleData, Event: history.ServerPut, Key: "/obs/res/l0", Rev: dataRev, CreateRev: dataRev, Value: "c1-1"},
		{Name: "l0", Role: history.RoleLock, Event: history.ServerDelete, Key: lockKey, Rev: revoke.Header.Revision, CreateRev: putRev},
		{Name: "e0", Role: history.RoleElection, Event: history.ServerDelete, Key: "/obs/election/e0/old", Rev: delRev, CreateRev: 2},
	}, got)
}

// A watch that starts below the compacted revision cannot see what was
// compacted away: the observer records a gap for every target over exactly
// those revisions, then records what follows.
func TestObserverRecordsGapOverCompaction(t *testing.T) {
	c := startCluster(t, 1)
	cli := dial(t, c, 1)
	ctx := context.Background()
	var last *clientv3.PutResponse
	for i := range 5 {
		var err error
		last, err = cli.Put(ctx, "/obs/lock/l0/k", fmt.Sprint(i))
		require.NoError(t, err)
	}
	_, err := cli.Compact(ctx, last.Header.Revision)
	require.NoError(t, err)

	rec, buf := newRecorder(t)
	o, err := Start(ctx, Config{Endpoints: c.Endpoints(), Root: root, Targets: targets, Rec: rec, StartRev: 2})
	require.NoError(t, err)
	defer o.Close()
	after, err := cli.Put(ctx, "/obs/lock/l0/k", "after")
	require.NoError(t, err)
	_, err = o.CatchUp(ctx, 10*time.Second)
	require.NoError(t, err)

	got := readBack(t, rec, buf)
	var gaps []history.ServerEvent
	for _, s := range got {
		if s.Event == history.ServerGap {
			gaps = append(gaps, s)
		}
	}
	require.Len(t, gaps, len(targets), "one gap per target")
	for _, g := range gaps {
		assert.Equal(t, int64(1), g.FromRev)
		assert.Equal(t, last.Header.Revision-1, g.ToRev)
		assert.Equal(t, "compacted", g.Detail)
	}
	lastLine := got[len(got)-1]
	assert.Equal(t, "after", lastLine.Value)
	assert.Equal(t, after.Header.Revision, lastLine.Rev)
}

// The observer is on one of three members; each member is isolated in turn
// while a write goes through the others. Whichever member the observer was
// on, every write is recorded: a watch on a member without a leader is
// cancelled and resumed on another.
func TestObserverMovesOffAnIsolatedMember(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	rec, buf := newRecorder(t)
	o, err := Start(ctx, Config{Endpoints: c.Endpoints(), Root: root, Targets: targets, Rec: rec, Logf: t.Logf})
	require.NoError(t, err)
	defer o.Close()
	var revs []int64
	for isolated := 1; isolated <= 3; isolated++ {
		require.NoError(t, c.Partition([]int{isolated}, others(isolated)))
		writer := dial(t, c, others(isolated)[0])
		var rev int64
		require.Eventually(t, func() bool {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			resp, err := writer.Put(wctx, "/obs/res/l0", fmt.Sprintf("isolated-%d", isolated))
			if err != nil {
				return false
			}
			rev = resp.Header.Revision
			return true
		}, 30*time.Second, 100*time.Millisecond, "a write through the majority")
		require.Eventually(t, func() bool { return o.Through() >= rev }, 30*time.Second, 50*time.Millisecond,
			"the write with member %d isolated is observed", isolated)
		revs = append(revs, rev)
		require.NoError(t, c.Heal())
	}
	_, err = o.CatchUp(ctx, 10*time.Second)
	require.NoError(t, err)
	var seen []int64
	for _, s := range readBack(t, rec, buf) {
		require.NotEqual(t, history.ServerGap, s.Event, "no gap: resumed watches miss nothing")
		seen = append(seen, s.Rev)
	}
	assert.Equal(t, revs, seen)
}

func others(i int) []int {
	var out []int
	for m := 1; m <= 3; m++ {
		if m != i {
			out = append(out, m)
		}
	}
	return out
}
