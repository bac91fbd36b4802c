package workloads

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ignoreLeaseLocker is the lock-ignore-lease mutant: its fenced writes
// (FencedWriter) go ahead as plain puts when the guard fails, that is once
// its lock key is gone because its lease was revoked or expired, and report
// success. Locking and unlocking are the base's. It shows under lease
// faults, when a client writes after another was granted the lock.
type ignoreLeaseLocker struct {
	Locker
	cli *clientv3.Client
}

func newIgnoreLeaseLocker(cli *clientv3.Client, base Locker) Locker {
	return &ignoreLeaseLocker{Locker: base, cli: cli}
}

func (l *ignoreLeaseLocker) WriteFenced(ctx context.Context, held Held, key, value string) (int64, error) {
	rev, err := fencedPut(ctx, l.cli, held, key, value)
	if !errors.Is(err, ErrFenceRejected) {
		return rev, err
	}
	resp, err := l.cli.Put(ctx, key, value)
	if err != nil {
		return 0, fmt.Errorf("lock-ignore-lease write %s: %w", key, err)
	}
	return resp.Header.Revision, nil
}

// Close closes the base Locker.
func (l *ignoreLeaseLocker) Close() error { return closeBase(l.Locker) }
