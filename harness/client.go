package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Client is an etcd client whose endpoints are links of its own: one link
// to one member (NewClient), or one to every member (NewClientAll). Faults
// on its links (IsolateClient, PauseClient, HoldClientAnswers,
// SetClientLatency) affect this client alone, on every link it has;
// HangClientPort acts on the links of every client to one member.
type Client struct {
	*clientv3.Client
	// ID numbers the cluster's clients from 1 in creation order.
	ID int
	// Member is the member this client talks to; 0 for a client of every
	// member.
	Member int

	cluster *Cluster
	links   map[int]*links.TCPProxy // by member
	once    sync.Once
	err     error
}

// Client timeouts: short enough that a cut link is noticed quickly, long
// enough for a busy machine.
const (
	clientDialTimeout      = 2 * time.Second
	clientKeepAliveTime    = 2 * time.Second
	clientKeepAliveTimeout = 2 * time.Second
)

// NewClient returns a client of member i that reaches it through a new link
// of its own. Leases it grants are attributed to member i (see LeaseMember).
// The cluster closes it on Close; closing it earlier is fine.
func (c *Cluster) NewClient(i int) (*Client, error) {
	if i < 1 || i > len(c.slots) {
		return nil, fmt.Errorf("new client of member %d: out of range 1..%d", i, len(c.slots))
	}
	cl, err := c.newClient(i, []int{i}, func(map[string]int) grpc.UnaryClientInterceptor { return c.leases.GrantInterceptor(i) })
	if err != nil {
		return nil, fmt.Errorf("new client of member %d: %w", i, err)
	}
	return cl, nil
}

// NewClientAll returns a client whose endpoints are new links of its own to
// every member, as applications configure etcd clients: gRPC's balancer
// spreads its requests over the members and leaves out one whose
// connection fails, so the client can go on through the others when a
// member stops answering. A lease it grants is attributed to the member
// its grant went to (see LeaseMember), although its keep-alives may later
// go through any member. The cluster closes it on Close; closing it
// earlier is fine.
func (c *Cluster) NewClientAll() (*Client, error) {
	cl, err := c.newClient(0, members(len(c.slots)), func(at map[string]int) grpc.UnaryClientInterceptor {
		return c.leases.GrantInterceptorByPeer(func(addr string) int { return at[addr] })
	})
	if err != nil {
		return nil, fmt.Errorf("new client of every member: %w", err)
	}
	return cl, nil
}

// members lists 1..n.
func members(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// newClient makes a client with one new link to each of the given members;
// grants builds its lease attribution from the links' addresses.
func (c *Cluster) newClient(member int, to []int, grants func(memberAt map[string]int) grpc.UnaryClientInterceptor) (*Client, error) {
	cl := &Client{Member: member, cluster: c, links: map[int]*links.TCPProxy{}}
	at := map[string]int{}
	var endpoints []string
	for _, i := range to {
		link, err := links.NewTCPProxyVia(c.addrOf(i, memberClientAddr), c.net.dialer(i))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("link to member %d: %w", i, err), cl.closeLinks())
		}
		cl.links[i] = link
		at[link.Addr()] = i
		endpoints = append(endpoints, link.URL())
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          clientDialTimeout,
		DialKeepAliveTime:    clientKeepAliveTime,
		DialKeepAliveTimeout: clientKeepAliveTimeout,
		Logger:               c.logger.Named("client"),
		DialOptions: append(staticWindows(),
			grpc.WithChainUnaryInterceptor(grants(at)),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
				MinConnectTimeout: clientDialTimeout,
			}),
		),
	})
	if err != nil {
		return nil, errors.Join(err, cl.closeLinks())
	}
	cl.Client = cli
	if !c.register(cl) {
		return nil, errors.Join(ErrClosed, cl.close())
	}
	return cl, nil
}

// staticWindows are the dial options that fix the clients' flow-control
// windows (member.StaticWindows).
func staticWindows() []grpc.DialOption { return member.StaticWindows() }

// memberClientAddr is the address of a member's real client listener.
func memberClientAddr(m member.Member) string { return m.ClientAddr() }

// register numbers cl and adds it to the cluster's clients unless the cluster
// is closed.
func (c *Cluster) register(cl *Client) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.nextClient++
	cl.ID = c.nextClient
	c.clients[cl] = struct{}{}
	for i, link := range cl.links {
		if c.hung[i] {
			link.Hang()
		}
	}
	return true
}

// Close closes the etcd client and its link. It is idempotent.
func (cl *Client) Close() error {
	err := cl.close()
	cl.cluster.mu.Lock()
	delete(cl.cluster.clients, cl)
	cl.cluster.mu.Unlock()
	return err
}

