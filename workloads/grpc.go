package workloads

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc/status"
)

// GRPCLocker is the Locker of etcd's v3lock gRPC service (Lock and Unlock
// with a lease the client keeps alive).
func GRPCLocker(cli *clientv3.Client) Locker {
	return &grpcLocker{cli: cli, lc: v3lockpb.NewLockClient(cli.ActiveConnection())}
}

type grpcLocker struct {
	cli *clientv3.Client
	lc  v3lockpb.LockClient
}

// errLockKeyGone means Lock returned but its key no longer exists.
var errLockKeyGone = errors.New("lock key gone right after the lock was granted")

// Lock takes the lock, then reads the lock key for its create revision (the
// response header has it only when the lock was free).
func (g *grpcLocker) Lock(ctx context.Context, name string, lease Lease) (Held, error) {
	resp, err := g.lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte(name), Lease: int64(lease.ID)})
	if err != nil {
		return Held{}, fmt.Errorf("v3lock lock %s: %w", name, serverError(err))
	}
	get, err := g.cli.Get(ctx, string(resp.Key))
	if err != nil {
		return Held{}, fmt.Errorf("v3lock lock %s: read create revision of %s: %w", name, resp.Key, err)
	}
	if len(get.Kvs) == 0 {
		return Held{}, fmt.Errorf("v3lock lock %s: %s: %w", name, resp.Key, errLockKeyGone)
	}
	return Held{Key: string(resp.Key), Rev: get.Kvs[0].CreateRevision, Header: get.Header.Revision}, nil
}

func (g *grpcLocker) Unlock(ctx context.Context, name string, held Held) error {
	if _, err := g.lc.Unlock(ctx, &v3lockpb.UnlockRequest{Key: []byte(held.Key)}); err != nil {
		return fmt.Errorf("v3lock unlock %s: %w", held.Key, serverError(err))
	}
	return nil
}

// GRPCElector is the Elector of etcd's v3election gRPC service.
func GRPCElector(cli *clientv3.Client) Elector {
	return &grpcElector{ec: v3electionpb.NewElectionClient(cli.ActiveConnection())}
}

type grpcElector struct{ ec v3electionpb.ElectionClient }

func (g *grpcElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	resp, err := g.ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte(name), Lease: int64(lease.ID), Value: []byte(value)})
	if err != nil {
		return Leadership{}, fmt.Errorf("v3election campaign %s: %w", name, serverError(err))
	}
	l := resp.Leader
	return Leadership{Key: string(l.Key), Rev: l.Rev, Lease: clientv3.LeaseID(l.Lease), Header: resp.GetHeader().GetRevision()}, nil
}

func leaderKey(name string, l Leadership) *v3electionpb.LeaderKey {
	return &v3electionpb.LeaderKey{Name: []byte(name), Key: []byte(l.Key), Rev: l.Rev, Lease: int64(l.Lease)}
}

func (g *grpcElector) Proclaim(ctx context.Context, name string, l Leadership, value string) error {
	if _, err := g.ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: leaderKey(name, l), Value: []byte(value)}); err != nil {
		return fmt.Errorf("v3election proclaim %s: %w", l.Key, serverError(err))
	}
	return nil
}

func (g *grpcElector) Resign(ctx context.Context, name string, l Leadership) error {
	if _, err := g.ec.Resign(ctx, &v3electionpb.ResignRequest{Leader: leaderKey(name, l)}); err != nil {
		return fmt.Errorf("v3election resign %s: %w", l.Key, serverError(err))
	}
	return nil
}

func (g *grpcElector) Leader(ctx context.Context, name string) (LeaderInfo, bool, error) {
	resp, err := g.ec.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte(name)})
	if err != nil {
		err = serverError(err)
		if err == concurrency.ErrElectionNoLeader {
			return LeaderInfo{}, false, nil
		}
		return LeaderInfo{}, false, fmt.Errorf("v3election leader %s: %w", name, err)
	}
	if resp.Kv == nil {
		return LeaderInfo{}, false, nil
	}
	info := leaderInfo(resp.Kv.Key, resp.Kv.Value, resp.Kv.CreateRevision, resp.Kv.ModRevision, resp.Kv.Lease)
	info.Header = resp.GetHeader().GetRevision()
	return info, true, nil
}

func leaderInfo(key, value []byte, rev, modRev, lease int64) LeaderInfo {
	return LeaderInfo{Key: string(key), Value: string(value), Rev: rev, ModRev: modRev, Lease: lease}
}

func (g *grpcElector) Observe(ctx context.Context, name string) (<-chan LeaderInfo, error) {
	stream, err := g.ec.Observe(ctx, &v3electionpb.LeaderRequest{Name: []byte(name)})
	if err != nil {
		return nil, fmt.Errorf("v3election observe %s: %w", name, serverError(err))
	}
	ch := make(chan LeaderInfo)
	go func() {
		defer close(ch)
		for {
			resp, err := stream.Recv()
			if err != nil || resp.Kv == nil {
				return
			}
			select {
			case ch <- leaderInfo(resp.Kv.Key, resp.Kv.Value, resp.Kv.CreateRevision, resp.Kv.ModRevision, resp.Kv.Lease):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// serverError maps the plain errors the lock and election services return
// (which reach the client as gRPC status messages) back to their sentinels.
func serverError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Message() {
	case concurrency.ErrElectionNotLeader.Error():
		return ErrNotLeader
	case concurrency.ErrElectionNoLeader.Error():
		return concurrency.ErrElectionNoLeader
	}
	return err
}
