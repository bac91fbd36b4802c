package workloads

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors a backend returns for outcomes that certainly had no effect.
var (
	// ErrLocked is returned by TryLock when another session holds the lock.
	ErrLocked = errors.New("lock held by another session")
	// ErrNotLeader is returned by Proclaim when the leader key no longer
	// exists with the given create revision: nothing was written.
	ErrNotLeader = errors.New("not the leader")
	// ErrFenceRejected is returned by FencedWriter.WriteFenced when the
	// guard was false (the lock key is gone or was recreated): nothing was
	// written.
	ErrFenceRejected = errors.New("guard false: the lock key is gone or was recreated")
)

// Lease is the lease a client attaches its keys to. The client grants it and
// keeps it alive; a backend only uses it.
type Lease struct {
	ID clientv3.LeaseID
	// Alive is canceled when the client stops renewing the lease. A backend
	// that starts keep-alives of its own (as concurrency.Session does) must
	// stop them when Alive is done, so that the lease can expire.
	Alive context.Context
}

// Held is a lock key and its create revision: the fencing token of a lock.
type Held struct {
	Key string
	Rev int64
	// Header is the revision of the response that granted it (0 when the
	// backend has none): a revision that existed after Lock was called.
	Header int64
}

// Locker is a distributed lock. name is the lock's etcd key prefix; keys are
// expected to be named "<name>/<lease id in hex>" as etcd's own locks are.
// Methods are called by one goroutine at a time.
type Locker interface {
	// Lock blocks until the lock is held by lease or ctx is done.
	Lock(ctx context.Context, name string, lease Lease) (Held, error)
	// Unlock releases a lock returned by Lock.
	Unlock(ctx context.Context, name string, held Held) error
}

// TryLocker is a Locker that can also try to lock without waiting. A
// workload uses TryLock for some of its lock operations when the Locker
// implements it.
type TryLocker interface {
	Locker
	// TryLock takes the lock if it is free and returns ErrLocked (having
	// left nothing behind) if another session holds it.
	TryLock(ctx context.Context, name string, lease Lease) (Held, error)
}

// FencedWriter is a Locker that makes the critical section's fenced writes
// itself, for a lock whose fencing differs from etcd's (a guard on the lock
// key's create revision, which the workload uses for every other Locker).
// The workload records each call as a fenced write: ok means the write took
// effect while held was still the lock.
type FencedWriter interface {
	Locker
	// WriteFenced puts value at key only while held still holds the lock,
	// and returns the revision of the write, or ErrFenceRejected (nothing
	// written) when it no longer does.
	WriteFenced(ctx context.Context, held Held, key, value string) (rev int64, err error)
}

// Leadership identifies a won election: the leader key, its create revision
// and its lease.
type Leadership struct {
	Key   string
	Rev   int64
	Lease clientv3.LeaseID
	// Header is the revision of the response that elected it (0 when the
	// backend has none).
	Header int64
}

// LeaderInfo is a leader as read or observed: its key, value, create and
// modification revisions and lease.
type LeaderInfo struct {
	Key    string
	Value  string
	Rev    int64
	ModRev int64
	Lease  int64
	// Header is the revision of a leader read's response (0 for observed
	// values and when the backend has none).
	Header int64
}

// Elector is a leader election. name is the election's etcd key prefix.
// Campaign, Proclaim and Resign are called by one goroutine at a time;
// Leader and Observe may be called concurrently with them.
type Elector interface {
	// Campaign blocks until lease is elected leader with value, or ctx is done.
	Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error)
	// Proclaim sets a new value while still leader; ErrNotLeader if the
	// leader key is gone (nothing was written).
	Proclaim(ctx context.Context, name string, l Leadership, value string) error
	// Resign gives up leadership.
	Resign(ctx context.Context, name string, l Leadership) error
	// Leader returns the current leader; found is false when there is none.
	Leader(ctx context.Context, name string) (info LeaderInfo, found bool, err error)
	// Observe streams every leader value it sees, starting with the current
	// leader's; the channel is closed when ctx is done or the stream breaks.
	Observe(ctx context.Context, name string) (<-chan LeaderInfo, error)
}

// LockerFactory makes the Locker of one client from its etcd client.
type LockerFactory func(cli *clientv3.Client) Locker

// ElectorFactory makes the Elector of one client from its etcd client.
type ElectorFactory func(cli *clientv3.Client) Elector

// ClientVersion is the version of the etcd client library this binary was
// built with (e.g. "3.7.3"): the concurrency backend runs its concurrency
// package, so a bug there is judged by this version, not the server's.
func ClientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "go.etcd.io/etcd/client/v3" {
				if m.Replace != nil {
					m = m.Replace
				}
				if v := strings.TrimPrefix(m.Version, "v"); v != "" && v != "(devel)" {
					return v
				}
			}
		}
	}
	return version.Version // the API module, released together with the client
}
