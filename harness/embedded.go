package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// memberSpec is the identity of one member, stable across restarts: name,
// data dir, advertised URLs (the harness proxies) and cluster settings. The
// addresses of the member's real listeners are private to the runner.
type memberSpec struct {
	index          int
	name           string
	id             uint64 // the member ID etcd derives from name, URL and token
	dir            string
	peerURL        string // advertised peer URL: the member's peer proxy
	clientURL      string // advertised client URL: the member's front door
	initialCluster string
	token          string
	tickMs         uint
	electionMs     uint
	logger         *zap.Logger
}

// runner starts members. The embedded runner runs etcd in this process; a
// runner for real etcd processes can implement the same interface.
type runner interface {
	// start starts the member described by spec and returns once it is
	// serving (not necessarily ready: see member.ready).
	start(ctx context.Context, spec *memberSpec) (member, error)
}

// member is one running etcd member.
type member interface {
	// peerAddr and clientAddr are the host:port of the real listeners.
	peerAddr() string
	clientAddr() string
	// ready is closed once the member has joined the cluster.
	ready() <-chan struct{}
	// id, lead and term report the member's raft view.
	id() uint64
	lead() uint64
	term() uint64
	// check performs a linearizable read through the member.
	check(ctx context.Context) error
	// moveLeader asks the member (the leader) to hand leadership to id.
	moveLeader(ctx context.Context, to uint64) error
	// kill stops the member at once: no leadership transfer, no goodbye.
	kill()
}

// pauser is a member that can be frozen and thawed (a process: SIGSTOP and
// SIGCONT).
type pauser interface {
	pause() error
	resume() error
}

// embeddedRunner runs members with go.etcd.io/etcd/server/v3/embed.
type embeddedRunner struct{}

// embeddedMember is a member started by embeddedRunner.
type embeddedMember struct {
	etcd       *embed.Etcd
	peer, clnt string
	stopping   *atomic.Bool // set before a deliberate stop to drop shutdown noise
}

// maxBindAttempts bounds the retries when a freshly picked port was taken by
// someone else between picking and binding.
const maxBindAttempts = 5

func (embeddedRunner) start(ctx context.Context, spec *memberSpec) (member, error) {
	var lastErr error
	for attempt := 0; attempt < maxBindAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m, err := startEmbedded(spec, ports[0], ports[1])
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("start member %s: %w", spec.name, lastErr)
}

func startEmbedded(spec *memberSpec, peerAddr, clientAddr string) (*embeddedMember, error) {
	stopping := new(atomic.Bool)
	cfg, err := embedConfig(spec, peerAddr, clientAddr, memberLogger(spec.logger, stopping))
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	return &embeddedMember{etcd: e, peer: peerAddr, clnt: clientAddr, stopping: stopping}, nil
}

func embedConfig(spec *memberSpec, peerAddr, clientAddr string, lg *zap.Logger) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = spec.name
	cfg.Dir = spec.dir
	cfg.TickMs = spec.tickMs
	cfg.ElectionMs = spec.electionMs
	cfg.InitialCluster = spec.initialCluster
	cfg.InitialClusterToken = spec.token
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.UnsafeNoFsync = true
	cfg.EnableGRPCGateway = false
	cfg.GRPCKeepAliveMinTime = time.Second
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	urls := map[string]string{
		"listen-peer":      "http://" + peerAddr,
		"listen-client":    "http://" + clientAddr,
		"advertise-peer":   spec.peerURL,
		"advertise-client": spec.clientURL,
	}
	parsed := map[string]url.URL{}
	for k, v := range urls {
		u, err := url.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("%s url %q: %w", k, v, err)
		}
		parsed[k] = *u
	}
	cfg.ListenPeerUrls = []url.URL{parsed["listen-peer"]}
	cfg.ListenClientUrls = []url.URL{parsed["listen-client"]}
	cfg.AdvertisePeerUrls = []url.URL{parsed["advertise-peer"]}
	cfg.AdvertiseClientUrls = []url.URL{parsed["advertise-client"]}
	return cfg, nil
}

func (m *embeddedMember) peerAddr() string       { return m.peer }
func (m *embeddedMember) clientAddr() string     { return m.clnt }
func (m *embeddedMember) ready() <-chan struct{} { return m.etcd.Server.ReadyNotify() }
func (m *embeddedMember) id() uint64             { return uint64(m.etcd.Server.MemberID()) }
func (m *embeddedMember) lead() uint64           { return m.etcd.Server.Lead() }
func (m *embeddedMember) term() uint64           { return m.etcd.Server.Term() }

func (m *embeddedMember) check(ctx context.Context) error {
	_, err := m.etcd.Server.Range(ctx, &pb.RangeRequest{Key: []byte("health")})
	return err
}

func (m *embeddedMember) moveLeader(ctx context.Context, to uint64) error {
	return m.etcd.Server.MoveLeader(ctx, m.lead(), to)
}

// kill stops the raft loop without transferring leadership, then releases
// listeners and goroutines. The caller has already cut the member's links,
// so the shutdown cannot reach other members.
func (m *embeddedMember) kill() {
	m.stopping.Store(true)
	m.etcd.Server.HardStop()
	m.etcd.Close()
}
