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
// still go through) and delay it (each chunk is held for the latency).
type TCPProxy struct {
	ln     net.Listener
	target func() (string, error)
	dial   DialFunc

	gate    gate
	answers gate // holds only what upstream sends back

	mu      sync.Mutex
	cut     bool
	latency time.Duration
	conns   map[*linkConn]struct{}
	closed  bool

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
	p := &TCPProxy{ln: ln, target: target, dial: dial, conns: map[*linkConn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop()
	}()
	return p, nil
}

// URL is the http URL clients use to reach the upstream through this proxy.
func (p *TCPProxy) URL() string { return "http://" + p.ln.Addr().String() }

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
	p.mu.Unlock()
	if refuse {
		resetConn(down)
		return
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
	toUp := newDelayReader(lc.down, p.delay, nil, &inner, &p.gate)
	toDown := newDelayReader(lc.up, p.delay, nil, &inner, &p.gate, &p.answers)
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

// CloseConns closes every live connection; new ones are still accepted
// unless the proxy is cut or closed.
func (p *TCPProxy) CloseConns() {
	p.mu.Lock()
	conns := make([]*linkConn, 0, len(p.conns))
	for lc := range p.conns {
		conns = append(conns, lc)
	}
	p.mu.Unlock()
	for _, lc := range conns {
		lc.close()
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

// Heal restores the link: not cut, not paused, answers not held, no
// latency.
func (p *TCPProxy) Heal() {
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
	p.wg.Wait()
	return err
}
