package history

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recordAll records one of every operation kind and a few faults, and
// returns the operations it expects to read back (times filled in from the
// recorder).
func recordAll(t *testing.T, r *Recorder) []Operation {
	t.Helper()
	var want []Operation
	do := func(client int, f, name string, in *Value, outcome Outcome, out *Value, msg string) {
		t.Helper()
		op, at, err := r.Begin(client, f, name, in)
		require.NoError(t, err)
		require.NoError(t, r.Complete(op, outcome, out, msg))
		o := Operation{ID: op, Client: client, F: f, Name: name, Call: at, Outcome: outcome, Error: msg}
		if in != nil {
			o.Input = *in
		}
		if out != nil {
			o.Output = *out
		}
		want = append(want, o)
	}
	r.SetMember(1, 2)
	key := "/etcdchaos/lock/l0/694d9a1c2b3f4e01"
	do(1, FLock, "l0", &Value{Lease: 7587}, Ok, &Value{Key: key, Rev: 912, Lease: 7587}, "")
	do(1, FWrite, "l0", &Value{Key: key, Rev: 912, Fenced: Bool(true), Data: "c1-1"}, Ok, &Value{Rev: 913}, "")
	do(1, FWrite, "l0", &Value{Key: key, Rev: 912, Fenced: Bool(false), Data: "c1-2 \"quoted\"\n\x01 ünï"}, Ok, &Value{Rev: 914}, "")
	do(1, FWrite, "l0", &Value{Key: key, Rev: 912, Fenced: Bool(true), Data: "c1-3"}, Fail, nil, "guard false")
	do(1, FUnlock, "l0", &Value{Key: key}, Ok, &Value{}, "")
	do(2, FLock, "l1", &Value{Lease: 99}, Info, nil, "context deadline exceeded")
	do(2, FRevoke, "l1", &Value{Lease: 99}, Ok, &Value{}, "")
	do(3, FCampaign, "e0", &Value{Value: "c3-1", Lease: 5}, Ok, &Value{Key: "e0/5", Rev: 20, Lease: 5}, "")
	do(3, FProclaim, "e0", &Value{Key: "e0/5", Rev: 20, Value: "c3-2"}, Ok, &Value{}, "")
	do(4, FLeader, "e0", &Value{}, Ok, &Value{Key: "e0/5", Value: "c3-2", Rev: 20, ModRev: 22, Lease: 5}, "")
	do(5, FObserve, "e0", &Value{}, Ok, &Value{Key: "e0/5", Value: "c3-2", Rev: 20, ModRev: 22, Lease: 5}, "")
	do(3, FResign, "e0", &Value{Key: "e0/5", Rev: 20}, Ok, &Value{}, "")
	do(4, FLeader, "e1", &Value{}, Ok, &Value{None: true}, "")
	do(3, FLeaseLost, "e0", &Value{Lease: 5, LastAlive: Int64(17)}, Ok, &Value{}, "")
	do(4, FProclaim, "e1", &Value{Key: "e1/6", Rev: 30, Value: "c4-1"}, Fail, &Value{}, "not leader")
	// Pending: invoked, never completed.
	op, at, err := r.Begin(6, FLock, "l0", &Value{Lease: 8})
	require.NoError(t, err)
	want = append(want, Operation{ID: op, Client: 6, F: FLock, Name: "l0", Call: at, Outcome: Pending, Input: Value{Lease: 8}})
	want[0].Member, want[1].Member, want[2].Member, want[3].Member, want[4].Member = 2, 2, 2, 2, 2
	return want
}

func TestRecorderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	h := Header{Scenario: "lock-partition", Seed: 42, LeaseTTLMs: 2000, Members: 3, EtcdVersion: "3.7.3",
		Workload: "lock", Backend: "grpc", Mutant: "no-fence", Clients: 5, Command: "etcdchaos run --seed 42"}
	r, err := Create(path, h)
	require.NoError(t, err)
	start, err := r.Fault(FaultEvent{Fault: "partition", Phase: PhaseStart, Detail: "{1} | {2,3}", Member: 1})
	require.NoError(t, err)
	want := recordAll(t, r)
	revoked, err := r.Fault(FaultEvent{Fault: "revoke-lease", Phase: PhaseStart, Target: 2, Lease: 99})
	require.NoError(t, err)
	end, err := r.Fault(FaultEvent{Fault: "partition", Phase: PhaseEnd, Member: 1})
	require.NoError(t, err)
	paused, err := r.Fault(FaultEvent{Fault: "pause-client", Phase: PhaseStart, Target: 3})
	require.NoError(t, err)
	assert.Equal(t, 1, r.InFlight())
	assert.Equal(t, Counts{Invoked: int64(len(want)), Ok: 12, Fail: 2, Info: 1}, r.Counts())
	require.NoError(t, r.Close())

	got, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, got.Warnings)
	h.Type, h.Format, h.StartUnixNs = TypeHeader, Format, r.Start().UnixNano()
	assert.Equal(t, h, got.Header)

	ops := got.Operations()
	require.Len(t, ops, len(want))
	events := map[int64][]Event{}
	for _, e := range got.Events {
		events[e.Op] = append(events[e.Op], e)
	}
	for i, w := range want {
		g := ops[i]
		if w.Outcome != Pending {
			w.Completed = events[w.ID][1].Time
		}
		w.Return = w.Completed
		if w.Outcome.Unknown() {
			w.Return = Never
		}
		assert.Equal(t, w, g, "op %d (%s)", w.ID, w.F)
		if g.Outcome != Pending {
			assert.LessOrEqual(t, g.Call, g.Completed)
		}
	}
	assert.True(t, ops[len(ops)-1].Outcome.Unknown())
	assert.Equal(t, []Fault{
		{Kind: "partition", Detail: "{1} | {2,3}", Member: 1, Start: start, End: end, Ended: true},
		{Kind: "revoke-lease", Target: 2, Lease: 99, Start: revoked, End: revoked},
		{Kind: "pause-client", Target: 3, Start: paused, End: Never},
	}, got.Faults())
	assert.Equal(t, paused, got.EndTime())
}

