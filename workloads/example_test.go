package workloads_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// txnLocker is a user's own lock: a key per lease under the lock name; the
// oldest key holds the lock. It polls instead of watching, to stay short.
type txnLocker struct{ cli *clientv3.Client }

func (l txnLocker) Lock(ctx context.Context, name string, lease workloads.Lease) (workloads.Held, error) {
	key := fmt.Sprintf("%s/%x", name, int64(lease.ID))
	_, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, "", clientv3.WithLease(lease.ID))).
		Commit()
	if err != nil {
		return workloads.Held{}, err
	}
	for {
		get, err := l.cli.Get(ctx, name+"/", clientv3.WithFirstCreate()...)
		if err != nil {
			return workloads.Held{}, err
		}
		if len(get.Kvs) > 0 && string(get.Kvs[0].Key) == key {
			return workloads.Held{Key: key, Rev: get.Kvs[0].CreateRevision}, nil
		}
		select {
		case <-ctx.Done():
			return workloads.Held{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (l txnLocker) Unlock(ctx context.Context, name string, held workloads.Held) error {
	_, err := l.cli.Delete(ctx, held.Key)
	return err
}

// Example_ownLocker runs a lock workload whose clients use a Locker of the
// user's own instead of a built-in backend.
func Example_ownLocker() {
	ctx := context.Background()
	cluster, err := harness.Start(ctx, harness.Config{Members: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: "own-locker"})
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := workloads.New(cluster, rec, workloads.Config{
		Kind:     workloads.KindLock,
		Clients:  2,
		MaxOps:   20,
		Unfenced: 0.5, // half the writes trust the lock, half are fenced
		Locker:   func(cli *clientv3.Client) workloads.Locker { return txnLocker{cli} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = w.Run(runCtx)
	fmt.Println("run:", err, "close:", rec.Close())
	h, err := history.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	unlocked := 0
	for _, op := range h.Operations() {
		if op.F == history.FUnlock && op.Outcome == history.Ok {
			unlocked++
		}
	}
	fmt.Println("some locks taken and released:", unlocked > 0)
	// Output:
	// run: <nil> close: <nil>
	// some locks taken and released: true
}
