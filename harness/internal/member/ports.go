package member

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Member ports are picked, then released and handed to etcd, which binds
// them again. They are picked below the kernel's ephemeral port range, so
// that in between no bind to port 0 and no outgoing connection, of this
// process or of another (parallel test packages, a soak next to a nightly),
// can take them: only another picker drawing the same port in the same
// instant could.

// pickFloor is the lowest port picked.
const pickFloor = 10000

// pickTries bounds the random draws before falling back to port 0.
const pickTries = 100

// ephemeralRange is where the kernel takes ports for binds to port 0 and
// outgoing connections.
const ephemeralRange = "/proc/sys/net/ipv4/ip_local_port_range"

// ephemeralLow returns the lowest ephemeral port, or 0 if unknown.
func ephemeralLow() int {
	data, err := os.ReadFile(ephemeralRange)
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0
	}
	return lo
}

// FreePorts returns n distinct 127.0.0.1 addresses that were free a moment
// ago, below the ephemeral range when there is room for them.
func FreePorts(n int) ([]string, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	lo := ephemeralLow()
	addrs := make([]string, 0, n)
	for len(addrs) < n {
		ln, err := listenFree(lo)
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// listenFree listens on a random free port in [pickFloor, lo), or on one the
// kernel picks if that range is too small or full.
func listenFree(lo int) (net.Listener, error) {
	if lo-pickFloor >= 1000 {
		for range pickTries {
			port := pickFloor + rand.IntN(lo-pickFloor)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				return ln, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}
