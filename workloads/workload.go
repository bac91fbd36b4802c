package workloads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// finalRevokeTimeout bounds the revoke of each client's lease when a run ends.
const finalRevokeTimeout = 2 * time.Second

// Workload is a set of lock or election clients recording into one history.
type Workload struct {
	cfg     Config
	rec     *history.Recorder
	names   []string
	clients []*Client
	spent   atomic.Int64 // operations invoked

	mu      sync.Mutex
	started bool
	closed  bool
}

// New creates the workload's clients on cluster (client i talks to member
// (i-1) mod size + 1, through its own link, or to every member with
// Config.EveryEndpoint) and registers them with rec.
// Observers (election workloads) get the ids after the other clients.
func New(cluster *harness.Cluster, rec *history.Recorder, cfg Config) (*Workload, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cluster == nil || rec == nil {
		return nil, errors.New("new workload: nil cluster or recorder")
	}
	w := &Workload{cfg: cfg, rec: rec, names: cfg.names()}
	total := cfg.Clients
	if cfg.Kind == KindElection {
		total += cfg.Observers * cfg.Names
	}
	for local := 1; local <= total; local++ {
		c, err := w.newClient(cluster, local)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("new workload: %w", err), w.Close())
		}
		w.clients = append(w.clients, c)
	}
	return w, nil
}

func (w *Workload) newClient(cluster *harness.Cluster, local int) (*Client, error) {
	id := w.cfg.ClientBase + local
	member := (local-1)%cluster.Size() + 1
	var conn *harness.Client
	var err error
	if w.cfg.EveryEndpoint {
		member = 0 // its operations go to whichever member the balancer picks
		conn, err = cluster.NewClientAll()
	} else {
		conn, err = cluster.NewClient(member)
	}
	if err != nil {
		return nil, fmt.Errorf("client %d: %w", id, err)
	}
	c := &Client{id: id, local: local, conn: conn, w: w, choose: newChooser(w.cfg, local)}
	if w.cfg.Kind == KindLock {
		c.locker = w.lockerFactory()(conn.Client)
	} else {
		c.elector = w.electorFactory()(conn.Client)
		if extra := local - w.cfg.Clients; extra > 0 {
			c.observer = w.names[(extra-1)%w.cfg.Names]
		}
	}
	if member != 0 {
		w.rec.SetMember(id, member)
		w.rec.SetMember(history.LeaseKeeper(id), member)
	}
	return c, nil
}

// lockerFactory is Config.Locker or the backend's, wrapped by the fixes
// and the mutant.
func (w *Workload) lockerFactory() LockerFactory {
	f := GRPCLocker
	switch {
	case w.cfg.Locker != nil:
		f = w.cfg.Locker
	case w.cfg.Backend == BackendConcurrency:
		f = ConcurrencyLocker
	}
	for _, issue := range w.cfg.Fixes {
		if fix, _ := LookupFix(issue); fix.Locker != nil { // validated by withDefaults
			f = fix.Locker(f)
		}
	}
	if m := w.mutant(); m.Locker != nil {
		f = m.Locker(f)
	}
	return f
}

// electorFactory is Config.Elector or the backend's, wrapped by the fixes
// and the mutant.
func (w *Workload) electorFactory() ElectorFactory {
	f := GRPCElector
	switch {
	case w.cfg.Elector != nil:
		f = w.cfg.Elector
	case w.cfg.Backend == BackendConcurrency:
		f = ConcurrencyElector
	}
	for _, issue := range w.cfg.Fixes {
		if fix, _ := LookupFix(issue); fix.Elector != nil { // validated by withDefaults
			f = fix.Elector(f)
		}
	}
	if m := w.mutant(); m.Elector != nil {
		f = m.Elector(f)
	}
	return f
}

// mutant is the configured mutant (validated by withDefaults), if any.
func (w *Workload) mutant() Mutant {
	m, _ := LookupMutant(w.cfg.Mutant)
	return m
}

// Config is the workload's configuration with defaults filled in.
func (w *Workload) Config() Config { return w.cfg }

// Clients returns the workload's clients, for fault injection: the lock or
// election clients first (ids ClientBase+1..ClientBase+Clients), then the
// observers.
func (w *Workload) Clients() []*Client { return append([]*Client(nil), w.clients...) }

// Names returns the lock or election names used in the history.
func (w *Workload) Names() []string { return append([]string(nil), w.names...) }

func (w *Workload) budgetLeft() bool { return w.spent.Load() < w.cfg.MaxOps }

// Run drives the clients until ctx is done or the operation budget is spent,
// then revokes the clients' leases (recorded) and closes the clients. Every
// operation invoked gets its completion before Run returns; every operation
// is bounded by a timeout, so Run returns within about
// max(OpTimeout, WaitTimeout) + 2s of ctx being done. Run may be called
// once. It returns only recorder errors: operation errors are outcomes.
func (w *Workload) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started || w.closed {
		w.mu.Unlock()
		return errors.New("workload run: already run or closed")
	}
	w.started = true
	w.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range w.clients {
		wg.Go(func() {
			c.run(ctx)
			if c.err != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, c := range w.clients {
		errs = append(errs, c.err)
	}
	return errors.Join(append(errs, w.Close())...)
}

// Close closes the clients and their backends. Run calls it; call it
// yourself only if Run was never called. It is idempotent.
func (w *Workload) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	var errs []error
	for _, c := range w.clients {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// run is the client's goroutine.
func (c *Client) run(ctx context.Context) {
	defer c.finish(ctx)
	if c.observer != "" {
		c.observeLoop(ctx)
		return
	}
	cycle := c.lockCycle
	if c.w.cfg.Kind == KindElection {
		cycle = c.termCycle
		if c.local > c.w.cfg.Clients-c.w.cfg.readers() {
			cycle = c.readCycle
		}
	}
	for ctx.Err() == nil && c.err == nil && c.w.budgetLeft() {
		c.checkLease(ctx, false)
		cycle(ctx, c.nextIntent())
	}
}

// finish ends a client's run: it revokes the lease it still has (recorded)
// and waits for its keep-alive to end.
func (c *Client) finish(ctx context.Context) {
	if c.lease != nil && c.err == nil {
		// A lease lost to a fault near the end is recorded as lost, not
		// hidden behind the final revoke.
		c.checkLease(context.WithoutCancel(ctx), true)
	}
	if c.err == nil {
		c.checkOrphans(context.WithoutCancel(ctx), true)
	}
	if c.lease != nil && c.err == nil {
		name, _ := c.Holding()
		if name == "" {
			name = c.recent
		}
		c.abandonLease(ctx, name, finalRevokeTimeout)
	}
	if c.lease != nil {
		c.dropLease()
	}
	c.bg.Wait()
}

// close closes the client's etcd client, then its backends (which may wait
// for calls that end with the client).
func (c *Client) close() error {
	err := c.conn.Close()
	for _, b := range []any{c.locker, c.elector} {
		if cl, ok := b.(io.Closer); ok {
			err = errors.Join(err, cl.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("close client %d: %w", c.id, err)
	}
	return nil
}
