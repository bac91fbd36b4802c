package member

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
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
)

// Status keeps the raft view (member ID, leader, term) of one member
// current by asking its client endpoint for its Status in the background,
// so that the cluster can read it without blocking on a stalled member.
type Status struct {
	cli    *clientv3.Client
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
	}
	if dial != nil {
		cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(dial)}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("status client of %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Status{cli: cli, addr: addr, readyC: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
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
	st, err := p.cli.Status(ctx, p.cli.Endpoints()[0])
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
