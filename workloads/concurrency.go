package workloads

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// cleanupGrace is how long a concurrency call may run past its context:
// Mutex.Lock and Election.Campaign clean up after a canceled wait with the
// client's own context, which has no deadline.
const cleanupGrace = time.Second

// ConcurrencyLocker is the Locker of clientv3/concurrency.Mutex, with a
// session attached to the client's lease. It also implements TryLock.
func ConcurrencyLocker(cli *clientv3.Client) Locker {
	return &concLocker{concBase: concBase{cli: cli}, held: map[heldLock]*concurrency.Mutex{}}
}

// ConcurrencyElector is the Elector of clientv3/concurrency.Election, with a
// session attached to the client's lease.
func ConcurrencyElector(cli *clientv3.Client) Elector {
	return &concElector{concBase: concBase{cli: cli}, won: map[string]term{}}
}

// concBase holds what both concurrency backends share: the session of the
// current lease and the calls still cleaning up after their context ended.
type concBase struct {
	cli     *clientv3.Client
	session *concurrency.Session
	reader  *concurrency.Session
	bg      sync.WaitGroup
}

// sessionFor returns a session on lease, whose keep-alive stops when
// lease.Alive is done.
func (b *concBase) sessionFor(lease Lease) (*concurrency.Session, error) {
	if b.session != nil && b.session.Lease() == lease.ID {
		return b.session, nil
	}
	if b.session != nil {
		b.session.Orphan()
		b.session = nil
	}
	s, err := concurrency.NewSession(b.cli, concurrency.WithLease(lease.ID), concurrency.WithContext(lease.Alive))
	if err != nil {
		return nil, fmt.Errorf("session on lease %x: %w", int64(lease.ID), err)
	}
	b.session = s
	return s, nil
}

// readSession returns a session without a lease of its own, for Leader and
// Observe, which only use its client (as etcd's election service does).
func (b *concBase) readSession() (*concurrency.Session, error) {
	if b.reader != nil {
		return b.reader, nil
	}
	s, err := concurrency.NewSession(b.cli, concurrency.WithLease(clientv3.LeaseID(-1)), concurrency.WithContext(b.cli.Ctx()))
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s.Orphan()
	b.reader = s
	return s, nil
}

// bounded runs f and returns its error, or ctx's error at most cleanupGrace
// after ctx is done; f then finishes in the background (Close waits for it).
func (b *concBase) bounded(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	b.bg.Go(func() { done <- f() })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(cleanupGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("abandoned a call still cleaning up: %w", ctx.Err())
	}
}

// Close stops the session's keep-alive and waits for calls still cleaning
// up; the workload calls it after closing the etcd client.
func (b *concBase) Close() error {
	if b.session != nil {
		b.session.Orphan()
	}
	b.bg.Wait()
	return nil
}

type concLocker struct {
	concBase
	// held are the Mutexes whose locks are not known to be released, by
	// name and create revision: an unlock of unknown outcome is tried again
	// on the same Mutex, as an application keeps its Mutex, even after the
	// name was locked again.
	held map[heldLock]*concurrency.Mutex
}

// heldLock names one hold of a lock: its name and its key's create
// revision.
type heldLock struct {
	name string
	rev  int64
}

func (c *concLocker) Lock(ctx context.Context, name string, lease Lease) (Held, error) {
	return c.lock(ctx, name, lease, false)
}

func (c *concLocker) TryLock(ctx context.Context, name string, lease Lease) (Held, error) {
	return c.lock(ctx, name, lease, true)
}

func (c *concLocker) lock(ctx context.Context, name string, lease Lease, try bool) (Held, error) {
	s, err := c.sessionFor(lease)
	if err != nil {
		return Held{}, fmt.Errorf("mutex lock %s: %w", name, err)
	}
	m := concurrency.NewMutex(s, name)
	if try {
		err = m.TryLock(ctx)
		if errors.Is(err, concurrency.ErrLocked) {
			err = ErrLocked
		}
	} else {
		err = c.bounded(ctx, func() error { return m.Lock(ctx) })
	}
	if err != nil {
		return Held{}, fmt.Errorf("mutex lock %s: %w", name, err)
	}
	held := Held{Key: m.Key(), Rev: ownerRev(m), Header: m.Header().GetRevision()}
	c.held[heldLock{name, held.Rev}] = m
	return held, nil
}

