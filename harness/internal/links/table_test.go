package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPartitionGroups(t *testing.T) {
	lt := newLinkTable(5)
	require.NoError(t, lt.partition([][]int{{1, 2}, {3, 4, 5}}))
	assert.True(t, lt.connected(1, 2))
	assert.True(t, lt.connected(3, 5))
	assert.False(t, lt.connected(1, 3))
	assert.False(t, lt.connected(5, 2))
	assert.Equal(t, [][2]int{{1, 3}, {1, 4}, {1, 5}, {2, 3}, {2, 4}, {2, 5}}, lt.cutLinks())

	// A new partition replaces the old one; unlisted members are alone.
	require.NoError(t, lt.partition([][]int{{1, 3}}))
	assert.True(t, lt.connected(1, 3))
	assert.False(t, lt.connected(1, 2))
	assert.False(t, lt.connected(4, 5))
	assert.False(t, lt.connected(2, 4))

	lt.heal()
	assert.Empty(t, lt.cutLinks())
	assert.True(t, lt.connected(2, 4))
}

func TestPartitionRejectsBadGroups(t *testing.T) {
	lt := newLinkTable(3)
	assert.Error(t, lt.partition([][]int{{1, 4}}))
	assert.Error(t, lt.partition([][]int{{0}}))
	assert.Error(t, lt.partition([][]int{{1, 2}, {2, 3}}))
	assert.Empty(t, lt.cutLinks(), "a rejected partition changes nothing")
	assert.Error(t, lt.setCut(1, 1, true))
	assert.Error(t, lt.setLatency(1, 4, time.Second))
	assert.Error(t, lt.setLatency(1, 2, -time.Second))
}

func TestDownMemberIsCutFromEveryone(t *testing.T) {
	lt := newLinkTable(3)
	notified := 0
	lt.subscribe(func() { notified++ })
	lt.setDown(2, true)
	assert.Equal(t, 1, notified)
	assert.False(t, lt.connected(1, 2))
	assert.False(t, lt.connected(2, 3))
	assert.False(t, lt.connected(0, 2), "unattributed traffic to a down member is cut")
	assert.True(t, lt.connected(1, 3))
	assert.True(t, lt.connected(0, 1), "unattributed traffic passes")
	lt.heal()
	assert.False(t, lt.connected(1, 2), "heal does not revive a down member")
	lt.setDown(2, false)
	assert.True(t, lt.connected(1, 2))
}

func TestLatencyIsDirectional(t *testing.T) {
	lt := newLinkTable(3)
	require.NoError(t, lt.setLatency(1, 2, 30*time.Millisecond))
	assert.Equal(t, 30*time.Millisecond, lt.delay(1, 2))
	assert.Zero(t, lt.delay(2, 1))
	lt.heal()
	assert.Zero(t, lt.delay(1, 2))
}
