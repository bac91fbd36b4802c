package workloads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Fixes for known etcd bugs, as Locker and Elector wrappers: running the
// same seeds with and without them shows that a finding is etcd's, not the
// harness's.

// Fix is a client-side fix for a known etcd bug, as a Locker or Elector
// wrapper (the other is nil).
type Fix struct {
	// Issue is the etcd issue it fixes (see models/knownissues).
	Issue   int
	Locker  func(base LockerFactory) LockerFactory
	Elector func(base ElectorFactory) ElectorFactory
}

// fixes are the fixes there are, by issue.
var fixes = []Fix{
	{Issue: 19597, Elector: CheckedCampaign},
	{Issue: 21128, Elector: CleanedCampaign},
	{Issue: 22082, Locker: FencedUnlock},
	{Issue: 22123, Elector: GuardedResign},
}

// Fixes lists the fixes there are.
func Fixes() []Fix { return append([]Fix(nil), fixes...) }

// LookupFix returns the fix for an etcd issue.
func LookupFix(issue int) (Fix, error) {
	for _, f := range fixes {
		if f.Issue == issue {
			return f, nil
		}
	}
	var have []string
	for _, f := range fixes {
		have = append(have, fmt.Sprint(f.Issue))
	}
	return Fix{}, fmt.Errorf("no fix for etcd issue %d (there are fixes for %s)", issue, strings.Join(have, ", "))
}

// ErrCampaignKeyGone means Campaign returned, but the campaigner's key was
// already gone: it never led.
var ErrCampaignKeyGone = errors.New("campaign returned but its key is gone")

// CheckedCampaign wraps an Elector with the fix for etcd issue 19597
// (Campaign returns success after the campaigner's lease expired while it
// waited): after Campaign returns, a linearizable read must find the
// campaigner's key with the campaign's create revision, or the campaign
// fails with ErrCampaignKeyGone. A key that still exists after every older
// key was deleted is the oldest, so a campaign that passes the read led.
// Running the same seeds with and without it shows that a phantom
// leadership is etcd's, not the harness's.
func CheckedCampaign(base ElectorFactory) ElectorFactory {
	return func(cli *clientv3.Client) Elector { return &checkedElector{Elector: base(cli), cli: cli} }
}

type checkedElector struct {
	Elector
	cli *clientv3.Client
}

func (e *checkedElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	l, err := e.Elector.Campaign(ctx, name, lease, value)
	if err != nil {
		return l, err
	}
	resp, err := e.cli.Get(ctx, l.Key)
	switch {
	case err != nil:
		return Leadership{}, fmt.Errorf("checked campaign %s: read %s: %w", name, l.Key, err)
	case len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.Rev:
		return Leadership{}, fmt.Errorf("checked campaign %s: %s: %w", name, l.Key, ErrCampaignKeyGone)
	}
	return l, nil
}

// Close closes the base Elector.
func (e *checkedElector) Close() error { return closeBase(e.Elector) }

// GuardedResign wraps an Elector with the fix for etcd issue 22123 (a
// failed Resign forgets the leadership, so a retried Resign returns nil
// while the key stays): Resign deletes the leader key itself, guarded on
// its create revision, and reports success only when that delete returned.
// A retry after a failure deletes the key again, or finds it gone.
func GuardedResign(base ElectorFactory) ElectorFactory {
	return func(cli *clientv3.Client) Elector { return &guardedResigner{Elector: base(cli), cli: cli} }
}

type guardedResigner struct {
	Elector
	cli *clientv3.Client
}

func (e *guardedResigner) Resign(ctx context.Context, name string, l Leadership) error {
	_, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Rev)).
		Then(clientv3.OpDelete(l.Key)).Commit()
	if err != nil {
		return fmt.Errorf("guarded resign %s: %w", l.Key, err)
	}
	return nil
}

// Close closes the base Elector.
func (e *guardedResigner) Close() error { return closeBase(e.Elector) }

// CleanedCampaign wraps an Elector with the fix for etcd issue 21128 (a
// Campaign whose wait fails, as on a compaction, returns the error and
// leaves its key, which can then lead with nobody acting as leader), the
// approach of its open fix: a Campaign that returns any error but its
// context's end deletes its key before it returns, as one whose context
// ended already does. The key is the election's prefix and the lease in
// hex, as concurrency.Election and the v3election service name it; the
// delete is guarded on the lease, so it removes only this lease's key.
func CleanedCampaign(base ElectorFactory) ElectorFactory {
	return func(cli *clientv3.Client) Elector { return &cleanedElector{Elector: base(cli), cli: cli} }
}

type cleanedElector struct {
	Elector
	cli *clientv3.Client
}

// cleanupTimeout bounds the delete of a failed campaign's key.
const cleanupTimeout = 2 * time.Second

func (e *cleanedElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	l, err := e.Elector.Campaign(ctx, name, lease, value)
	if err == nil || ctx.Err() != nil {
		return l, err
	}
	key := fmt.Sprintf("%s/%x", name, int64(lease.ID))
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, derr := e.cli.Txn(dctx).
		If(clientv3.Compare(clientv3.LeaseValue(key), "=", lease.ID)).
		Then(clientv3.OpDelete(key)).Commit()
	if derr != nil {
		return l, errors.Join(err, fmt.Errorf("cleaned campaign: delete %s: %w", key, derr))
	}
	return l, err
}

// Close closes the base Elector.
func (e *cleanedElector) Close() error { return closeBase(e.Elector) }

// FencedUnlock wraps a Locker with the fix for etcd issue 22082 (an Unlock
// deletes the lock key by name alone, so the retry of an Unlock whose
// delete committed but whose answer was lost deletes the newer lock of the
// same session), the approach of etcd PR 22115: Unlock deletes the key
// only while its create revision is the hold's. It fixes the v3lock
// service's Unlock, a plain delete by key, the same way.
func FencedUnlock(base LockerFactory) LockerFactory {
	return func(cli *clientv3.Client) Locker {
		b := base(cli)
		f := &fencedUnlocker{Locker: b, cli: cli}
		if t, ok := b.(TryLocker); ok {
			return &fencedUnlockTryLocker{fencedUnlocker: f, try: t}
		}
		return f
	}
}

type fencedUnlocker struct {
	Locker
	cli *clientv3.Client
}

func (l *fencedUnlocker) Unlock(ctx context.Context, name string, held Held) error {
	_, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(held.Key), "=", held.Rev)).
		Then(clientv3.OpDelete(held.Key)).Commit()
	if err != nil {
		return fmt.Errorf("fenced unlock %s: %w", held.Key, err)
	}
	if f, ok := l.Locker.(interface{ Forget(string, Held) }); ok {
		f.Forget(name, held) // released without the base's lock object
	}
	return nil
}

// Close closes the base Locker.
func (l *fencedUnlocker) Close() error { return closeBase(l.Locker) }

// fencedUnlockTryLocker keeps the base's TryLock, so that a run with the
// fix makes the same operations as one without it.
type fencedUnlockTryLocker struct {
	*fencedUnlocker
	try TryLocker
}

func (l *fencedUnlockTryLocker) TryLock(ctx context.Context, name string, lease Lease) (Held, error) {
	return l.try.TryLock(ctx, name, lease)
}
