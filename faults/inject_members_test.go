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

// A leader pause freezes whichever member leads when it fires, records a
// member pause of that member and continues it when healed.
func TestPauseLeaderPausesTheCurrentLeader(t *testing.T) {
	for _, leader := range []int{2, 3} {
		env := newFakeEnv()
		env.cluster.leader = leader
		events := runOne(t, env.Env, PauseLeader, 1)
		require.Len(t, events, 2)
		assert.Equal(t, history.KindPauseMember, events[0].Fault)
		assert.Equal(t, leader, events[0].Member)
		assert.Equal(t, "leader "+strconv.Itoa(leader)+" paused (SIGSTOP)", events[0].Detail)
		assert.Equal(t, history.PhaseEnd, events[1].Phase)
		assert.Equal(t, leader, events[1].Member)
		assert.Equal(t, []string{"pause member " + strconv.Itoa(leader), "resume member " + strconv.Itoa(leader)}, env.cluster.Calls())
		assert.Equal(t, "[]", env.healthy())
	}
}

// Only member processes can be paused, and a leader pause needs a majority
// left to elect a new leader.
func TestPauseLeaderNeedsProcessesAndAMajorityLeft(t *testing.T) {
	embedded := newFakeEnv()
	embedded.cluster.mode = harness.ModeEmbedded
	assert.Empty(t, runOne(t, embedded.Env, PauseLeader, 0))
	assert.Empty(t, embedded.cluster.Calls())

	single := newFakeEnv()
	single.cluster.size, single.cluster.leader = 1, 1
	assert.Empty(t, runOne(t, single.Env, PauseLeader, 0))
	assert.Empty(t, single.cluster.Calls())
}

// A leader pause always outlasts the election timeout, however short the
// scenario's faults are.
func TestLeaderPausesOutlastTheElectionTimeout(t *testing.T) {
	const electionTimeout = 500 * time.Millisecond // the harness' default
	sc := Scenario{Name: "t", Injectors: []string{PauseLeader}}.withDefaults()
	for _, faultFor := range []time.Duration{sc.FaultFor, 100 * time.Millisecond} {
		sc.FaultFor = faultFor
		sch := NewSchedule(sc, 1, 2*time.Minute)
		require.NotEmpty(t, sch)
		for _, st := range sch {
			require.GreaterOrEqual(t, st.For, 4*electionTimeout, "%v", st)
		}
	}
}
