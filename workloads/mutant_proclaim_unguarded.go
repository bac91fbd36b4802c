package workloads

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// unguardedElector is the proclaim-unguarded mutant: Proclaim writes the
// leader key whether or not it still leads (no guard on the key's create
// revision) and reports success. While it leads, that is harmless; once its
// lease is gone, the put recreates its key without a lease, and the
// recreated key (now newer than the real leader's) is taken for the leader
// by readers as soon as older keys go. It shows under lease faults.
// Campaign deletes the keys it recreated first, so that one bad proclaim
// does not block the election for the rest of the run. Everything else is
// the base's.
type unguardedElector struct {
	Elector
	cli      *clientv3.Client
	recreate []string // keys a proclaim recreated without a lease
}

func newUnguardedElector(cli *clientv3.Client, base Elector) Elector {
	return &unguardedElector{Elector: base, cli: cli}
}

func (e *unguardedElector) Proclaim(ctx context.Context, name string, l Leadership, value string) error {
	// Keep the key's lease if it exists; a put cannot attach a lease that
	// is gone, so a missing key is recreated without one.
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.Key), ">", 0)).
		Then(clientv3.OpPut(l.Key, value, clientv3.WithIgnoreLease())).
		Else(clientv3.OpPut(l.Key, value)).Commit()
	if err != nil {
		return fmt.Errorf("proclaim-unguarded proclaim %s: %w", l.Key, err)
	}
	if !resp.Succeeded {
		e.recreate = append(e.recreate, l.Key)
	}
	return nil
}

func (e *unguardedElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	left := e.recreate[:0]
	for _, k := range e.recreate {
		if _, err := e.cli.Delete(ctx, k); err != nil {
			left = append(left, k)
		}
	}
	e.recreate = left
	return e.Elector.Campaign(ctx, name, lease, value)
}

// Close closes the base Elector.
func (e *unguardedElector) Close() error { return closeBase(e.Elector) }
