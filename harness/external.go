package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"golang.org/x/sync/errgroup"
)

// ErrNotSupported is returned by faults the cluster's mode cannot inject:
// member faults on an external cluster, pauses of embedded members.
var ErrNotSupported = errors.New("not supported in this cluster mode")

// errNotOwned fails member and link faults on an external cluster.
var errNotOwned = fmt.Errorf("%w (%s cluster: the harness does not own its members or peer links)", ErrNotSupported, ModeExternal)

// externalDefaults validates an external cluster's config.
func (cfg Config) externalDefaults() (Config, error) {
	if len(cfg.Endpoints) == 0 {
		return cfg, fmt.Errorf("invalid config: %s mode needs endpoints", ModeExternal)
	}
	if cfg.Members != 0 && cfg.Members != len(cfg.Endpoints) {
		return cfg, fmt.Errorf("invalid config: %d members but %d endpoints", cfg.Members, len(cfg.Endpoints))
	}
	for i, ep := range cfg.Endpoints {
		addr, err := endpointAddr(ep)
		if err != nil {
			return cfg, fmt.Errorf("invalid config: %w", err)
		}
		cfg.Endpoints[i] = addr
	}
	cfg.Members = len(cfg.Endpoints)
	if cfg.TickMs == 0 {
		cfg.TickMs = defaultTickMs
	}
	if cfg.ElectionMs == 0 {
		cfg.ElectionMs = defaultElectionMs
	}
	return cfg, nil
}

// endpointAddr turns "http://host:port" or "host:port" into host:port.
func endpointAddr(ep string) (string, error) {
	hostport := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		if u.Scheme != "http" {
			return "", fmt.Errorf("endpoint %q: only http endpoints are supported (no TLS)", ep)
		}
		hostport = u.Host
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return "", fmt.Errorf("endpoint %q: %w", ep, err)
	}
	return hostport, nil
}

// externalMember is a member of a cluster the harness did not start: it is
// only observed, through its Status.
type externalMember struct {
	addr   string
	status *member.Status
}

func (m *externalMember) PeerAddr() string       { return "" }
func (m *externalMember) ClientAddr() string     { return m.addr }
func (m *externalMember) Ready() <-chan struct{} { return m.status.Ready() }
func (m *externalMember) Check(ctx context.Context) error {
	return m.status.Check(ctx)
}

func (m *externalMember) ID() uint64 {
	id, _, _ := m.status.View()
	return id
}

func (m *externalMember) Lead() uint64 {
	_, lead, _ := m.status.View()
	return lead
}

func (m *externalMember) Term() uint64 {
	_, _, term := m.status.View()
	return term
}

func (m *externalMember) MoveLeader(context.Context, uint64) error { return ErrNotSupported }

// Kill only stops observing: the member is not the harness's to stop.
func (m *externalMember) Kill() { m.status.Close() }

// externalRuntime stands for the members of a cluster the harness did not
// start: it starts none and controls none.
type externalRuntime struct{}

func (externalRuntime) start(context.Context, *member.Spec) (member.Member, error) {
	return nil, errNotOwned
}

func (externalRuntime) control() error { return errNotOwned }

// leader is the endpoint whose member leads in the highest term any
// endpoint reports, 0 if it is not one of the endpoints; it is settled as
// soon as any endpoint knows a leader.
func (externalRuntime) leader(running []member.Member, ids []uint64) (int, bool) {
	var lead, term uint64
	for _, m := range running {
		if m != nil && m.Lead() != 0 && m.Term() >= term {
			lead, term = m.Lead(), m.Term()
		}
	}
	if lead == 0 {
		return 0, false
	}
	for i, id := range ids {
		if id == lead {
			return i + 1, true
		}
	}
	return 0, true
}

// externalNetwork stands for the peer links of a cluster the harness did not
// start: it reaches the endpoints from this namespace and cuts nothing.
type externalNetwork struct{}

func (externalNetwork) addMember(int, func() (string, error)) (string, error) {
	return "", errNotOwned
}
func (externalNetwork) serve(map[uint64]int)                     {}
func (externalNetwork) dialer(int) links.DialFunc                { return links.DialTCP }
func (externalNetwork) partition([][]int) error                  { return errNotOwned }
func (externalNetwork) cutLink(int, int) error                   { return errNotOwned }
func (externalNetwork) setLatency(int, int, time.Duration) error { return errNotOwned }
func (externalNetwork) heal() error                              { return nil }
func (externalNetwork) stopped(int)                              {}
func (externalNetwork) close() error                             { return nil }

// startExternal attaches to the cluster at cfg.Endpoints: a front door and
// a status poller per endpoint. It returns once every endpoint answered.
func startExternal(ctx context.Context, cfg Config) (*Cluster, error) {
	ctx, cancel := boundCtx(ctx)
	defer cancel()
	c := &Cluster{
		cfg:     cfg,
		members: externalRuntime{},
		net:     externalNetwork{},
		links:   links.NewTable(cfg.Members),
		leases:  links.NewLeases(),
		clients: map[*Client]struct{}{},
		hung:    map[int]bool{},
	}
	if err := c.attach(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("attach to cluster %v: %w", cfg.Endpoints, err), c.Close())
	}
	return c, nil
}

func (c *Cluster) attach(ctx context.Context) error {
	var err error
	if c.logger, err = c.cfg.logger(); err != nil {
		return err
	}
	for i, addr := range c.cfg.Endpoints {
		s := &slot{spec: member.Spec{Index: i + 1, Name: fmt.Sprintf("m%d", i+1), ClientURL: "http://" + addr}}
		c.slots = append(c.slots, s)
		if s.front, err = links.NewTCPProxyVia(c.addrOf(i+1, member.Member.ClientAddr), c.net.dialer(i+1)); err != nil {
			return err
		}
		p, err := member.NewStatus(addr, nil, c.logger)
		if err != nil {
			return err
		}
		c.mu.Lock()
		s.m = &externalMember{addr: addr, status: p}
		c.mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range c.slots {
		g.Go(func() error {
			select {
			case <-s.m.Ready():
				s.id = s.m.ID()
				return nil
			case <-gctx.Done():
				return fmt.Errorf("endpoint %s did not answer: %w", c.cfg.Endpoints[i], gctx.Err())
			}
		})
	}
	return g.Wait()
}
