package faults

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// A leader disk stall stalls whichever member leads when it fires, records
// it as aimed at the leader, and releases that disk when healed.
func TestStallLeaderDiskStallsTheCurrentLeader(t *testing.T) {
	for _, leader := range []int{1, 3} {
		env := newFakeEnv()
		env.cluster.leader = leader
		events := runOne(t, env.Env, StallLeaderDisk, 5)
		require.Len(t, events, 2)
		assert.Equal(t, history.KindStallDisk, events[0].Fault)
		assert.Equal(t, leader, events[0].Member)
		assert.True(t, events[0].Leader)
		assert.Equal(t, leader, events[1].Member)
		assert.Equal(t, []string{"stall disk " + strconv.Itoa(leader), "unstall disk " + strconv.Itoa(leader)}, env.cluster.Calls())
		assert.Equal(t, "[]", env.healthy())
	}
}

// Disks stall only on a cluster started with stallable disks (members run
// as processes), and a leader's stall needs a majority left to elect.
func TestDiskStallsNeedStallableDisks(t *testing.T) {
	embedded := newFakeEnv()
	embedded.cluster.mode = harness.ModeEmbedded
	plain := newFakeEnv()
	plain.cluster.plainDisks = true
	for _, env := range []*fakeEnv{embedded, plain} {
		for _, name := range []string{StallDisk, StallLeaderDisk} {
			assert.Empty(t, runOne(t, env.Env, name, 0), name)
		}
		assert.Empty(t, env.cluster.Calls())
	}
	single := newFakeEnv()
	single.cluster.size, single.cluster.leader = 1, 1
	assert.Empty(t, runOne(t, single.Env, StallLeaderDisk, 0))
	assert.Empty(t, single.cluster.Calls())
}

// A leader's disk stall outlasts the election timeout, however short the
// scenario's faults; a member's lasts the scenario's FaultFor.
func TestLeaderDiskStallsOutlastTheElectionTimeout(t *testing.T) {
	const electionTimeout = 500 * time.Millisecond // the harness' default
	sc := Scenario{Name: "t", Injectors: []string{StallLeaderDisk, StallDisk}, FaultFor: 100 * time.Millisecond}.withDefaults()
	sch := NewSchedule(sc, 1, 2*time.Minute)
	seen := map[string]bool{}
	for _, st := range sch {
		seen[st.Injector] = true
		if st.Injector == StallLeaderDisk {
			require.GreaterOrEqual(t, st.For, 4*electionTimeout, "%v", st)
		} else {
			require.Less(t, st.For, 4*electionTimeout, "%v", st)
		}
	}
	require.Len(t, seen, 2, "both injectors are scheduled")
}

// A nemesis stopped in the middle of a disk stall releases the disk and
// records the stall's end.
func TestNemesisReleasesAStalledDiskWhenCancelled(t *testing.T) {
	env := newFakeEnv()
	_, events := cancelMidFault(t, env, StallLeaderDisk, func(*Nemesis) bool { return env.cluster.healthy() == "[member 2's disk stalled]" })
	assert.Equal(t, "[]", env.healthy())
	require.Len(t, events, 2)
	assert.Equal(t, history.PhaseEnd, events[1].Phase)
	assert.Equal(t, []string{"stall disk 2", "unstall disk 2"}, env.cluster.Calls())
}