// ownerRev is the create revision of a held mutex's key, which Mutex keeps
// in its ownership comparison.
func ownerRev(m *concurrency.Mutex) int64 {
	cmp := m.IsOwner()
	if u, ok := cmp.GetCompare().GetTargetUnion().(*pb.Compare_CreateRevision); ok {
		return u.CreateRevision
	}
	return 0
}

func (c *concLocker) Unlock(ctx context.Context, name string, held Held) error {
	id := heldLock{name, held.Rev}
	var err error
	if m := c.held[id]; m != nil && m.Key() == held.Key {
		err = m.Unlock(ctx)
	} else {
		_, err = c.cli.Delete(ctx, held.Key)
	}
	if err != nil {
		return fmt.Errorf("mutex unlock %s: %w", held.Key, err)
	}
	delete(c.held, id)
	return nil
}

// Forget drops the Mutex of a hold that was released without it (see
// FencedUnlock).
func (c *concLocker) Forget(name string, held Held) { delete(c.held, heldLock{name, held.Rev}) }

type concElector struct {
	concBase
	won map[string]term
}

// term is an Election and the leadership it won: the Election is used for
// that leadership's proclaims and resigns, whatever state it is in, as an
// application keeps its Election object.
type term struct {
	e   *concurrency.Election
	key string
	rev int64
}

func (c *concElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	s, err := c.sessionFor(lease)
	if err != nil {
		return Leadership{}, fmt.Errorf("election campaign %s: %w", name, err)
	}
	e := concurrency.NewElection(s, name)
	if err := c.bounded(ctx, func() error { return e.Campaign(ctx, value) }); err != nil {
		return Leadership{}, fmt.Errorf("election campaign %s: %w", name, err)
	}
	c.won[name] = term{e: e, key: e.Key(), rev: e.Rev()}
	return Leadership{Key: e.Key(), Rev: e.Rev(), Lease: s.Lease(), Header: e.Header().GetRevision()}, nil
}

// election returns the Election that won l, resuming it on the current
// session if needed.
func (c *concElector) election(name string, l Leadership) (*concurrency.Election, error) {
	if t := c.won[name]; t.e != nil && t.key == l.Key && t.rev == l.Rev {
		return t.e, nil
	}
	if c.session == nil || c.session.Lease() != l.Lease {
		return nil, fmt.Errorf("no session on lease %x", int64(l.Lease))
	}
	return concurrency.ResumeElection(c.session, name, l.Key, l.Rev), nil
}

func (c *concElector) Proclaim(ctx context.Context, name string, l Leadership, value string) error {
	e, err := c.election(name, l)
	if err == nil {
		err = e.Proclaim(ctx, value)
	}
	if errors.Is(err, concurrency.ErrElectionNotLeader) {
		err = ErrNotLeader
	}
	if err != nil {
		return fmt.Errorf("election proclaim %s: %w", l.Key, err)
	}
	return nil
}

func (c *concElector) Resign(ctx context.Context, name string, l Leadership) error {
	e, err := c.election(name, l)
	if err == nil {
		err = e.Resign(ctx)
	}
	if err != nil {
		// The Election stays: a retry resigns with the same object, as an
		// application that keeps its Election would.
		return fmt.Errorf("election resign %s: %w", l.Key, err)
	}
	delete(c.won, name)
	return nil
}

func (c *concElector) Leader(ctx context.Context, name string) (LeaderInfo, bool, error) {
	s, err := c.readSession()
	if err != nil {
		return LeaderInfo{}, false, fmt.Errorf("election leader %s: %w", name, err)
	}
	resp, err := concurrency.NewElection(s, name).Leader(ctx)
	if errors.Is(err, concurrency.ErrElectionNoLeader) {
		return LeaderInfo{}, false, nil
	}
	if err != nil {
		return LeaderInfo{}, false, fmt.Errorf("election leader %s: %w", name, err)
	}
	kv := resp.Kvs[0]
	info := leaderInfo(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Lease)
	info.Header = resp.Header.GetRevision()
	return info, true, nil
}

func (c *concElector) Observe(ctx context.Context, name string) (<-chan LeaderInfo, error) {
	s, err := c.readSession()
	if err != nil {
		return nil, fmt.Errorf("election observe %s: %w", name, err)
	}
	in := concurrency.NewElection(s, name).Observe(ctx)
	out := make(chan LeaderInfo)
	go func() {
		defer close(out)
		for resp := range in {
			kv := resp.Kvs[0]
			select {
			case out <- leaderInfo(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Lease):
			case <-ctx.Done():
				for range in { // let Observe's goroutine finish
				}
				return
			}
		}
	}()
	return out, nil
}
