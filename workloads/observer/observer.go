// Package observer records server truth: every event etcd applied to the
// keys of the workloads' locks, elections and critical-section data, in
// revision order, as server lines of the history (format extension 1.1).
//
// The observer is a client of its own that no fault targets. It watches one
// key prefix from the revision the run starts at, with previous values, on
// all endpoints and with WithRequireLeader, so a watch on a member that lost
// its leader is cancelled and resumed, from the next revision, elsewhere.
// Whenever it may have missed events (a compaction, a watch it could not
// resume before the end) it writes a gap line instead of guessing.
package observer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/history"
)

// Target is a set of keys that belongs to one name and role.
type Target struct {
	Name string
	Role string // history.RoleLock, RoleElection or RoleData
	// Prefix holds the target's keys: a queue's keys are Prefix + "/" +
	// something; a data target (Exact) is the key Prefix itself.
	Prefix string
	Exact  bool
}

// Config describes what to observe and where to record it.
type Config struct {
	Endpoints []string
	// Root is a key prefix that holds every target's keys; it is watched
	// as one range so that all events arrive in one revision order.
	Root    string
	Targets []Target
	Rec     *history.Recorder
	// StartRev, if set, is the first revision to watch; the keys that exist
	// before it are not recorded. By default the observer records the
	// targets' keys as they are when it starts and watches from there.
	StartRev int64
	// Logger receives the observer's own diagnostics (default: none).
	Logger *zap.Logger
	// Logf reports resumed watches and gaps (default: none).
	Logf func(format string, args ...any)
}

// recorder is where server lines go.
type recorder interface {
	Server(history.ServerEvent) (int64, error)
}

// Observer watches the targets' keys until Close.
type Observer struct {
	cfg     Config
	cli     *clientv3.Client
	rec     recorder
	queues  map[string]Target // Prefix + "/" -> target
	exact   map[string]Target // key -> data target
	cancel  context.CancelFunc
	done    chan struct{}
	start   int64
	created map[string]int64 // key -> create revision, for deletes without a previous value

	mu       sync.Mutex
	through  int64           // every event up to this revision was recorded (or covered by a gap)
	progress chan struct{}   // closed and replaced whenever through moves
	wctx     context.Context // the current watch's context, to ask its stream for progress
	err      error
}

// resumeBackoff paces attempts to resume a watch that was cancelled.
const resumeBackoff = 100 * time.Millisecond

// Start connects, records the targets' keys that already exist, and watches
// from the next revision.
func Start(ctx context.Context, cfg Config) (*Observer, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, Logger: cfg.Logger,
		// Notice a paused or killed member and move the watch elsewhere;
		// etcd refuses pings more often than every 5 s.
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 2 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("observer client: %w", err)
	}
	o := &Observer{cfg: cfg, cli: cli, rec: cfg.Rec, queues: map[string]Target{}, exact: map[string]Target{},
		done: make(chan struct{}), created: map[string]int64{}, progress: make(chan struct{})}
	for _, t := range cfg.Targets {
		if t.Exact {
			o.exact[t.Prefix] = t
		} else {
			o.queues[t.Prefix+"/"] = t
		}
	}
	if cfg.StartRev > 0 {
		o.start, o.through = cfg.StartRev-1, cfg.StartRev-1
	} else if err := o.snapshot(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go o.run(wctx)
	return o, nil
}

// snapshot records the targets' existing keys as of the start revision.
func (o *Observer) snapshot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := o.cli.Get(ctx, o.cfg.Root, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend))
	if err != nil {
		return fmt.Errorf("observer: read %s: %w", o.cfg.Root, err)
	}
	o.start = resp.Header.Revision
	for _, kv := range resp.Kvs {
		if err := o.record(&clientv3.Event{Type: mvccpb.PUT, Kv: kv}); err != nil {
			return err
		}
	}
	o.through = o.start
	return nil
}

// StartRevision is the revision the observation starts at.
func (o *Observer) StartRevision() int64 { return o.start }

func (o *Observer) run(ctx context.Context) {
	defer close(o.done)
	for ctx.Err() == nil {
		err := o.watch(ctx)
		if ctx.Err() != nil || o.error() != nil {
			return
		}
		o.cfg.Logf("observer: watch ended (%v); resuming from revision %d", err, o.Through()+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(resumeBackoff):
		}
	}
}

