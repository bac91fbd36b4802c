package leakcheck

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFindWaitsForGoroutinesOnTheirWayOut(t *testing.T) {
	go time.Sleep(200 * time.Millisecond)
	require.NoError(t, find(Grace))
}

func TestFindReportsAGoroutineThatStays(t *testing.T) {
	stay := make(chan struct{})
	go func() { <-stay }()
	err := find(300 * time.Millisecond)
	require.Error(t, err)
	require.Contains(t, err.Error(), "TestFindReportsAGoroutineThatStays")
	close(stay)
	require.NoError(t, find(Grace))
}
