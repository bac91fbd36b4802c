package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// Every fault kind in history's table says all its facts (target, colour
// class, meaning for the checkers) and has an injector; every injector
// emits a kind of the table. The colours of the classes are checked in
// reports, which this package does not import.
func TestEveryFaultKindHasAnInjectorAndEveryInjectorAKnownKind(t *testing.T) {
	emitted := map[string]bool{}
	for _, name := range Injectors() {
		k := injectors[name].kind
		require.True(t, k.Known(), "injector %s emits fault kind %q, which is not in history's kinds table", name, k.Name)
		emitted[k.Name] = true
	}
	for _, k := range history.FaultKinds() {
		require.NoError(t, k.Validate())
		require.True(t, emitted[k.Name], "fault kind %s has no injector", k.Name)
	}
}

func TestClientSideInjectorsAreThoseAimedAtClientsOrLeases(t *testing.T) {
	var got []string
	for _, name := range Injectors() {
		if ClientSide(name) {
			got = append(got, name)
		}
	}
	assert.ElementsMatch(t, []string{IsolateClient, PauseClient, RevokeLease, ExpireLease,
		IsolateWaiter, PauseWaiter, RevokeWaiter, ExpireWaiter, IsolateHolder, HoldAnswers, RevokeBehind}, got)
	assert.False(t, ClientSide("no-such-injector"))
}

// runOne runs a nemesis with a single step of injector name on env and
// returns the fault events it recorded.
func runOne(t *testing.T, env *Env, name string, choice uint64) []history.Event {
	t.Helper()
	rec, read := newRecorder(t)
	n := NewNemesis(env, rec, Schedule{{Injector: name, For: time.Millisecond, Choice: choice}}, t.Logf)
	require.NoError(t, n.Run(context.Background()))
	return read()
}

// Each injector through a nemesis step on the fake environment (three
// members led by 2; client 2 holds a lock with lease 0x22): the targets it
// picks, the event it records and the calls that apply and heal it.
func TestInjectors(t *testing.T) {
	for _, tc := range []struct {
		injector string
		choice   uint64
		event    history.Event // kind, detail and targets of the start event
		calls    []string
	}{
		{IsolateLeader, 0, history.Event{Fault: history.KindPartition, Detail: "{2} | {1,3}"},
			[]string{"partition {2} | {1,3}", "heal"}},
		{IsolateMember, 2, history.Event{Fault: history.KindPartition, Detail: "{3} | {1,2}"},
			[]string{"partition {3} | {1,2}", "heal"}},
		{Split, 0, history.Event{Fault: history.KindPartition, Detail: "{2} | {1,3}"},
			[]string{"partition {2} | {1,3}", "heal"}},
		{Bridge, 0, history.Event{Fault: history.KindPartition, Member: 2, Detail: "{3} | {1}, bridged by 2"},
			[]string{"cut 3-1", "heal"}},
		{Latency, 0, history.Event{Fault: history.KindLatency, Member: 1, Detail: "50ms on every link of member 1"},
			[]string{"latency 1->2 50ms", "latency 2->1 50ms", "latency 1->3 50ms", "latency 3->1 50ms", "heal"}},
		{KillMember, 1, history.Event{Fault: history.KindKillMember, Member: 2, Detail: "member 2 killed"},
			[]string{"kill 2", "restart 2"}},
		{KillLeader, 0, history.Event{Fault: history.KindKillMember, Member: 2, Detail: "member 2 killed"},
			[]string{"kill 2", "restart 2"}},
		{MoveLeader, 1, history.Event{Fault: history.KindMoveLeader, Member: 3, Detail: "leadership moved from 2 to 3"},
			[]string{"move leader to 3"}},
		{PauseMember, 0, history.Event{Fault: history.KindPauseMember, Member: 1, Detail: "member 1 paused (SIGSTOP)"},
			[]string{"pause member 1", "resume member 1"}},
		{HangClientPort, 2, history.Event{Fault: history.KindHangPort, Member: 3, Detail: "client port of member 3 hung (its peer links work)"},
			[]string{"hang client port 3", "unhang client port 3"}},
		{HangLeaderPort, 0, history.Event{Fault: history.KindHangPort, Member: 2, Detail: "client port of leader 2 hung (its peer links work)"},
			[]string{"hang client port 2", "unhang client port 2"}},
		{StallDisk, 2, history.Event{Fault: history.KindStallDisk, Member: 3, Detail: "member 3's disk stalled (writes and fsyncs held)"},
			[]string{"stall disk 3", "unstall disk 3"}},
		{StallLeaderDisk, 0, history.Event{Fault: history.KindStallDisk, Member: 2, Detail: "leader 2's disk stalled (writes and fsyncs held)"},
			[]string{"stall disk 2", "unstall disk 2"}},
		{IsolateClient, 2, history.Event{Fault: history.KindIsolateClient, Target: 3, Member: 3, Detail: "client 3 cut from member 3"},
			[]string{"isolate client 3", "reconnect client 3"}},
		// Lease faults and pauses prefer the client holding the lock.
		{RevokeLease, 0, history.Event{Fault: history.KindRevokeLease, Target: 2, Lease: 0x22, Detail: "lease 22 of client 2"},
			[]string{"revoke lease 22"}},
		{ExpireLease, 0, history.Event{Fault: history.KindExpireLease, Target: 2, Lease: 0x22, Detail: "keep-alives of lease 22 of client 2 stopped"},
			nil},
		{PauseClient, 0, history.Event{Fault: history.KindPauseClient, Target: 2, Lease: 0x22, Member: 2, Detail: "client 2 paused holding l0"},
			[]string{"pause link of client 2", "resume link of client 2"}},
		{HoldAnswers, 0, history.Event{Fault: history.KindHoldAnswers, Target: 2, Member: 2, Detail: "answers to client 2 held, holding l0"},
			[]string{"hold answers to client 2", "release answers to client 2"}},
		// Waiter faults aim at the client waiting for the lock (client 3).
		{RevokeWaiter, 0, history.Event{Fault: history.KindRevokeLease, Target: 3, Lease: 0x33, Detail: "lease 33 of client 3, waiting for l0"},
			[]string{"revoke lease 33"}},
		{ExpireWaiter, 0, history.Event{Fault: history.KindExpireLease, Target: 3, Lease: 0x33, Detail: "keep-alives of lease 33 of client 3 stopped, waiting for l0"},
			nil},
		{PauseWaiter, 0, history.Event{Fault: history.KindPauseClient, Target: 3, Lease: 0x33, Member: 3, Detail: "client 3 paused waiting for l0"},
			[]string{"pause link of client 3", "resume link of client 3"}},
		{IsolateWaiter, 0, history.Event{Fault: history.KindIsolateClient, Target: 3, Member: 3, Detail: "client 3 cut from member 3, waiting for l0"},
			[]string{"isolate client 3", "reconnect client 3"}},
		{IsolateHolder, 0, history.Event{Fault: history.KindIsolateClient, Target: 2, Member: 2, Detail: "client 2 cut from member 2, holding l0"},
			[]string{"isolate client 2", "reconnect client 2"}},
	} {
		t.Run(tc.injector, func(t *testing.T) {
			env := newFakeEnv()
			events := runOne(t, env.Env, tc.injector, tc.choice)
			require.NotEmpty(t, events)
			start := events[0]
			assert.Equal(t, history.PhaseStart, start.Phase)
			assert.Equal(t, tc.event, history.Event{Fault: start.Fault, Detail: start.Detail,
				Member: start.Member, Target: start.Target, Lease: start.Lease})
			// Every fault ends: an interval fault when healed, a one-shot
			// fault once its action returned.
			require.Len(t, events, 2)
			end := events[1]
			assert.Equal(t, history.Event{Type: history.TypeFault, Fault: start.Fault, Phase: history.PhaseEnd,
				Member: start.Member, Target: start.Target, Lease: start.Lease, Time: end.Time}, end)
			assert.Equal(t, tc.calls, env.cluster.Calls())
			assert.Equal(t, "[]", env.healthy(), "the fault must be healed")
		})
	}
}

