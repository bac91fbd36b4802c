package faults

// The compaction injector: the cluster forgets the history of its keys up to
// the current revision while clients wait in Lock and Campaign and Observe
// streams are open, so that any watch that has to start or resume below
// that revision is refused.

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// Compaction is the compaction injector's name, as used in scenarios.
const Compaction = history.KindCompaction

func init() {
	register(Compaction, history.KindCompaction, compact, nil)
}

// compactor reads the current revision and compacts the keyspace up to it;
// *clientv3.Client is one. The Env's admin is checked for it when the fault
// fires, so that the Env needs nothing new for this one injector.
type compactor interface {
	Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error)
	Compact(ctx context.Context, rev int64, opts ...clientv3.CompactOption) (*clientv3.CompactResponse, error)
}

// compactTimeout bounds reading the revision and compacting.
const compactTimeout = 5 * time.Second

// compact compacts at the revision current when the fault fires. It waits a
// little for a client to wait in Lock or Campaign, but fires anyway. The compaction is physical: Compact returns
// once the old revisions are gone, so the end the nemesis records once it
// returned bounds when the compaction took effect.
func compact(ctx context.Context, env *Env, _ uint64) (*injection, error) {
	admin, ok := env.Admin.(compactor)
	if !ok {
		return nil, fmt.Errorf("compaction: the admin client (%T) cannot compact", env.Admin)
	}
	await(ctx, env, waiting, holderWait) // compacting under a waiting Lock or Campaign
	gctx, cancel := context.WithTimeout(ctx, compactTimeout)
	defer cancel()
	resp, err := admin.Get(gctx, "compaction", clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("compaction: read the current revision: %w", err)
	}
	rev := resp.Header.Revision
	return &injection{
		event: history.FaultEvent{Detail: fmt.Sprintf("keyspace compacted at revision %d", rev)},
		apply: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, compactTimeout)
			defer cancel()
			if _, err := admin.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
				return fmt.Errorf("compact at revision %d: %w", rev, err)
			}
			return nil
		},
	}, nil
}
