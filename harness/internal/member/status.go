package member

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Status polling of members the harness does not run in-process.
const (
	statusInterval = 50 * time.Millisecond
	statusTimeout  = 500 * time.Millisecond
	// statusStale is how old the last answer may be before the member's
	// raft view counts as unknown (a paused or dead member stops answering).
	statusStale = time.Second
	// statusDialTimeout bounds the status client's connection attempts.
	statusDialTimeout = 2 * time.Second
	// statusRedial bounds the wait between attempts to reconnect.
	statusRedial = 500 * time.Millisecond
)

// Status keeps the raft view (member ID, leader, term) of one member
// current by asking its client endpoint for its Status in the background,
// so that the cluster can read it without blocking on a stalled member.
type Status struct {
	cli    *clientv3.Client
	maint  pb.MaintenanceClient // over cli's one connection, to this member
	addr   string
	readyC chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	once sync.Once
	id   uint64
	lead uint64
	term uint64
	at   time.Time
}

// NewStatus starts polling the member serving clients at addr
// (host:port), dialing it with dial (nil: from the harness's namespace).
func NewStatus(addr string, dial links.DialFunc, lg *zap.Logger) (*Status, error) {
	cfg := clientv3.Config{
		Endpoints:   []string{"http://" + addr},
		DialTimeout: statusDialTimeout,
		Logger:      lg.Named("status"),
		// Polls share one connection: after a stop it is redialed within
		// statusRedial, not after gRPC's default backoff of up to 2 min.
		DialOptions: append(StaticWindows(), grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: statusRedial},
			MinConnectTimeout: statusDialTimeout,
		})),
	}
	if dial != nil {
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithContextDialer(dial))
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("status client of %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Status{cli: cli, maint: pb.NewMaintenanceClient(cli.ActiveConnection()), addr: addr, readyC: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go p.loop(ctx)
	return p, nil
}

func (p *Status) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Status) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	// Over the client's own connection: clientv3's Status(ctx, endpoint)
	// dials a new connection for every call, which at this rate was most of
	// the harness's connection churn and a good part of each member's CPU.
	st, err := p.maint.Status(ctx, &pb.StatusRequest{})
	if err != nil || st.Header == nil {
		return
	}
	p.mu.Lock()
	p.id, p.lead, p.term, p.at = st.Header.MemberId, st.Leader, st.RaftTerm, time.Now()
	p.mu.Unlock()
	p.once.Do(func() { close(p.readyC) })
}

// View returns the last answer, or zeros if it is stale.
func (p *Status) View() (id, lead, term uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) > statusStale {
		return p.id, 0, 0
	}
	return p.id, p.lead, p.term
}

// Ready is closed once the member answered a Status request (etcd serves
// clients only once it has joined the cluster).
func (p *Status) Ready() <-chan struct{} { return p.readyC }

// Check performs a linearizable read through the member.
func (p *Status) Check(ctx context.Context) error {
	_, err := p.cli.Get(ctx, "health")
	return err
}

// MoveLeader asks the member (the leader) to hand leadership to to.
func (p *Status) MoveLeader(ctx context.Context, to uint64) error {
	_, err := p.cli.MoveLeader(ctx, to)
	return err
}

// Close stops polling and closes the client.
func (p *Status) Close() {
	p.cancel()
	<-p.done
	_ = p.cli.Close()
}