// A keep-alive and TimeToLive answers read back as recorded, a TTL of 0
// included (it is an answer, not an absent field), and a client's lease
// keeper may have a keep-alive in flight while the client has an operation
// in flight.
func TestRecorderRoundTripLeaseAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r, err := Create(path, Header{Members: 1})
	require.NoError(t, err)
	lock, err := r.Invoke(3, FLock, "l0", &Value{Lease: 7})
	require.NoError(t, err)
	ka, err := r.Invoke(LeaseKeeper(3), FKeepAlive, "", &Value{Lease: 7, GrantedTTL: 2})
	require.NoError(t, err)
	require.NoError(t, r.Ok(ka, &Value{Lease: 7, TTL: Int64(2)}))
	require.NoError(t, r.Info(lock, "context deadline exceeded"))
	require.NoError(t, r.Record(3, FLeaseTTL, "", &Value{Lease: 7}, &Value{Lease: 7, TTL: Int64(0), GrantedTTL: 2}))
	require.NoError(t, r.Record(3, FLeaseTTL, "", &Value{Lease: 7}, &Value{Lease: 7, TTL: Int64(-1)}))
	require.NoError(t, r.Close())

	h, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, h.Warnings, "keepalive and lease-ttl are known functions")
	ops := h.Operations()
	require.Len(t, ops, 4)
	assert.Equal(t, []int{3, KeeperBase + 3, 3, 3}, []int{ops[0].Client, ops[1].Client, ops[2].Client, ops[3].Client})
	assert.Equal(t, Value{Lease: 7, GrantedTTL: 2}, ops[1].Input)
	assert.Equal(t, Value{Lease: 7, TTL: Int64(2)}, ops[1].Output)
	assert.Equal(t, Value{Lease: 7, TTL: Int64(0), GrantedTTL: 2}, ops[2].Output)
	assert.Equal(t, Value{Lease: 7, TTL: Int64(-1)}, ops[3].Output)
}

func TestRecorderOneOpInFlightPerClient(t *testing.T) {
	var buf bytes.Buffer
	r, err := New(&buf, Header{})
	require.NoError(t, err)
	op, err := r.Invoke(1, FLock, "l0", &Value{Lease: 1})
	require.NoError(t, err)
	_, err = r.Invoke(1, FLeader, "e0", nil)
	require.ErrorIs(t, err, ErrInFlight)
	require.ErrorIs(t, r.Record(1, FLeaseLost, "l0", &Value{Lease: 1, LastAlive: Int64(0)}, nil), ErrInFlight)
	other, err := r.Invoke(2, FLock, "l0", &Value{Lease: 2}) // another client may
	require.NoError(t, err)

	require.ErrorIs(t, r.Complete(op, Pending, nil, ""), ErrBadOutcome)
	require.ErrorIs(t, r.Ok(op+100, nil), ErrUnknownOp)
	require.NoError(t, r.Info(op, "timeout"))
	require.ErrorIs(t, r.Ok(op, nil), ErrUnknownOp, "an op completes once")
	_, err = r.Invoke(1, FLock, "l0", &Value{Lease: 3})
	require.NoError(t, err, "client 1 is free again after its completion")

	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	require.ErrorIs(t, r.Ok(other, nil), ErrClosed)
	_, err = r.Invoke(3, FLock, "l0", nil)
	require.ErrorIs(t, err, ErrClosed)

	h, err := Read(&buf, "mem")
	require.NoError(t, err)
	ops := h.Operations()
	require.Len(t, ops, 3)
	assert.Equal(t, []Outcome{Info, Pending, Pending}, []Outcome{ops[0].Outcome, ops[1].Outcome, ops[2].Outcome})
}

func TestRecorderConcurrent(t *testing.T) {
	const goroutines, perClient = 8, 300
	var buf bytes.Buffer
	r, err := New(&buf, Header{Scenario: "concurrent"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+1)
	for c := 1; c <= goroutines; c++ {
		wg.Go(func() {
			for i := range perClient {
				op, err := r.Invoke(c, FWrite, "l0", &Value{Data: fmt.Sprintf("c%d-%d", c, i)})
				if err == nil {
					err = r.Ok(op, &Value{Rev: int64(i + 1)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			phase := PhaseStart
			if i%2 == 1 {
				phase = PhaseEnd
			}
			if _, err := r.Fault(FaultEvent{Fault: "latency", Phase: phase, Member: 1}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())

	h, err := Read(&buf, "concurrent") // validates monotonic time, unique ids, one op per client
	require.NoError(t, err)
	require.Len(t, h.Events, 2*goroutines*perClient+50)
	var last int64
	seen := map[int64]bool{}
	next := map[int]int{}
	for _, e := range h.Events {
		require.GreaterOrEqual(t, e.Time, last)
		last = e.Time
		if e.Type == TypeInvoke {
			require.False(t, seen[e.Op], "op %d reused", e.Op)
			seen[e.Op] = true
			require.Equal(t, fmt.Sprintf("c%d-%d", e.Client, next[e.Client]), e.Value.Data, "client order kept")
			next[e.Client]++
		}
	}
	for _, op := range h.Operations() {
		require.Equal(t, Ok, op.Outcome)
	}
	assert.Len(t, h.Faults(), 25)
}
