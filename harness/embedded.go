package harness

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/pkg/v3/featuregate"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// embeddedRuntime runs members with go.etcd.io/etcd/server/v3/embed.
type embeddedRuntime struct{ ownedMembers }

// embeddedMember is a member started by embeddedRuntime.
type embeddedMember struct {
	etcd       *embed.Etcd
	peer, clnt string
	stopping   *atomic.Bool // set before a deliberate stop to drop shutdown noise
}

func (embeddedRuntime) start(ctx context.Context, spec *member.Spec) (member.Member, error) {
	return member.StartOnFreePorts(ctx, spec, func(peerAddr, clientAddr string) (member.Member, error) {
		return startEmbedded(spec, peerAddr, clientAddr)
	})
}

func startEmbedded(spec *member.Spec, peerAddr, clientAddr string) (*embeddedMember, error) {
	stopping := new(atomic.Bool)
	cfg, err := embedConfig(spec, peerAddr, clientAddr, memberLogger(spec.Logger, stopping))
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	return &embeddedMember{etcd: e, peer: peerAddr, clnt: clientAddr, stopping: stopping}, nil
}

func embedConfig(spec *member.Spec, peerAddr, clientAddr string, lg *zap.Logger) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = spec.Name
	cfg.Dir = spec.Dir
	cfg.TickMs = spec.TickMs
	cfg.ElectionMs = spec.ElectionMs
	cfg.InitialCluster = spec.InitialCluster
	cfg.InitialClusterToken = spec.Token
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.UnsafeNoFsync = true
	cfg.EnableGRPCGateway = false
	cfg.GRPCKeepAliveMinTime = time.Second
	// Fixed windows, as the harness's clients have (member.StaticWindows):
	// a server that estimates bandwidth-delay answers every request with a
	// window update and a ping.
	cfg.GRPCAdditionalServerOptions = member.StaticServerWindows()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	if spec.LeaseCheckpoint {
		gates, ok := cfg.ServerFeatureGate.(featuregate.MutableFeatureGate)
		if !ok {
			return nil, fmt.Errorf("lease checkpoints: etcd's feature gates cannot be set")
		}
		if err := gates.Set(member.LeaseCheckpointGates); err != nil {
			return nil, fmt.Errorf("lease checkpoints: %w", err)
		}
	}
	urls := map[string]string{
		"listen-peer":      "http://" + peerAddr,
		"listen-client":    "http://" + clientAddr,
		"advertise-peer":   spec.PeerURL,
		"advertise-client": spec.ClientURL,
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

func (m *embeddedMember) PeerAddr() string       { return m.peer }
func (m *embeddedMember) ClientAddr() string     { return m.clnt }
func (m *embeddedMember) Ready() <-chan struct{} { return m.etcd.Server.ReadyNotify() }
func (m *embeddedMember) ID() uint64             { return uint64(m.etcd.Server.MemberID()) }
func (m *embeddedMember) Lead() uint64           { return m.etcd.Server.Lead() }
func (m *embeddedMember) Term() uint64           { return m.etcd.Server.Term() }

func (m *embeddedMember) Check(ctx context.Context) error {
	_, err := m.etcd.Server.Range(ctx, &pb.RangeRequest{Key: []byte("health")})
	return err
}

func (m *embeddedMember) MoveLeader(ctx context.Context, to uint64) error {
	return m.etcd.Server.MoveLeader(ctx, m.Lead(), to)
}

// Kill stops the raft loop without transferring leadership, then releases
// listeners and goroutines. The caller has already cut the member's links,
// so the shutdown cannot reach other members.
func (m *embeddedMember) Kill() {
	m.stopping.Store(true)
	m.etcd.Server.HardStop()
	m.etcd.Close()
}
