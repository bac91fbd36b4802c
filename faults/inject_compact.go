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

// Compaction injector names, as used in scenarios.
const (
	Compaction = history.KindCompaction
	// CompactBehindWaiter cuts off a client waiting in Lock or Campaign,
	// for less than its lease lives, and compacts the keyspace past the
	// revision its watch waits from while it is cut off: its watch resumes
	// at a compacted revision and is refused (etcd issue 21128's path:
	// Campaign then returns the error and leaves its key).
	CompactBehindWaiter = history.KindCompactBehindWaiter
)

func init() {
	register(Compaction, history.KindCompaction, compact, nil)
	register(CompactBehindWaiter, history.KindCompactBehindWaiter, compactBehindWaiter, withinLease)
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

// compactBehindWaiter cuts a waiting client off, waits for the revision to
// move past the one current when it was cut off (a watch that waits
// resumes from a revision at or below it), and compacts there. The
// history records it as one fault of its own kind, aimed at the client,
// which ends when the client is reconnected.
func compactBehindWaiter(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	admin, ok := env.Admin.(compactor)
	if !ok {
		return nil, fmt.Errorf("compaction: the admin client (%T) cannot compact", env.Admin)
	}
	await(ctx, env, waiting, holderWait)
	r := waiting
	c, err := pick(env, choice, &r)
	if err != nil {
		return nil, err
	}
	cut := isolation(env, c, fmt.Sprintf("client %d cut from member %d, %s; the keyspace compacted past the revision current when it was cut off",
		c.ID(), c.Member(), r.describe(c)))
	isolate := cut.apply
	cut.apply = func(ctx context.Context) error {
		if err := isolate(ctx); err != nil {
			return err
		}
		return compactPastNow(ctx, admin)
	}
	return cut, nil
}

// compactPastNow compacts at the first revision above the current one, once
// the cluster has reached it: a watch created at or below the current
// revision then cannot resume. It gives up after compactTimeout.
func compactPastNow(ctx context.Context, admin compactor) error {
	ctx, cancel := context.WithTimeout(ctx, compactTimeout)
	defer cancel()
	resp, err := admin.Get(ctx, "compaction", clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("compaction: read the current revision: %w", err)
	}
	past := resp.Header.Revision + 1
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for resp.Header.Revision < past {
		select {
		case <-ctx.Done():
			return fmt.Errorf("compaction: the revision did not pass %d: %w", past-1, ctx.Err())
		case <-tick.C:
		}
		if resp, err = admin.Get(ctx, "compaction", clientv3.WithCountOnly()); err != nil {
			return fmt.Errorf("compaction: read the current revision: %w", err)
		}
	}
	if _, err := admin.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		return fmt.Errorf("compact at revision %d: %w", resp.Header.Revision, err)
	}
	return nil
}
