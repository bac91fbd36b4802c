package member

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	if lo-pickFloor < 1000 {
		t.Skipf("ephemeral range starts at %d: no room below it", lo)
	}
	addrs, err := FreePorts(8)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, a := range addrs {
		require.False(t, seen[a], "%s picked twice", a)
		seen[a] = true
		host, p, err := net.SplitHostPort(a)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
		port, err := strconv.Atoi(p)
		require.NoError(t, err)
		require.GreaterOrEqual(t, port, pickFloor)
		require.Less(t, port, lo)
		ln, err := net.Listen("tcp", a)
		require.NoError(t, err, "a picked port is free again")
		require.NoError(t, ln.Close())
	}
}
