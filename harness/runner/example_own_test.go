package runner_test

import (
	"context"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// session is what a user's wrappers around clientv3/concurrency share: a
// session on the lease the workload's client hands them.
type session struct {
	cli  *clientv3.Client
	sess *concurrency.Session
}

func (s *session) on(lease workloads.Lease) (*concurrency.Session, error) {
	if s.sess != nil && s.sess.Lease() == lease.ID {
		return s.sess, nil
	}
	sess, err := concurrency.NewSession(s.cli, concurrency.WithLease(lease.ID), concurrency.WithContext(lease.Alive))
	if err != nil {
		return nil, err
	}
	s.sess = sess
	return sess, nil
}

// myLock is a user's lock: a thin wrapper around concurrency.Mutex.
type myLock struct{ session }

func (l *myLock) Lock(ctx context.Context, name string, lease workloads.Lease) (workloads.Held, error) {
	sess, err := l.on(lease)
	if err != nil {
		return workloads.Held{}, err
	}
	m := concurrency.NewMutex(sess, name)
	if err := m.Lock(ctx); err != nil {
		return workloads.Held{}, err
	}
	// The fencing token is the lock key's create revision.
	get, err := l.cli.Get(ctx, m.Key())
	if err != nil || len(get.Kvs) == 0 {
		return workloads.Held{}, fmt.Errorf("read lock key %s: %v", m.Key(), err)
	}
	return workloads.Held{Key: m.Key(), Rev: get.Kvs[0].CreateRevision}, nil
}

func (l *myLock) Unlock(ctx context.Context, name string, held workloads.Held) error {
	_, err := l.cli.Delete(ctx, held.Key)
	return err
}

// myElection is a user's election: a thin wrapper around
// concurrency.Election. Leader and Observe come from a built-in backend
// here; a user's own would do as well.
type myElection struct {
	session
	reads workloads.Elector
}

func (e *myElection) Campaign(ctx context.Context, name string, lease workloads.Lease, value string) (workloads.Leadership, error) {
	sess, err := e.on(lease)
	if err != nil {
		return workloads.Leadership{}, err
	}
	el := concurrency.NewElection(sess, name)
	if err := el.Campaign(ctx, value); err != nil {
		return workloads.Leadership{}, err
	}
	return workloads.Leadership{Key: el.Key(), Rev: el.Rev(), Lease: lease.ID}, nil
}

// resume rebuilds the election a leadership belongs to.
func (e *myElection) resume(name string, l workloads.Leadership) (*concurrency.Election, error) {
	sess, err := e.on(workloads.Lease{ID: l.Lease, Alive: e.cli.Ctx()})
	if err != nil {
		return nil, err
	}
	return concurrency.ResumeElection(sess, name, l.Key, l.Rev), nil
}

func (e *myElection) Proclaim(ctx context.Context, name string, l workloads.Leadership, value string) error {
	el, err := e.resume(name, l)
	if err != nil {
		return err
	}
	if err := el.Proclaim(ctx, value); err == concurrency.ErrElectionNotLeader {
		return workloads.ErrNotLeader
	} else {
		return err
	}
}

func (e *myElection) Resign(ctx context.Context, name string, l workloads.Leadership) error {
	el, err := e.resume(name, l)
	if err != nil {
		return err
	}
	return el.Resign(ctx)
}

func (e *myElection) Leader(ctx context.Context, name string) (workloads.LeaderInfo, bool, error) {
	return e.reads.Leader(ctx, name)
}

func (e *myElection) Observe(ctx context.Context, name string) (<-chan workloads.LeaderInfo, error) {
	return e.reads.Observe(ctx, name)
}

// Example_ownImplementation runs a whole scenario against a user's own lock
// and election, checked exactly as etcd's own are: the history against the
// models, then liveness.
func Example_ownImplementation() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sc, err := faults.Lookup("smoke")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := runner.Run(context.Background(), sc, runner.Options{
		Seed: 1, Duration: 3 * time.Second, Members: 1, Out: dir,
		Locker: func(cli *clientv3.Client) workloads.Locker { return &myLock{session{cli: cli}} },
		Elector: func(cli *clientv3.Client) workloads.Elector {
			return &myElection{session: session{cli: cli}, reads: workloads.ConcurrencyElector(cli)}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verdict:", res.Verdict, "exit code:", res.ExitCode)
	// Output: verdict: ok exit code: 0
}
