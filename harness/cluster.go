package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/diskstall"
	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// ErrClosed is returned by operations on a closed cluster.
var ErrClosed = errors.New("cluster closed")

// maxWait bounds waits whose context has no deadline.
const maxWait = time.Minute

// Cluster is a running etcd cluster with controllable links. Its methods are
// safe for concurrent use.
type Cluster struct {
	cfg     Config
	members memberRuntime
	net     network
	logger  *zap.Logger
	dir     string
	ownDir  bool
	links   *links.Table
	leases  *links.Leases
	slots   []*slot // slots[i-1] is member i

	opMu sync.Mutex // serializes Kill, Restart and Close

	mu         sync.Mutex
	clients    map[*Client]struct{}
	nextClient int
	closed     bool
	// hung are the members whose client ports hang (HangClientPort).
	hung map[int]bool
}

// slot holds everything about one member that outlives its process.
type slot struct {
	spec  member.Spec
	id    uint64
	front *links.TCPProxy
	m     member.Member // nil while stopped; guarded by Cluster.mu
	// paused is set while the member's process is stopped by PauseMember;
	// guarded by Cluster.mu.
	paused bool
	// disk is the mount of the member's data directory when the cluster
	// has stallable disks; guarded by Cluster.mu.
	disk *diskstall.Disk
}

