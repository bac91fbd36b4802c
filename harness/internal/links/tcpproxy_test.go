package links

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer echoes every line back until closed.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newTestProxy(t *testing.T, target string) *TCPProxy {
	t.Helper()
	p, err := NewTCPProxy(func() (string, error) { return target, nil })
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func dialProxy(t *testing.T, p *TCPProxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends a line and returns the echoed line and how long it took.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := c.Write([]byte(line + "\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	return got[:len(got)-1], time.Since(start)
}

func TestTCPProxyLatency(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	got, _ := roundTrip(t, c, r, "hello")
	assert.Equal(t, "hello", got)

	p.SetLatency(50 * time.Millisecond)
	got, took := roundTrip(t, c, r, "slow")
	assert.Equal(t, "slow", got)
	assert.GreaterOrEqual(t, took, 100*time.Millisecond, "50ms each way")

	p.Heal()
	got, _ = roundTrip(t, c, r, "fast")
	assert.Equal(t, "fast", got)
}

func TestTCPProxyLatencyKeepsOrder(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t, echoServer(t))
	p.SetLatency(20 * time.Millisecond)
	c, r := dialProxy(t, p)
	for i := 0; i < 20; i++ {
		_, err := c.Write([]byte{byte('a' + i), '\n'})
		require.NoError(t, err)
	}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	for i := 0; i < 20; i++ {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, string([]byte{byte('a' + i), '\n'}), line)
	}
}

func TestTCPProxyPauseHoldsBytes(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	roundTrip(t, c, r, "warm")

	p.gate.pause()
	_, err := c.Write([]byte("held\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = r.ReadString('\n')
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "paused link must not deliver: %v", err)

	p.gate.unpause()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "held\n", line, "bytes wait, they are not dropped")
}

// TestTCPProxyHoldAnswers: with answers held, a request still reaches
// upstream, but its answer waits until the answers are released.
func TestTCPProxyHoldAnswers(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	received := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			received <- line
			if _, err := c.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	p := newTestProxy(t, ln.Addr().String())
	t.Cleanup(func() { _ = ln.Close(); <-done })
	c, r := dialProxy(t, p)
	roundTrip(t, c, r, "warm")
	<-received

	p.HoldAnswers()
	_, err = c.Write([]byte("unanswered\n"))
	require.NoError(t, err)
	select {
	case line := <-received:
		assert.Equal(t, "unanswered\n", line, "the request reaches upstream")
	case <-time.After(5 * time.Second):
		t.Fatal("a request must reach upstream while answers are held")
	}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = r.ReadString('\n')
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a held answer must not be delivered: %v", err)

	p.ReleaseAnswers()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "unanswered\n", line, "held answers wait, they are not dropped")
}

// recordingEcho echoes lines like echoServer and also reports every line it
// receives and how many connections it accepted.
func recordingEcho(t *testing.T) (addr string, received <-chan string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lines := make(chan string, 64)
	accepted = &atomic.Int32{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					select {
					case lines <- line:
					default:
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), lines, accepted
}

// requireSilent checks that nothing arrives on r for a while and that the
// connection stays open: a read times out rather than failing.
func requireSilent(t *testing.T, c net.Conn, r *bufio.Reader, what string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err := r.ReadString('\n')
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%s: no answer and no close expected, got %v", what, err)
}

// requireReset checks that the connection fails (is reset or closed) rather
// than staying silent.
func requireReset(t *testing.T, c net.Conn, r *bufio.Reader, what string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := r.ReadString('\n')
	var ne net.Error
	require.Error(t, err, what)
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "%s: reset expected, not silence: %v", what, err)
}

// TestTCPProxyHang: a hung link accepts connections and never answers:
// neither a live connection's bytes nor a new connection reach upstream,
// and nothing is closed. Unhang resets every connection that lived through
// the hang, without delivering what it held, and new connections work.
func TestTCPProxyHang(t *testing.T) {
	t.Parallel()
	addr, received, accepted := recordingEcho(t)
	p := newTestProxy(t, addr)
	live, liveR := dialProxy(t, p)
	got, _ := roundTrip(t, live, liveR, "warm")
	require.Equal(t, "warm", got)
	require.Equal(t, "warm\n", <-received)

	p.Hang()
	_, err := live.Write([]byte("stuck\n"))
	require.NoError(t, err)
	requireSilent(t, live, liveR, "a live connection through a hung link")

	fresh, freshR := dialProxy(t, p) // the port still accepts
	_, err = fresh.Write([]byte("unheard\n"))
	require.NoError(t, err)
	requireSilent(t, fresh, freshR, "a new connection to a hung link")
	assert.Equal(t, int32(1), accepted.Load(), "a connection accepted while hung is never forwarded")
	select {
	case line := <-received:
		t.Fatalf("upstream received %q through a hung link", line)
	default:
	}

	p.Unhang()
	requireReset(t, live, liveR, "a connection that lived through the hang")
	requireReset(t, fresh, freshR, "a connection accepted while hung")
	after, afterR := dialProxy(t, p)
	got, _ = roundTrip(t, after, afterR, "after")
	assert.Equal(t, "after", got)
	assert.Equal(t, "after\n", <-received, "what the hung connections held is dropped, not delivered late")

	// Heal ends a hang too, and Close releases held connections.
	p.Hang()
	_, _ = dialProxy(t, p)
	p.Heal()
	healed, healedR := dialProxy(t, p)
	got, _ = roundTrip(t, healed, healedR, "healed")
	assert.Equal(t, "healed", got)
	p.Hang()
	held, heldR := dialProxy(t, p)
	_, err = held.Write([]byte("x\n"))
	require.NoError(t, err)
	requireSilent(t, held, heldR, "hung again")
	require.NoError(t, p.Close())
	requireReset(t, held, heldR, "a held connection when the proxy closes")
}

func TestTCPProxyCut(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	roundTrip(t, c, r, "before")

	p.SetCut(true)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := r.ReadString('\n')
	require.Error(t, err, "live connection is closed by the cut")

	requireRefused(t, p)

	p.SetCut(false)
	c3, r3 := dialProxy(t, p)
	got, _ := roundTrip(t, c3, r3, "after")
	assert.Equal(t, "after", got)
}

func TestTCPProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	p, err := NewTCPProxy(func() (string, error) { return "", errors.New("down") })
	require.NoError(t, err)
	defer p.Close()
	requireRefused(t, p)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
}

// requireRefused checks that a connection through p fails: the proxy resets
// it right away, which the dial or the first read reports.
func requireRefused(t *testing.T, p *TCPProxy) {
	t.Helper()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		return
	}
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _ = c.Write([]byte("x\n"))
	_, err = bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	require.Error(t, err, "connection must be refused")
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "refused, not hanging: %v", err)
}
