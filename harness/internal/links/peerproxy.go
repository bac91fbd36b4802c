package links

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// senderHeader is set by rafthttp on every stream, pipeline and snapshot
// request to the hex ID of the sending member.
const senderHeader = "X-Server-From"

// PeerProxy sits in front of one member's peer listener; its address is the
// member's advertised peer URL, so all peer traffic to the member passes
// through it. It attributes each request to the member that sent it and
// applies the link table to the pair (sender, member):
//
//   - requests over a cut link are aborted (the connection is closed without
//     a response), and live requests are aborted when their link is cut;
//   - a request body (sender -> member) is delayed by the latency of that
//     direction; a response body (member -> sender, which is how rafthttp
//     streams carry messages) is delayed chunk by chunk, in order.
//
// Because every rafthttp connection carries the sender header of its dialer
// and is checked at the dialed member's proxy, cutting a pair at both
// members' proxies stops traffic in both directions while other links keep
// working. Lease keep-alives that a follower forwards to the leader (/leases)
// have no sender header; they are attributed to the member whose harness
// client granted the lease (see Leases). Requests that cannot be
// attributed pass: version and probing requests, forwarded LeaseTimeToLive
// queries (/leases/internal, sent by the member of the asking client, which
// the body does not tell), and keep-alives of leases no harness client
// granted.
type PeerProxy struct {
	member int
	links  *Table
	leases *Leases
	sender map[uint64]int // member ID -> member number
	target func() (string, error)

	ln        net.Listener
	srv       *http.Server
	rp        *httputil.ReverseProxy
	transport *http.Transport

	mu       sync.Mutex
	live     map[*liveRequest]struct{}
	closed   bool
	handlers sync.WaitGroup
	pumps    sync.WaitGroup
}

type liveRequest struct {
	sender int
	cancel context.CancelFunc
}

// NewPeerProxy listens on a free 127.0.0.1 port for the peer traffic of
// member; call Serve to start.
func NewPeerProxy(member int, links *Table, leases *Leases, target func() (string, error)) (*PeerProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for peer proxy of member %d: %w", member, err)
	}
	p := &PeerProxy{
		member: member,
		links:  links,
		leases: leases,
		target: target,
		ln:     ln,
		live:   map[*liveRequest]struct{}{},
	}
	p.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		FlushInterval:  -1,
		ErrorLog:       log.New(io.Discard, "", 0),
		ErrorHandler:   func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
		ModifyResponse: p.modifyResponse,
	}
	p.srv = &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	links.Subscribe(p.enforce)
	return p, nil
}

// SetSenders installs the member ID -> member number map; call before Serve.
func (p *PeerProxy) SetSenders(ids map[uint64]int) { p.sender = ids }

// Serve starts serving peer requests.
func (p *PeerProxy) Serve() {
	p.handlers.Add(1)
	go func() {
		defer p.handlers.Done()
		_ = p.srv.Serve(p.ln)
	}()
}

// URL is the member's advertised peer URL.
func (p *PeerProxy) URL() string { return "http://" + p.ln.Addr().String() }

type senderKey struct{}

func (p *PeerProxy) rewrite(pr *httputil.ProxyRequest) {
	addr, err := p.target()
	if err != nil {
		addr = "127.0.0.1:1" // member down: the dial fails and the request aborts
	}
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = addr
	pr.Out.Host = pr.In.Host
}

func (p *PeerProxy) modifyResponse(resp *http.Response) error {
	sender, _ := resp.Request.Context().Value(senderKey{}).(int)
	member := p.member
	delay := func() time.Duration { return p.links.Delay(member, sender) }
	deliver := func(n int) bool { return p.links.Deliver(member, sender, n) }
	resp.Body = newDelayReader(resp.Body, delay, deliver, &p.pumps)
	return nil
}

// ServeHTTP attributes, filters, delays and forwards one peer request.
func (p *PeerProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	sender := p.senderOf(r, body)
	lr, ctx, ok := p.admit(r.Context(), sender)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	defer p.release(lr)
	if body != nil {
		if !Sleep(ctx, p.links.Delay(sender, p.member)) || !p.links.Deliver(sender, p.member, len(body)) {
			panic(http.ErrAbortHandler)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, senderKey{}, sender)))
}

// readBody reads the whole request body (peer request bodies are single raft
// messages, snapshots or lease requests); nil if the request has none.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

// senderOf returns the member that sent r, or 0 if unknown.
func (p *PeerProxy) senderOf(r *http.Request, body []byte) int {
	if h := r.Header.Get(senderHeader); h != "" {
		id, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0
		}
		return p.sender[id]
	}
	if id, ok := forwardedKeepAlive(r.URL.Path, body); ok {
		return p.leases.Member(id)
	}
	return 0
}

// admit registers a live request if its link is up.
func (p *PeerProxy) admit(parent context.Context, sender int) (*liveRequest, context.Context, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.links.Connected(sender, p.member) {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	lr := &liveRequest{sender: sender, cancel: cancel}
	p.live[lr] = struct{}{}
	p.handlers.Add(1)
	return lr, ctx, true
}

func (p *PeerProxy) release(lr *liveRequest) {
	lr.cancel()
	p.mu.Lock()
	delete(p.live, lr)
	p.mu.Unlock()
	p.handlers.Done()
}

// enforce aborts live requests whose link is now cut.
func (p *PeerProxy) enforce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for lr := range p.live {
		if !p.links.Connected(lr.sender, p.member) {
			lr.cancel()
		}
	}
}

// AbortAll aborts every live request and drops idle connections to the
// member (used when the member stops).
func (p *PeerProxy) AbortAll() {
	p.mu.Lock()
	for lr := range p.live {
		lr.cancel()
	}
	p.mu.Unlock()
	p.transport.CloseIdleConnections()
}

// Close stops the proxy, aborts live requests and waits for its goroutines.
func (p *PeerProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for lr := range p.live {
		lr.cancel()
	}
	p.mu.Unlock()
	err := p.srv.Close()
	p.handlers.Wait()
	p.transport.CloseIdleConnections()
	p.pumps.Wait()
	return err
}

// Sleep sleeps for d; it returns false if ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
