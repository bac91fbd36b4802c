package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"
)

// ErrNotSupported is returned by faults the cluster's mode cannot inject:
// member faults on an external cluster, pauses of embedded members.
var ErrNotSupported = errors.New("not supported in this cluster mode")

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
	status *statusPoller
}

func (m *externalMember) peerAddr() string       { return "" }
func (m *externalMember) clientAddr() string     { return m.addr }
func (m *externalMember) ready() <-chan struct{} { return m.status.ready() }
func (m *externalMember) check(ctx context.Context) error {
	return m.status.check(ctx)
}

func (m *externalMember) id() uint64 {
	id, _, _ := m.status.view()
	return id
}

func (m *externalMember) lead() uint64 {
	_, lead, _ := m.status.view()
	return lead
}

func (m *externalMember) term() uint64 {
	_, _, term := m.status.view()
	return term
}

func (m *externalMember) moveLeader(context.Context, uint64) error { return ErrNotSupported }

// kill only stops observing: the member is not the harness's to stop.
func (m *externalMember) kill() { m.status.close() }

// startExternal attaches to the cluster at cfg.Endpoints: a front door and
// a status poller per endpoint. It returns once every endpoint answered.
func startExternal(ctx context.Context, cfg Config) (*Cluster, error) {
	ctx, cancel := boundCtx(ctx)
	defer cancel()
	c := &Cluster{cfg: cfg, links: newLinkTable(cfg.Members), leases: newLeaseTable(), clients: map[*Client]struct{}{}}
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
		s := &slot{spec: memberSpec{index: i + 1, name: fmt.Sprintf("m%d", i+1), clientURL: "http://" + addr}}
		c.slots = append(c.slots, s)
		if s.front, err = newTCPProxy(c.addrOf(i+1, member.clientAddr)); err != nil {
			return err
		}
		p, err := newStatusPoller(addr, nil, c.logger)
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
			case <-s.m.ready():
				s.id = s.m.id()
				return nil
			case <-gctx.Done():
				return fmt.Errorf("endpoint %s did not answer: %w", c.cfg.Endpoints[i], gctx.Err())
			}
		})
	}
	return g.Wait()
}

// externalLeader is the endpoint whose member leads in the highest term any
// endpoint reports, 0 if it is not one of the endpoints; ok is false if no
// endpoint knows a leader.
func (c *Cluster) externalLeader() (leader int, ok bool) {
	var lead, term uint64
	for i := range c.slots {
		if m := c.running(i + 1); m != nil && m.lead() != 0 && m.term() >= term {
			lead, term = m.lead(), m.term()
		}
	}
	if lead == 0 {
		return 0, false
	}
	return c.memberOf(lead), true
}

// notSupported fails member faults on an external cluster.
func (c *Cluster) notSupported(op string) error {
	if c.cfg.Mode == ModeExternal {
		return fmt.Errorf("%s: %w (%s cluster: the harness does not own its members or peer links)", op, ErrNotSupported, ModeExternal)
	}
	return nil
}
