package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

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
)

// statusPoller keeps the raft view (member ID, leader, term) of one member
// current by asking its client endpoint for its Status in the background,
// so that the cluster can read it without blocking on a stalled member.
type statusPoller struct {
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

// newStatusPoller starts polling the member serving clients at addr
// (host:port), dialing it with dial (nil: from the harness's namespace).
func newStatusPoller(addr string, dial dialFunc, lg *zap.Logger) (*statusPoller, error) {
	cfg := clientv3.Config{
		Endpoints:   []string{"http://" + addr},
		DialTimeout: clientDialTimeout,
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
	p := &statusPoller{cli: cli, addr: addr, readyC: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go p.loop(ctx)
	return p, nil
}

func (p *statusPoller) loop(ctx context.Context) {
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

func (p *statusPoller) poll(ctx context.Context) {
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

// view returns the last answer, or zeros if it is stale.
func (p *statusPoller) view() (id, lead, term uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) > statusStale {
		return p.id, 0, 0
	}
	return p.id, p.lead, p.term
}

// ready is closed once the member answered a Status request (etcd serves
// clients only once it has joined the cluster).
func (p *statusPoller) ready() <-chan struct{} { return p.readyC }

// check performs a linearizable read through the member.
func (p *statusPoller) check(ctx context.Context) error {
	_, err := p.cli.Get(ctx, "health")
	return err
}

func (p *statusPoller) moveLeader(ctx context.Context, to uint64) error {
	_, err := p.cli.MoveLeader(ctx, to)
	return err
}

// close stops polling and closes the client.
func (p *statusPoller) close() {
	p.cancel()
	<-p.done
	_ = p.cli.Close()
}
