package faults

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// RevokeBehind revokes a lock holder's or leader's lease right behind a
// revoke of a lease of the nemesis's own that holds ballastKeys keys. etcd
// applies the two one after the other: the client's revoke waits in the
// apply queue while the first deletes its keys, and questions about the
// client's lease asked meanwhile wait for the applied index too, so they
// are answered just as its revoke begins deleting its keys, as on a busy
// cluster that revokes many leases at once. A lessor that answers for a
// lease while its revoke deletes its keys (etcd issue 14758) is then seen.
const RevokeBehind = "revoke-behind"

func init() {
	register(RevokeBehind, history.KindRevokeLease, revokeBehind, nil)
}

const (
	// ballastKeys is how many keys the nemesis's own lease holds: tens of
	// milliseconds of apply work, longer than the 20 ms between questions.
	ballastKeys = 3000
	// ballastLead is how long the client's revoke follows the first: enough
	// for the first to be committed and applied alone, not enough for its
	// keys to be gone.
	ballastLead = 20 * time.Millisecond
	// ballastTTL bounds how long the ballast outlives a fault whose revoke
	// failed.
	ballastTTL = 30
	// BallastRoot holds the ballast's keys: outside every workload's keys
	// and the observer's range.
	BallastRoot = "/etcdchaos-nemesis/ballast/"
)

// leaseWriter grants leases and puts keys with them as well as revoking
// them; *clientv3.Client is one.
type leaseWriter interface {
	LeaseRevoker
	Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error)
	Txn(ctx context.Context) clientv3.Txn
}

func revokeBehind(ctx context.Context, env *Env, choice uint64) (*injection, error) {
	w, ok := env.Admin.(leaseWriter)
	if !ok {
		return nil, errNotApplicable
	}
	c, lease, err := pickLeased(ctx, env, choice, holding)
	if err != nil {
		return nil, err
	}
	ballast, err := grantBallast(ctx, w)
	if err != nil {
		return nil, err
	}
	return &injection{
		event: history.FaultEvent{Target: c.ID(), Lease: lease,
			Detail: fmt.Sprintf("lease %x of client %d, behind a revoke of %d keys", lease, c.ID(), ballastKeys)},
		apply: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			first := make(chan struct{})
			go func() {
				defer close(first)
				_, _ = w.Revoke(ctx, ballast)
			}()
			sleepUntil(ctx, time.Now().Add(ballastLead))
			_, err := w.Revoke(ctx, clientv3.LeaseID(lease))
			<-first // bounded by ctx; a ballast whose revoke failed expires
			if err != nil {
				return fmt.Errorf("revoke lease %x of client %d: %w", lease, c.ID(), err)
			}
			return nil
		},
	}, nil
}

// grantBallast grants a lease of the nemesis's own and puts ballastKeys
// keys with it, a hundred per txn.
func grantBallast(ctx context.Context, w leaseWriter) (clientv3.LeaseID, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	g, err := w.Grant(ctx, ballastTTL)
	if err != nil {
		return 0, fmt.Errorf("ballast lease: %w", err)
	}
	for from := 0; from < ballastKeys; from += 100 {
		puts := make([]clientv3.Op, 0, 100)
		for i := from; i < min(from+100, ballastKeys); i++ {
			puts = append(puts, clientv3.OpPut(fmt.Sprintf("%s%x/k%05d", BallastRoot, int64(g.ID), i), "", clientv3.WithLease(g.ID)))
		}
		if _, err := w.Txn(ctx).Then(puts...).Commit(); err != nil {
			return 0, fmt.Errorf("ballast keys: %w", err)
		}
	}
	return g.ID, nil
}
