package links

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPartitionGroups(t *testing.T) {
	lt := NewTable(5)
	require.NoError(t, lt.Partition([][]int{{1, 2}, {3, 4, 5}}))
	assert.True(t, lt.Connected(1, 2))
	assert.True(t, lt.Connected(3, 5))
	assert.False(t, lt.Connected(1, 3))
	assert.False(t, lt.Connected(5, 2))
	assert.Equal(t, [][2]int{{1, 3}, {1, 4}, {1, 5}, {2, 3}, {2, 4}, {2, 5}}, lt.CutLinks())

	// A new partition replaces the old one; unlisted members are alone.
	require.NoError(t, lt.Partition([][]int{{1, 3}}))
	assert.True(t, lt.Connected(1, 3))
	assert.False(t, lt.Connected(1, 2))
	assert.False(t, lt.Connected(4, 5))
	assert.False(t, lt.Connected(2, 4))

	lt.Heal()
	assert.Empty(t, lt.CutLinks())
	assert.True(t, lt.Connected(2, 4))
}

func TestPartitionRejectsBadGroups(t *testing.T) {
	lt := NewTable(3)
	assert.Error(t, lt.Partition([][]int{{1, 4}}))
	assert.Error(t, lt.Partition([][]int{{0}}))
	assert.Error(t, lt.Partition([][]int{{1, 2}, {2, 3}}))
	assert.Empty(t, lt.CutLinks(), "a rejected partition changes nothing")
	assert.Error(t, lt.SetCut(1, 1, true))
	assert.Error(t, lt.SetLatency(1, 4, time.Second))
	assert.Error(t, lt.SetLatency(1, 2, -time.Second))
}

func TestDownMemberIsCutFromEveryone(t *testing.T) {
	lt := NewTable(3)
	notified := 0
	lt.Subscribe(func() { notified++ })
	lt.SetDown(2, true)
	assert.Equal(t, 1, notified)
	assert.False(t, lt.Connected(1, 2))
	assert.False(t, lt.Connected(2, 3))
	assert.False(t, lt.Connected(0, 2), "unattributed traffic to a down member is cut")
	assert.True(t, lt.Connected(1, 3))
	assert.True(t, lt.Connected(0, 1), "unattributed traffic passes")
	lt.Heal()
	assert.False(t, lt.Connected(1, 2), "heal does not revive a down member")
	lt.SetDown(2, false)
	assert.True(t, lt.Connected(1, 2))
}

func TestLatencyIsDirectional(t *testing.T) {
	lt := NewTable(3)
	require.NoError(t, lt.SetLatency(1, 2, 30*time.Millisecond))
	assert.Equal(t, 30*time.Millisecond, lt.Delay(1, 2))
	assert.Zero(t, lt.Delay(2, 1))
	lt.Heal()
	assert.Zero(t, lt.Delay(1, 2))
}