func TestExpireLeaseStopsTheHoldersKeepAlives(t *testing.T) {
	env := newFakeEnv()
	runOne(t, env.Env, ExpireLease, 0)
	assert.Equal(t, []int64{0, 0x22, 0}, []int64{env.clients[0].stoppedLease(), env.clients[1].stoppedLease(), env.clients[2].stoppedLease()})
}

// A pause stops the client itself, not only its link, until it is healed.
func TestPauseClientPausesTheClientUntilHealed(t *testing.T) {
	env := newFakeEnv()
	inj, err := injectors[PauseClient].inject(context.Background(), env.Env, 0)
	require.NoError(t, err)
	require.NoError(t, inj.apply(context.Background()))
	assert.True(t, env.clients[1].isPaused())
	assert.Equal(t, "[client 2's link paused]", env.cluster.healthy())
	require.NoError(t, inj.heal(context.Background()))
	assert.Equal(t, "[]", env.healthy())
}

func TestInjectorsThatCannotActAreSkipped(t *testing.T) {
	embedded := newFakeEnv()
	embedded.cluster.mode = harness.ModeEmbedded
	assert.Empty(t, runOne(t, embedded.Env, PauseMember, 0), "only process members can be paused")

	single := newFakeEnv()
	single.cluster.size = 1
	for _, name := range []string{IsolateLeader, IsolateMember, Split, Bridge, Latency, MoveLeader, HangClientPort, HangLeaderPort} {
		assert.Empty(t, runOne(t, single.Env, name, 0), "%s on one member", name)
	}

	leaseless := newFakeEnv()
	for _, c := range leaseless.clients {
		c.lease, c.holding = 0, ""
	}
	leaseless.Clients = leaseless.Clients[:1]
	for _, name := range []string{RevokeLease, ExpireLease} {
		assert.Empty(t, runOne(t, leaseless.Env, name, 0), "%s without a lease", name)
	}
	assert.Empty(t, single.cluster.Calls())
	assert.Empty(t, embedded.cluster.Calls())
	assert.Empty(t, leaseless.cluster.Calls())
}

// Any injector, including one added later, records a start of its own kind
// and, unless its kind is one-shot, an end, and leaves nothing broken. One
// that needs more than the fake environment offers records nothing.
func TestEveryInjectorRecordsItsKindAndHeals(t *testing.T) {
	for _, name := range Injectors() {
		for choice := uint64(0); choice < 6; choice++ {
			env := newFakeEnv()
			events := runOne(t, env.Env, name, choice*7919)
			kind := injectors[name].kind
			if len(events) == 0 {
				t.Logf("%s does not act on the fake environment", name)
				require.Empty(t, env.cluster.Calls(), name)
				break
			}
			for _, e := range events {
				require.Equal(t, kind.Name, e.Fault, name)
			}
			require.Len(t, events, 2, name)
			require.Equal(t, history.PhaseEnd, events[1].Phase, name)
			require.Equal(t, "[]", env.healthy(), name)
		}
	}
}
