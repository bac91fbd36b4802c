package workloads

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// foreignUnlocker is the unlock-foreign mutant: Unlock picks the key to
// delete with an off-by-one, the second-oldest key under the lock name (the
// next waiter's) instead of the oldest (its own), and reports success. Its
// own key stays, so it still holds the lock: when it locks the same name
// again it is granted its old key, whose revision is not above the grants
// made since. Locking is the base's.
type foreignUnlocker struct {
	Locker
	cli *clientv3.Client
}

func newForeignUnlocker(cli *clientv3.Client, base Locker) Locker {
	return &foreignUnlocker{Locker: base, cli: cli}
}

func (l *foreignUnlocker) Unlock(ctx context.Context, name string, held Held) error {
	get, err := l.cli.Get(ctx, name+"/", clientv3.WithPrefix(), clientv3.WithLimit(2),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return fmt.Errorf("unlock-foreign unlock %s: %w", held.Key, err)
	}
	if len(get.Kvs) < 2 {
		return nil // nobody waits: nothing (of someone else's) to delete
	}
	if _, err := l.cli.Delete(ctx, string(get.Kvs[1].Key)); err != nil {
		return fmt.Errorf("unlock-foreign unlock %s: %w", held.Key, err)
	}
	return nil
}

// Close closes the base Locker.
func (l *foreignUnlocker) Close() error { return closeBase(l.Locker) }
