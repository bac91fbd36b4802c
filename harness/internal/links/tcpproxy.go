package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// tcpProxy forwards TCP connections from its own 127.0.0.1 listener to an
// upstream address looked up per connection. It can cut the link (close live
// connections and reset new ones), pause it (bytes wait in both directions,
// nothing is closed) and delay it (each chunk is held for the latency).
type tcpProxy struct {
	ln     net.Listener
	target func() (string, error)
	dial   dialFunc

	gate gate

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

// dialFunc opens a TCP connection to addr (host:port).
type dialFunc func(ctx context.Context, addr string) (net.Conn, error)

// dialTCP dials addr from the harness's own network namespace.
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// newTCPProxy listens on a free 127.0.0.1 port and starts accepting; it
// dials upstream with dialTCP.
func newTCPProxy(target func() (string, error)) (*tcpProxy, error) {
	return newTCPProxyVia(target, dialTCP)
}

// newTCPProxyVia is newTCPProxy dialing upstream with dial.
func newTCPProxyVia(target func() (string, error), dial dialFunc) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for proxy: %w", err)
	}
	p := &tcpProxy{ln: ln, target: target, dial: dial, conns: map[*linkConn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop()
	}()
	return p, nil
}

// URL is the http URL clients use to reach the upstream through this proxy.
func (p *tcpProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) acceptLoop() {
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

func (p *tcpProxy) serve(down net.Conn) {
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
func (p *tcpProxy) pipe(lc *linkConn) {
	var inner sync.WaitGroup
	toUp := newDelayReader(lc.down, p.delay, &p.gate, nil, &inner)
	toDown := newDelayReader(lc.up, p.delay, &p.gate, nil, &inner)
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

func (p *tcpProxy) track(lc *linkConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return false
	}
	p.conns[lc] = struct{}{}
	return true
}

func (p *tcpProxy) untrack(lc *linkConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, lc)
}

func (p *tcpProxy) delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

// setCut cuts the link (closing live connections) or restores it.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	if cut {
		p.closeConns()
	}
}

func (p *tcpProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// setLatency sets the one-way delay applied to each direction.
func (p *tcpProxy) setLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// closeConns closes every live connection; new ones are still accepted
// unless the proxy is cut or closed.
func (p *tcpProxy) closeConns() {
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

// heal restores the link: not cut, not paused, no latency.
func (p *tcpProxy) heal() {
	p.mu.Lock()
	p.cut = false
	p.latency = 0
	p.mu.Unlock()
	p.gate.unpause()
}

// Close stops the listener, closes every connection and waits for all
// goroutines. It is safe to call more than once.
func (p *tcpProxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	var err error
	if !already {
		err = p.ln.Close()
	}
	p.gate.unpause()
	p.closeConns()
	p.wg.Wait()
	return err
}
