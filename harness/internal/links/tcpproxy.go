package links

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TCPProxy forwards TCP connections from its own 127.0.0.1 listener to an
// upstream address looked up per connection. It can cut the link (close live
// connections and reset new ones), pause it (bytes wait in both directions,
// nothing is closed), hold its answers (bytes from upstream wait, requests
// still go through), hang it (connections are accepted and never answered,
// see Hang) and delay it (each chunk is held for the latency).
type TCPProxy struct {
	ln     net.Listener
	target func() (string, error)
	dial   DialFunc

	gate    gate
	answers gate // holds only what upstream sends back
	hung    gate // holds the bytes of connections that live through a hang

	mu      sync.Mutex
	cut     bool
	hang    bool
	latency time.Duration
	conns   map[*linkConn]struct{}
	// held are connections accepted while hung: never read, never
	// answered, never forwarded, until Unhang resets them.
	held   map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup
}

// linkConn is one proxied connection: the accepted side and the upstream side.
type linkConn struct {
	down, up net.Conn
	once     sync.Once
}

func (c *linkConn) close() {
	c.once.Do(func() {
		resetConn(c.down)
		resetConn(c.up)
	})
}

// resetConn closes c, with an RST for TCP connections so the peer sees the
// link fail at once.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// DialFunc opens a TCP connection to addr (host:port).
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// DialTCP dials addr from the harness's own network namespace.
func DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// NewTCPProxy listens on a free 127.0.0.1 port and starts accepting; it
// dials upstream with DialTCP.
func NewTCPProxy(target func() (string, error)) (*TCPProxy, error) {
	return NewTCPProxyVia(target, DialTCP)
}

// NewTCPProxyVia is NewTCPProxy dialing upstream with dial.
func NewTCPProxyVia(target func() (string, error), dial DialFunc) (*TCPProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for proxy: %w", err)
	}
	p := &TCPProxy{ln: ln, target: target, dial: dial, conns: map[*linkConn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop()
	}()
	return p, nil
}

// URL is the http URL clients use to reach the upstream through this proxy.
func (p *TCPProxy) URL() string { return "http://" + p.Addr() }

// Addr is the host:port the proxy listens on, which is what a client of it
// sees as its peer's address.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

func (p *TCPProxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // temporary accept error; the listener is still open
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *TCPProxy) serve(down net.Conn) {
	p.mu.Lock()
	refuse := p.cut || p.closed
	hold := !refuse && p.hang
	if hold {
		p.held[down] = struct{}{}
	}
	p.mu.Unlock()
	if refuse {
		resetConn(down)
		return
	}
	if hold {
		return // accepted, and left unanswered until Unhang
	}
	addr, err := p.target()
	if err != nil {
		resetConn(down)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	up, err := p.dial(ctx, addr)
	cancel()
	if err != nil {
		resetConn(down)
		return
	}
	lc := &linkConn{down: down, up: up}
	if !p.track(lc) {
		lc.close()
		return
	}
	defer p.untrack(lc)
	p.pipe(lc)
}

// pipe copies both directions until either side fails, then closes both.
func (p *TCPProxy) pipe(lc *linkConn) {
	var inner sync.WaitGroup
	toUp := newDelayReader(lc.down, p.delay, nil, &inner, &p.gate, &p.hung)
	toDown := newDelayReader(lc.up, p.delay, nil, &inner, &p.gate, &p.hung, &p.answers)
	done := make(chan struct{}, 2)
	inner.Add(2)
	go func() {
		defer inner.Done()
		_, _ = io.Copy(lc.up, toUp)
		done <- struct{}{}
	}()
	go func() {
		defer inner.Done()
		_, _ = io.Copy(lc.down, toDown)
		done <- struct{}{}
	}()
	<-done
	lc.close()
	toUp.Close()
	toDown.Close()
	inner.Wait()
}

func (p *TCPProxy) track(lc *linkConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return false
	}
	p.conns[lc] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(lc *linkConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, lc)
}

func (p *TCPProxy) delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

// SetCut cuts the link (closing live connections) or restores it.
func (p *TCPProxy) SetCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	if cut {
		p.CloseConns()
	}
}

func (p *TCPProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// SetLatency sets the one-way delay applied to each direction.
func (p *TCPProxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// CloseConns closes every live connection, held ones included; new ones
// are still accepted unless the proxy is cut or closed.
func (p *TCPProxy) CloseConns() {
	p.mu.Lock()
	conns, held := p.takeConns()
	p.mu.Unlock()
	closeAll(conns, held)
}

// takeConns lists every live connection and forgets the held ones; p.mu
// must be held.
func (p *TCPProxy) takeConns() ([]*linkConn, []net.Conn) {
	conns := make([]*linkConn, 0, len(p.conns))
	for lc := range p.conns {
		conns = append(conns, lc)
	}
	held := make([]net.Conn, 0, len(p.held))
	for c := range p.held {
		held = append(held, c)
	}
	clear(p.held)
	return conns, held
}

func closeAll(conns []*linkConn, held []net.Conn) {
	for _, lc := range conns {
		lc.close()
	}
	for _, c := range held {
		resetConn(c)
	}
}

// Pause holds every byte on the link, in both directions, until Resume or
// Heal; nothing is closed.
func (p *TCPProxy) Pause() { p.gate.pause() }

// Resume lets the bytes of a paused link flow again.
func (p *TCPProxy) Resume() { p.gate.unpause() }

// HoldAnswers holds every byte upstream sends back until ReleaseAnswers or
// Heal, while requests still reach upstream: a request takes effect and its
// answer is lost to a client that gives up waiting. Nothing is closed.
func (p *TCPProxy) HoldAnswers() { p.answers.pause() }

// ReleaseAnswers lets held answers flow again.
func (p *TCPProxy) ReleaseAnswers() { p.answers.unpause() }

// Hang makes the link a port that accepts and never answers, as a member
// whose client server is stuck: live connections stop carrying bytes in
// either direction, and new connections are accepted but never read,
// forwarded or answered. Nothing is closed, so a client notices only by its
// own timeouts and keepalives. Requests caught in a hang never reach
// upstream: Unhang resets every connection that lived through the hang
// instead of delivering what it held.
func (p *TCPProxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = true
	p.hung.pause()
}

// Unhang ends a hang: every connection that lived through it (held or hung)
// is reset, unsent bytes dropped, and new connections are forwarded again.
func (p *TCPProxy) Unhang() {
	p.mu.Lock()
	if !p.hang {
		p.mu.Unlock()
		return
	}
	p.hang = false
	conns, held := p.takeConns()
	p.mu.Unlock()
	// Reset before the gate opens, so that nothing held is delivered.
	closeAll(conns, held)
	p.hung.unpause()
}

// Heal restores the link: not cut, not paused, not hung, answers not held,
// no latency.
func (p *TCPProxy) Heal() {
	p.Unhang()
	p.mu.Lock()
	p.cut = false
	p.latency = 0
	p.mu.Unlock()
	p.gate.unpause()
	p.answers.unpause()
}

// Close stops the listener, closes every connection and waits for all
// goroutines. It is safe to call more than once.
func (p *TCPProxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	var err error
	if !already {
		err = p.ln.Close()
	}
	p.gate.unpause()
	p.answers.unpause()
	p.CloseConns()
	p.hung.unpause() // after the connections are closed: nothing held leaks
	p.wg.Wait()
	return err
}
