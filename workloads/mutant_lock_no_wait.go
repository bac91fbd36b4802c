package workloads

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// noWaitLocker is the lock-no-wait mutant: Lock creates the lease's key
// under the lock name and returns at once, without waiting for the keys
// created before it (the holder's and older waiters') to be deleted. Two
// clients then hold the lock at once. Unlock is the base's.
type noWaitLocker struct {
	Locker
	cli *clientv3.Client
}

func newNoWaitLocker(cli *clientv3.Client, base Locker) Locker {
	return &noWaitLocker{Locker: base, cli: cli}
}

func (l *noWaitLocker) Lock(ctx context.Context, name string, lease Lease) (Held, error) {
	key := leaseKey(name, lease.ID)
	rev, err := createKey(ctx, l.cli, key, "", lease.ID)
	if err != nil {
		return Held{}, fmt.Errorf("lock-no-wait lock %s: %w", name, err)
	}
	return Held{Key: key, Rev: rev}, nil
}

// Close closes the base Locker.
func (l *noWaitLocker) Close() error { return closeBase(l.Locker) }