// watch follows one watch stream until it ends.
func (o *Observer) watch(ctx context.Context) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := o.Through() + 1
	ch := o.cli.Watch(wctx, o.cfg.Root, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithPrevKV(),
		clientv3.WithProgressNotify())
	o.mu.Lock()
	o.wctx = wctx
	o.mu.Unlock()
	for resp := range ch {
		if resp.CompactRevision > 0 {
			o.gap(resp.CompactRevision-1, "compacted")
			return fmt.Errorf("compacted at revision %d", resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return err
		}
		rev := int64(0)
		for _, ev := range resp.Events {
			if err := o.record(ev); err != nil {
				o.fail(err) // the history cannot take more lines
				return err
			}
			rev = max(rev, ev.Kv.ModRevision)
		}
		if resp.IsProgressNotify() {
			rev = resp.Header.Revision
		}
		o.advance(rev)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch channel closed")
}

// record writes the server line of one event on a target's key.
func (o *Observer) record(ev *clientv3.Event) error {
	key := string(ev.Kv.Key)
	t, ok := o.target(key)
	if !ok {
		return nil
	}
	s := history.ServerEvent{Name: t.Name, Role: t.Role, Key: key, Rev: ev.Kv.ModRevision}
	switch ev.Type {
	case mvccpb.PUT:
		s.Event, s.CreateRev, s.Lease, s.Value = history.ServerPut, ev.Kv.CreateRevision, ev.Kv.Lease, string(ev.Kv.Value)
		o.created[key] = ev.Kv.CreateRevision
	case mvccpb.DELETE:
		s.Event = history.ServerDelete
		if ev.PrevKv != nil {
			s.CreateRev = ev.PrevKv.CreateRevision
		} else {
			s.CreateRev = o.created[key]
		}
		delete(o.created, key)
		if s.CreateRev == 0 {
			// The deleted key's creation is unknown: its name may be
			// missing events around this revision.
			s = history.ServerEvent{Name: t.Name, Role: t.Role, Event: history.ServerGap,
				FromRev: ev.Kv.ModRevision - 1, ToRev: ev.Kv.ModRevision, Detail: "delete of a key whose creation was not seen: " + key}
		}
	}
	if _, err := o.rec.Server(s); err != nil {
		return fmt.Errorf("observer: record %s: %w", key, err)
	}
	return nil
}

// target finds the target a key belongs to.
func (o *Observer) target(key string) (Target, bool) {
	if t, ok := o.exact[key]; ok {
		return t, true
	}
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		t, ok := o.queues[key[:i+1]]
		return t, ok
	}
	return Target{}, false
}

// advance notes that every event up to rev was recorded.
func (o *Observer) advance(rev int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rev > o.through {
		o.through = rev
		close(o.progress)
		o.progress = make(chan struct{})
	}
}

// gap records, for every target, that events in (Through, to] may be
// missing, and moves past them.
func (o *Observer) gap(to int64, why string) {
	from := o.Through()
	if to <= from {
		return
	}
	o.cfg.Logf("observer: events in revisions %d..%d may be missing (%s)", from+1, to, why)
	for _, t := range o.targetsInOrder() {
		if _, err := o.rec.Server(history.ServerEvent{Name: t.Name, Role: t.Role, Event: history.ServerGap,
			FromRev: from, ToRev: to, Detail: why}); err != nil {
			o.fail(err)
		}
	}
	clear(o.created) // a key created in the gap is unknown; one created before may have been deleted in it
	o.advance(to)
}

func (o *Observer) targetsInOrder() []Target {
	ts := slices.Clone(o.cfg.Targets)
	slices.SortFunc(ts, func(a, b Target) int { return strings.Compare(a.Name+a.Role, b.Name+b.Role) })
	return ts
}

func (o *Observer) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

// Through is the revision up to which every event was recorded.
func (o *Observer) Through() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.through
}

// CatchUp waits, at most timeout, until every event up to the cluster's
// current revision is recorded, then stops watching. If the observer did not
// get there, a gap line covers what it may have missed, so the history ends
// complete either way. It returns the revision it caught up to.
func (o *Observer) CatchUp(ctx context.Context, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	final := int64(0)
	resp, err := o.cli.Get(ctx, o.cfg.Root, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err == nil {
		final = resp.Header.Revision
	}
	for err == nil && o.Through() < final {
		o.mu.Lock()
		wctx, progress := o.wctx, o.progress
		o.mu.Unlock()
		if wctx != nil {
			// Answered once the stream has sent everything up to now.
			_ = o.cli.RequestProgress(wctx)
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-progress:
		case <-time.After(100 * time.Millisecond):
		}
	}
	o.stop()
	if final == 0 {
		return o.Through(), fmt.Errorf("observer: read the final revision: %w", err)
	}
	if o.Through() < final {
		o.gap(final, "the observer did not catch up before the end")
	}
	return final, o.error()
}

// stop ends the watch and waits for it.
func (o *Observer) stop() {
	o.cancel()
	<-o.done
}

// Close stops watching and closes the observer's client.
func (o *Observer) Close() error {
	o.stop()
	if err := o.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("observer: close client: %w", err)
	}
	return o.error()
}

func (o *Observer) error() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}
