package workloads

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// noWaitElector is the campaign-no-wait mutant: Campaign creates the lease's
// key under the election name (or sets its value) and declares itself
// leader at once, without waiting for older keys to go. Proclaim and Resign
// are etcd's (guarded on the key's create revision), written out here
// because the base never campaigned; Leader and Observe are the base's.
type noWaitElector struct {
	Elector
	cli *clientv3.Client
}

func newNoWaitElector(cli *clientv3.Client, base Elector) Elector {
	return &noWaitElector{Elector: base, cli: cli}
}

func (e *noWaitElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	key := leaseKey(name, lease.ID)
	rev, err := createKey(ctx, e.cli, key, value, lease.ID)
	if err == nil {
		_, err = e.cli.Put(ctx, key, value, clientv3.WithLease(lease.ID))
	}
	if err != nil {
		return Leadership{}, fmt.Errorf("campaign-no-wait campaign %s: %w", name, err)
	}
	return Leadership{Key: key, Rev: rev, Lease: lease.ID}, nil
}

func (e *noWaitElector) Proclaim(ctx context.Context, name string, l Leadership, value string) error {
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Rev)).
		Then(clientv3.OpPut(l.Key, value, clientv3.WithLease(l.Lease))).Commit()
	switch {
	case err != nil:
		return fmt.Errorf("campaign-no-wait proclaim %s: %w", l.Key, err)
	case !resp.Succeeded:
		return fmt.Errorf("campaign-no-wait proclaim %s: %w", l.Key, ErrNotLeader)
	}
	return nil
}

func (e *noWaitElector) Resign(ctx context.Context, name string, l Leadership) error {
	_, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Rev)).
		Then(clientv3.OpDelete(l.Key)).Commit()
	if err != nil {
		return fmt.Errorf("campaign-no-wait resign %s: %w", l.Key, err)
	}
	return nil
}

// Close closes the base Elector.
func (e *noWaitElector) Close() error { return closeBase(e.Elector) }
