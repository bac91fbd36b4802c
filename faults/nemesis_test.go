package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

// fastScenario has every injector whose faults last the scenario's
// FaultFor (pauses and expiries outlast a lease by a second or more), with
// millisecond timings.
func fastScenario() Scenario {
	return Scenario{Name: "fast", Quiet: time.Millisecond, FaultFor: 2 * time.Millisecond, LeaseTTL: time.Millisecond,
		Injectors: []string{IsolateLeader, IsolateMember, Split, Bridge, Latency, IsolateClient,
			RevokeLease, KillMember, KillLeader, MoveLeader, PauseMember, StallDisk}}
}

// nemesisRun runs the schedule of seed on a fresh fake environment and
// returns the fault events (without their times) and the calls made.
func nemesisRun(t *testing.T, seed int64) (Schedule, []history.Event, []string) {
	t.Helper()
	env := newFakeEnv()
	rec, read := newRecorder(t)
	sch := NewSchedule(fastScenario(), seed, 200*time.Millisecond)
	require.NotEmpty(t, sch)
	require.NoError(t, NewNemesis(env.Env, rec, sch, t.Logf).Run(context.Background()))
	events := read()
	for i := range events {
		events[i].Time = 0
	}
	require.Equal(t, "[]", env.healthy(), "seed %d", seed)
	return sch, events, env.cluster.Calls()
}

func TestNemesisSameSeedSameFaultsAndTargets(t *testing.T) {
	sch, events, calls := nemesisRun(t, 7)
	_, again, callsAgain := nemesisRun(t, 7)
	assert.Equal(t, events, again, "one seed must pick the same faults and targets")
	assert.Equal(t, calls, callsAgain)
	_, other, _ := nemesisRun(t, 8)
	assert.NotEqual(t, events, other, "another seed should pick other faults or targets")

	var started []string
	for _, e := range events {
		if e.Phase == history.PhaseStart {
			started = append(started, e.Fault)
		}
	}
	var planned []string
	for _, st := range sch {
		planned = append(planned, injectors[st.Injector].kind.Name)
	}
	assert.Equal(t, planned, started, "every planned fault starts, in order")
}

// Fault events come in order: each fault's start is followed by its end
// before the next fault starts; a one-shot fault's end says its action
// returned.
func TestNemesisRecordsEachFaultsStartThenEnd(t *testing.T) {
	env := newFakeEnv()
	rec, read := newRecorder(t)
	sch := NewSchedule(fastScenario(), 3, 200*time.Millisecond)
	require.NoError(t, NewNemesis(env.Env, rec, sch, t.Logf).Run(context.Background()))
	events := read()
	var open *history.Event
	var last int64
	for i, e := range events {
		require.GreaterOrEqual(t, e.Time, last)
		last = e.Time
		switch {
		case open != nil:
			require.Equal(t, history.PhaseEnd, e.Phase, "event %d: %s started before %s ended", i, e.Fault, open.Fault)
			require.Equal(t, [4]any{open.Fault, open.Member, open.Target, open.Lease}, [4]any{e.Fault, e.Member, e.Target, e.Lease})
			open = nil
		case e.Phase != history.PhaseStart:
			t.Fatalf("event %d: %s ends without a start", i, e.Fault)
		default:
			open = &events[i]
		}
	}
	require.Nil(t, open, "the last fault must end")
	assert.Len(t, events, 2*len(sch))
	oneShot := 0
	for _, st := range sch {
		if injectors[st.Injector].kind.OneShot {
			oneShot++
		}
	}
	assert.NotZero(t, oneShot, "the schedule has one-shot faults, whose ends are checked too")
}

// A run cancelled in the middle of any interval fault heals it and records
// its end before Run returns.
func TestNemesisHealsTheFaultInProgressWhenCancelled(t *testing.T) {
	for _, name := range Injectors() {
		if injectors[name].kind.OneShot {
			continue
		}
		t.Run(name, func(t *testing.T) {
			env := newFakeEnv()
			rev := int64(1) // an admin that also compacts, at a revision that moves on
			env.Admin = advancingAdmin{compactingAdmin: compactingAdmin{fakeAdmin: fakeAdmin{env.cluster}}, next: &rev}
			n, events := cancelMidFault(t, env, name, func(n *Nemesis) bool {
				if n.Applied()[name] != 1 {
					return false
				}
				assert.NotEmpty(t, n.Active())
				return true
			})
			assert.Empty(t, n.Active())
			assert.Equal(t, "[]", env.healthy())
			require.Len(t, events, 2)
			assert.Equal(t, []string{history.PhaseStart, history.PhaseEnd}, []string{events[0].Phase, events[1].Phase})
		})
	}
}

// cancelMidFault runs a nemesis whose one step is injector name lasting an
// hour, cancels its run once applied reports true, and returns the nemesis
// and the fault events it recorded, once Run has returned without error.
func cancelMidFault(t *testing.T, env *fakeEnv, name string, applied func(*Nemesis) bool) (*Nemesis, []history.Event) {
	t.Helper()
	rec, read := newRecorder(t)
	n := NewNemesis(env.Env, rec, Schedule{{Injector: name, For: time.Hour}}, t.Logf)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	require.Eventually(t, func() bool { return applied(n) }, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	return n, read()
}

// A fault that fails half applied is healed all the same, and its end is
// recorded; the schedule goes on.
func TestNemesisHealsAFaultThatFailedToApply(t *testing.T) {
	env := newFakeEnv()
	env.cluster.failing = "latency 2->1"
	rec, read := newRecorder(t)
	// Latency on member 1 slows link 1->2, then fails on 2->1.
	sch := Schedule{{Injector: Latency, For: time.Millisecond}, {Injector: IsolateMember, For: time.Millisecond}}
	n := NewNemesis(env.Env, rec, sch, t.Logf)
	require.NoError(t, n.Run(context.Background()))
	assert.Equal(t, "[]", env.healthy())
	events := read()
	require.Len(t, events, 4)
	for i, phase := range []string{history.PhaseStart, history.PhaseEnd, history.PhaseStart, history.PhaseEnd} {
		assert.Equal(t, phase, events[i].Phase, "event %d", i)
	}
	assert.Equal(t, map[string]int{IsolateMember: 1}, n.Applied(), "a fault that failed is not counted")
	assert.Equal(t, []string{"latency 1->2 50ms", "latency 2->1 50ms", "heal", "partition {1} | {2,3}", "heal"}, env.cluster.Calls())
}

func TestNemesisStopsBeforeAFaultWhenCancelled(t *testing.T) {
	env := newFakeEnv()
	rec, read := newRecorder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := NewNemesis(env.Env, rec, Schedule{{At: time.Hour, Injector: KillMember, For: time.Hour}}, t.Logf)
	require.NoError(t, n.Run(ctx))
	assert.Empty(t, read())
	assert.Empty(t, env.cluster.Calls())
}

// A one-shot fault whose action failed records no end: nothing says it took
// effect, so the checkers may not bound anything by it.
func TestNemesisRecordsNoEndForAOneShotFaultThatFailed(t *testing.T) {
	env := newFakeEnv()
	env.cluster.failing = "revoke"
	events := runOne(t, env.Env, RevokeLease, 0)
	require.Len(t, events, 1)
	assert.Equal(t, history.PhaseStart, events[0].Phase)
	assert.Equal(t, []string{"revoke lease 22"}, env.cluster.Calls())
}
