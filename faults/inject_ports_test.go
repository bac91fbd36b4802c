package faults

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

// A hung port is recorded on the member whose port hangs, marked as the
// leader's when it leads, and stays hung until the nemesis heals it, also
// when the run is cancelled in the middle.
func TestHangLeaderPortHangsUntilHealed(t *testing.T) {
	env := newFakeEnv()
	env.cluster.leader = 3
	_, events := cancelMidFault(t, env, HangLeaderPort, func(n *Nemesis) bool {
		if n.Applied()[HangLeaderPort] != 1 {
			return false
		}
		assert.Equal(t, "[client port of member 3 hung]", env.healthy(), "the leader's port hangs while the fault lasts")
		return true
	})
	assert.Equal(t, "[]", env.healthy())
	assert.Equal(t, []string{"hang client port 3", "unhang client port 3"}, env.cluster.Calls())
	require.Len(t, events, 2)
	assert.Equal(t, history.KindHangPort, events[0].Fault)
	assert.Equal(t, 3, events[0].Member)
	assert.True(t, events[0].Leader, "a hang of the leader's port says so")
	assert.Equal(t, history.PhaseEnd, events[1].Phase)
}

// A port hangs for at least two lease TTLs, however short the scenario's
// faults are, so that a client that does not go on through another member
// loses its lease.
func TestPortsHangBeyondTwoLeases(t *testing.T) {
	sc := Scenario{Name: "t", Injectors: []string{HangClientPort, HangLeaderPort}}.withDefaults()
	for _, faultFor := range []time.Duration{sc.FaultFor, 100 * time.Millisecond} {
		sc.FaultFor = faultFor
		sch := NewSchedule(sc, 1, 2*time.Minute)
		require.NotEmpty(t, sch)
		for _, st := range sch {
			require.GreaterOrEqual(t, st.For, 2*sc.LeaseTTL, "%v", st)
		}
	}
}
