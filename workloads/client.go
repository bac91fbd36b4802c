package workloads

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// Client is one logical process of a workload: a history client id, its own
// etcd client (through its own harness link to one member), its own lease
// and its own seeded choices. Its methods are safe to call from a fault
// injector while the workload runs.
type Client struct {
	id       int    // history client id: Config.ClientBase + local
	local    int    // 1-based index in the workload; seeds the client's choices
	observer string // the election name an observer client watches; "" for workers
	conn     *harness.Client
	w        *Workload
	choose   *chooser
	locker   Locker
	elector  Elector
	seq      int // numbers the client's unique values and write data

	// Owned by the client's goroutine.
	lease *clientLease
	// kept is closed when the keep-alive loop of the client's latest lease
	// ends: the next lease's loop waits for it, since the lease keeper has
	// one operation in flight at a time.
	kept <-chan struct{}
	// orphans are leases abandoned with their fate unknown (their revoke
	// and the look-up after it had no answer): the client keeps looking
	// them up, so that their loss is recorded once etcd says they are gone.
	orphans []orphan
	recent  string       // name of the latest cycle, for lease-lost lines
	stale   *staleUnlock // an unlock to try again later (Config.RetryUnlockLater)
	err     error        // the recorder failed: stop
	bg      sync.WaitGroup

	mu      sync.Mutex
	leaseID int64
	holding string
	waiting string
	intents []Intent
	pauseCh chan struct{} // non-nil while paused; closed by Resume
	blocked bool
	stopKA  context.CancelFunc
}

// orphan is an abandoned lease of unknown fate and the name it was last
// used on.
type orphan struct {
	l    *clientLease
	name string
}

// clientLease is the lease a client currently holds its keys with.
type clientLease struct {
	id clientv3.LeaseID
	// granted is the TTL etcd granted the lease with, in seconds: every
	// answer about the lease is recorded with it.
	granted int64
	alive   context.Context
	stop    context.CancelFunc
	kaDone  chan struct{} // closed when the keep-alive loop ends
	// Set by the keep-alive loop before it closes kaDone: etcd said the
	// lease is not found; the recorder failed.
	notFound bool
	err      error
	// proof is the history time of the invoke of the last operation that
	// proved the lease's keys existed (the grant included).
	proof     int64
	lastCheck time.Time
}

// ID is the client's id in the history (1-based, unique in the workload).
func (c *Client) ID() int { return c.id }

// Member is the member the client talks to, 0 if it talks to every member
// (Config.EveryEndpoint).
func (c *Client) Member() int { return c.conn.Member }

// Conn is the client's harness client, for faults on its link
// (harness.Cluster.PauseClient, IsolateClient, SetClientLatency).
func (c *Client) Conn() *harness.Client { return c.conn }

// Observer reports whether the client is an election observer, and of which
// election name.
func (c *Client) Observer() (name string, ok bool) { return c.observer, c.observer != "" }

// Lease is the client's current lease, 0 if it has none.
func (c *Client) Lease() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaseID
}

// Holding returns the lock or election name the client believes it holds
// (inside a critical section or a term), if any.
func (c *Client) Holding() (name string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holding, c.holding != ""
}

// Waiting returns the lock or election name the client is waiting for in
// Lock or Campaign, if any.
func (c *Client) Waiting() (name string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting, c.waiting != ""
}

// setWaiting records the name the client waits for in Lock or Campaign
// ("" once the call returned).
func (c *Client) setWaiting(name string) {
	c.mu.Lock()
	c.waiting = name
	c.mu.Unlock()
}

// Intents returns the intents the client has drawn so far, in order.
func (c *Client) Intents() []Intent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Intent(nil), c.intents...)
}

// Pause makes the client's goroutine block before its next operation (for
// example inside a critical section, before its next write) until Resume.
// Together with harness.Cluster.PauseClient it simulates a process pause:
// on Resume the client goes on with what it was doing, without re-checking
// its lease first.
func (c *Client) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pauseCh == nil {
		c.pauseCh = make(chan struct{})
	}
}

// Resume lets a paused client go on.
func (c *Client) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pauseCh != nil {
		close(c.pauseCh)
		c.pauseCh = nil
	}
}

// Paused reports whether the client is blocked by Pause right now.
func (c *Client) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// StopKeepAlive stops renewing the client's current lease, so that it
// expires one TTL later; the client keeps using it until it learns that it
// is gone, then records lease-lost and grants a new one. It returns the
// lease (0 if the client has none).
func (c *Client) StopKeepAlive() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopKA != nil {
		c.stopKA()
	}
	return c.leaseID
}

// gate blocks while the client is paused.
func (c *Client) gate(ctx context.Context) error {
	c.mu.Lock()
	ch := c.pauseCh
	c.blocked = ch != nil
	c.mu.Unlock()
	if ch == nil {
		return ctx.Err()
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.blocked = false
	c.mu.Unlock()
	return ctx.Err()
}

// think waits d or until ctx is done.
func think(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// step is what precedes every operation: think, notice a lost lease, then
// wait while paused. It returns false when the client should stop the cycle.
func (c *Client) step(ctx context.Context, d time.Duration) bool {
	if think(ctx, d) != nil {
		return false
	}
	c.checkLease(ctx, false)
	c.checkOrphans(ctx, false)
	return c.gate(ctx) == nil
}

// nextIntent draws the next intent and remembers it.
func (c *Client) nextIntent() Intent {
	in := c.choose.next()
	c.mu.Lock()
	c.intents = append(c.intents, in)
	c.mu.Unlock()
	return in
}

// nextValue returns a value unique in the history: c<client>-<n>.
func (c *Client) nextValue() string {
	c.seq++
	return fmt.Sprintf("c%d-%d", c.id, c.seq)
}

func (c *Client) setHolding(name string) {
	c.mu.Lock()
	c.holding = name
	c.mu.Unlock()
}

// begin records an invoke and returns its op id and time; ok is false if
// the recorder refused it (the error is kept and the client stops).
func (c *Client) begin(f, name string, in *history.Value) (op, at int64, ok bool) {
	c.w.spent.Add(1)
	op, at, err := c.w.rec.Begin(c.id, f, name, in)
	if err != nil {
		c.fail(err)
		return 0, 0, false
	}
	return op, at, true
}

// complete records op's completion from err (see classify) and returns the
// outcome.
func (c *Client) complete(op int64, err error, out *history.Value) history.Outcome {
	outcome := classify(err)
	msg := ""
	if err != nil {
		msg = err.Error()
		out = nil
	}
	c.record(op, outcome, out, msg)
	return outcome
}

// record writes a completion, keeping the recorder's error if any.
func (c *Client) record(op int64, outcome history.Outcome, out *history.Value, msg string) {
	if outcome == history.Fail && out == nil {
		out = &history.Value{}
	}
	if err := c.w.rec.Complete(op, outcome, out, msg); err != nil {
		c.fail(err)
	}
}

// fail keeps the first recorder error; the client stops at its next cycle.
func (c *Client) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("client %d: %w", c.id, err)
	}
}

// opCtx bounds one operation.
func (c *Client) opCtx(ctx context.Context, wait bool) (context.Context, context.CancelFunc) {
	if wait {
		return context.WithTimeout(ctx, c.w.cfg.WaitTimeout)
	}
	return context.WithTimeout(ctx, c.w.cfg.OpTimeout)
}