// close releases the client without touching the cluster's registry.
func (cl *Client) close() error {
	cl.once.Do(func() {
		err := cl.Client.Close()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		cl.err = errors.Join(err, cl.closeLinks())
	})
	return cl.err
}

func (cl *Client) closeLinks() error {
	var errs []error
	for _, link := range cl.links {
		errs = append(errs, ignoreClosed(link.Close()))
	}
	return errors.Join(errs...)
}

// eachLink applies f to every link of the client.
func (cl *Client) eachLink(f func(*links.TCPProxy)) {
	for _, link := range cl.links {
		f(link)
	}
}

// clientsOf lists the cluster's clients with a link to member i (all
// clients if i is 0).
func (c *Cluster) clientsOf(i int) []*Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Client
	for cl := range c.clients {
		if _, ok := cl.links[i]; i == 0 || ok {
			out = append(out, cl)
		}
	}
	return out
}

// own checks that cl is a live client of this cluster.
func (c *Cluster) own(cl *Client) error {
	if cl == nil {
		return errors.New("nil client")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.clients[cl]; !ok {
		return errors.New("not an open client of this cluster")
	}
	return nil
}

// IsolateClient cuts cl's link: live connections are reset and new ones
// refused until ReconnectClient or Heal.
func (c *Cluster) IsolateClient(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("isolate client: %w", err)
	}
	cl.eachLink(func(l *links.TCPProxy) { l.SetCut(true) })
	return nil
}

// ReconnectClient restores cl's link after IsolateClient.
func (c *Cluster) ReconnectClient(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("reconnect client: %w", err)
	}
	cl.eachLink(func(l *links.TCPProxy) { l.SetCut(false) })
	return nil
}

// PauseClient stalls cl's link in both directions without closing it: bytes
// wait until ResumeClient or Heal. (gRPC keepalive may give up on the
// connection after about 4 s of silence.)
func (c *Cluster) PauseClient(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("pause client: %w", err)
	}
	cl.eachLink((*links.TCPProxy).Pause)
	return nil
}

// ResumeClient lets the bytes of a paused client flow again.
func (c *Cluster) ResumeClient(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("resume client: %w", err)
	}
	cl.eachLink((*links.TCPProxy).Resume)
	return nil
}

// HoldClientAnswers holds everything cl's member sends back on cl's link
// until ReleaseClientAnswers or Heal, while cl's requests still reach the
// member: a write takes effect and its answer is lost to a client that gives
// up waiting, as when a response is dropped on its way back. (gRPC
// keepalive may give up on the connection after about 4 s without an
// answer.)
func (c *Cluster) HoldClientAnswers(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("hold client answers: %w", err)
	}
	cl.eachLink((*links.TCPProxy).HoldAnswers)
	return nil
}

// ReleaseClientAnswers lets the answers held on cl's link flow again.
func (c *Cluster) ReleaseClientAnswers(cl *Client) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("release client answers: %w", err)
	}
	cl.eachLink((*links.TCPProxy).ReleaseAnswers)
	return nil
}

// SetClientLatency delays every chunk on cl's link by d in each direction.
func (c *Cluster) SetClientLatency(cl *Client, d time.Duration) error {
	if err := c.own(cl); err != nil {
		return fmt.Errorf("set client latency: %w", err)
	}
	if d < 0 {
		return fmt.Errorf("set client latency: negative latency %v", d)
	}
	cl.eachLink(func(l *links.TCPProxy) { l.SetLatency(d) })
	return nil
}

// LeaseMember is the member of the harness client that granted lease id, 0 if
// no harness client granted it.
func (c *Cluster) LeaseMember(id clientv3.LeaseID) int { return c.leases.Member(int64(id)) }

// Dial returns a plain etcd client of member i through its Endpoints() URL,
// which faults do not touch: useful to observe the cluster. The caller closes
// it.
func (c *Cluster) Dial(i int) (*clientv3.Client, error) {
	if i < 1 || i > len(c.slots) {
		return nil, fmt.Errorf("dial member %d: out of range 1..%d", i, len(c.slots))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            []string{c.slots[i-1].front.URL()},
		DialTimeout:          clientDialTimeout,
		DialKeepAliveTime:    clientKeepAliveTime,
		DialKeepAliveTimeout: clientKeepAliveTimeout,
		Logger:               c.logger.Named("client"),
		DialOptions:          staticWindows(),
	})
	if err != nil {
		return nil, fmt.Errorf("dial member %d: %w", i, err)
	}
	return cli, nil
}