// startWith starts a cluster whose members are run by rt.
func startWith(ctx context.Context, cfg Config, rt memberRuntime) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := boundCtx(ctx)
	defer cancel()
	c := &Cluster{
		cfg:     cfg,
		members: rt,
		links:   links.NewTable(cfg.Members),
		leases:  links.NewLeases(),
		clients: map[*Client]struct{}{},
		hung:    map[int]bool{},
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start cluster: %w", err), c.Close())
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	var err error
	if c.logger, err = c.cfg.logger(); err != nil {
		return err
	}
	if c.dir, c.ownDir, err = c.cfg.dataDir(c.logger); err != nil {
		return err
	}
	if c.net, err = newNetwork(c.cfg, c.members, c.links, c.leases); err != nil {
		return err
	}
	if err := c.makeSlots(); err != nil {
		return err
	}
	if c.cfg.StallableDisks {
		if err := c.mountDisks(); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range c.slots {
		g.Go(func() error { return c.startMember(gctx, i+1) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.waitHealthy(ctx)
}

// makeSlots creates every member's proxies and identity.
func (c *Cluster) makeSlots() error {
	n := c.cfg.Members
	token := fmt.Sprintf("etcdchaos-%d", time.Now().UnixNano())
	var initial, peerURLs []string
	for i := 1; i <= n; i++ {
		s := &slot{}
		c.slots = append(c.slots, s)
		peerURL, err := c.net.addMember(i, c.addrOf(i, member.Member.PeerAddr))
		if err != nil {
			return err
		}
		if s.front, err = links.NewTCPProxyVia(c.addrOf(i, member.Member.ClientAddr), c.net.dialer(i)); err != nil {
			return err
		}
		name := fmt.Sprintf("m%d", i)
		initial = append(initial, name+"="+peerURL)
		peerURLs = append(peerURLs, peerURL)
	}
	senders := map[uint64]int{}
	for i, s := range c.slots {
		name := fmt.Sprintf("m%d", i+1)
		urls, err := types.NewURLs([]string{peerURLs[i]})
		if err != nil {
			return fmt.Errorf("peer url of %s: %w", name, err)
		}
		s.id = uint64(membership.NewMember(name, urls, token, nil).ID)
		senders[s.id] = i + 1
		s.spec = member.Spec{
			Index:          i + 1,
			Name:           name,
			ID:             s.id,
			Dir:            filepath.Join(c.dir, name),
			PeerURL:        peerURLs[i],
			ClientURL:      s.front.URL(),
			InitialCluster: strings.Join(initial, ","),
			Token:          token,
			TickMs:         c.cfg.TickMs,
			ElectionMs:     c.cfg.ElectionMs,
			Logger:         c.logger.With(zap.String("member", name)),

			LeaseCheckpoint: c.cfg.LeaseCheckpoint,
		}
		if !c.ownDir {
			if _, err := os.Stat(s.spec.Dir); err == nil {
				return fmt.Errorf("member dir %s already exists", s.spec.Dir)
			}
		}
	}
	c.net.serve(senders)
	return nil
}

// addrOf returns a function giving the current address of one of member i's
// real listeners, or an error while the member is stopped.
func (c *Cluster) addrOf(i int, which func(member.Member) string) func() (string, error) {
	return func() (string, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		m := c.slots[i-1].m
		if m == nil {
			return "", fmt.Errorf("member %d is not running", i)
		}
		return which(m), nil
	}
}

// startMember starts member i and waits until it has joined the cluster.
func (c *Cluster) startMember(ctx context.Context, i int) error {
	s := c.slots[i-1]
	m, err := c.members.start(ctx, &s.spec)
	if err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		s.m = m
	}
	c.mu.Unlock()
	if closed {
		m.Kill()
		return ErrClosed
	}
	if m.ID() != s.id {
		return fmt.Errorf("member %d has id %x, expected %x", i, m.ID(), s.id)
	}
	c.links.SetDown(i, false)
	select {
	case <-m.Ready():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("member %d not ready: %w", i, ctx.Err())
	}
}

// waitHealthy waits for a leader and a linearizable read through each member.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	if _, err := c.WaitLeader(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range c.slots {
		g.Go(func() error { return c.waitServing(gctx, i+1) })
	}
	return g.Wait()
}

func (c *Cluster) waitServing(ctx context.Context, i int) error {
	tick := time.Duration(c.cfg.TickMs) * time.Millisecond
	for {
		m := c.running(i)
		if m == nil {
			return fmt.Errorf("member %d is not running", i)
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Duration(c.cfg.ElectionMs)*time.Millisecond)
		err := m.Check(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if !links.Sleep(ctx, tick) {
			return fmt.Errorf("member %d not serving: %w", i, errors.Join(err, ctx.Err()))
		}
	}
}

// running returns member i's process, or nil if it is stopped or invalid.
func (c *Cluster) running(i int) member.Member {
	if i < 1 || i > len(c.slots) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slots[i-1].m
}

// Size is the number of members (of endpoints in ModeExternal).
func (c *Cluster) Size() int { return c.cfg.Members }

// Mode is how the members run: ModeEmbedded, ModeProcess or ModeExternal.
func (c *Cluster) Mode() string { return c.cfg.Mode }

// ElectionTimeout is the members' election timeout; 0 for a cluster the
// harness did not start, whose timeout it does not know.
func (c *Cluster) ElectionTimeout() time.Duration {
	if c.cfg.Mode == ModeExternal {
		return 0
	}
	return time.Duration(c.cfg.ElectionMs) * time.Millisecond
}

// Endpoints are the client URLs of the members (index 0 is member 1). They
// reach the members through pass-through links that faults never touch,
// except that Kill closes their connections; they stay valid across Restart.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.slots))
	for i, s := range c.slots {
		out[i] = s.front.URL()
	}
	return out
}

// PeerURL is the advertised peer URL of member i (its peer proxy).
func (c *Cluster) PeerURL(i int) string {
	if i < 1 || i > len(c.slots) {
		return ""
	}
	return c.slots[i-1].spec.PeerURL
}

// MemberID is the etcd member ID of member i (0 if out of range).
func (c *Cluster) MemberID(i int) uint64 {
	if i < 1 || i > len(c.slots) {
		return 0
	}
	return c.slots[i-1].id
}

// IsRunning reports whether member i is running (not killed).
func (c *Cluster) IsRunning(i int) bool { return c.running(i) != nil }

// DataDir is the data directory of member i.
func (c *Cluster) DataDir(i int) string {
	if i < 1 || i > len(c.slots) {
		return ""
	}
	return c.slots[i-1].spec.Dir
}

func (c *Cluster) member(i int) (member.Member, error) {
	if i < 1 || i > len(c.slots) {
		return nil, fmt.Errorf("member %d out of range 1..%d", i, len(c.slots))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	m := c.slots[i-1].m
	if m == nil {
		return nil, fmt.Errorf("member %d is not running", i)
	}
	return m, nil
}

// Leader is the current leader: among running members that consider
// themselves leader, the one with the highest term; 0 if there is none. In
// ModeExternal it is the endpoint of the leader that the endpoints report
// (by Status), 0 if the leader is none of the endpoints.
func (c *Cluster) Leader() int {
	leader, _ := c.leader()
	return leader
}

// WaitLeader waits until a leader is acknowledged by a quorum of members (in
// its term) and returns it. Right after a partition the old leader may still
// be acknowledged until the members notice; wait for a specific side with
// Leader if that matters. In ModeExternal it waits until an endpoint knows
// a leader and returns it as Leader does (possibly 0).
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	ctx, cancel := boundCtx(ctx)
	defer cancel()
	tick := time.Duration(c.cfg.TickMs) * time.Millisecond
	for {
		if l, settled := c.leader(); settled {
			return l, nil
		}
		if !links.Sleep(ctx, tick/2) {
			return 0, fmt.Errorf("wait for leader: %w", ctx.Err())
		}
	}
}

// leader asks the member runtime for the leader among the members' current
// raft views.
func (c *Cluster) leader() (leader int, settled bool) {
	running := make([]member.Member, len(c.slots))
	ids := make([]uint64, len(c.slots))
	for i, s := range c.slots {
		running[i] = c.running(i + 1)
		ids[i] = s.id
	}
	return c.members.leader(running, ids)
}

// Close closes every client, stops every member and proxy and removes the
// data directory if the cluster created it. It is idempotent and safe on a
// cluster whose start failed.
func (c *Cluster) Close() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	clients := make([]*Client, 0, len(c.clients))
	for cl := range c.clients {
		clients = append(clients, cl)
	}
	c.mu.Unlock()

	var errs []error
	for _, cl := range clients {
		errs = append(errs, cl.close())
	}
	c.stopMembers()
	for _, s := range c.slots {
		if s.front != nil {
			errs = append(errs, ignoreClosed(s.front.Close()))
		}
	}
	if c.net != nil {
		errs = append(errs, c.net.close())
	}
	errs = append(errs, c.unmountDisks())
	if c.ownDir && c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove data dir: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close cluster: %w", err)
	}
	return nil
}

// stopMembers disconnects and kills every running member, in parallel.
func (c *Cluster) stopMembers() {
	var ms []member.Member
	c.mu.Lock()
	for _, s := range c.slots {
		ms = append(ms, s.m)
		s.m = nil
	}
	c.mu.Unlock()
	for i, m := range ms {
		if m != nil {
			c.disconnect(i + 1)
		}
		if c.slots[i].disk != nil {
			// A process waiting on its disk would die only once released.
			c.unstallDisk(i + 1)
		}
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		if m != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.Kill()
			}()
		}
	}
	wg.Wait()
}

func ignoreClosed(err error) error {
	if err == nil || strings.Contains(err.Error(), "use of closed network connection") {
		return nil
	}
	return err
}

// boundCtx gives ctx a deadline of maxWait if it has none.
func boundCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, maxWait)
}
