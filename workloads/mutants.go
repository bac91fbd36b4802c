package workloads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// Mutant is a deliberately broken lock or election client: a small wrapper
// around a Locker or Elector that breaks one guarantee. Running a scenario
// with a mutant (Config.Mutant, `etcdchaos run --mutant NAME`) must make the
// named check fail: that is how the harness proves it finds such bugs.
type Mutant struct {
	Name        string
	Description string
	// Kind is the workload kind the mutant breaks; workloads of the other
	// kind run unmodified.
	Kind Kind
	// Check is the models check expected to catch it.
	Check string
	// Breaks is the history function of the operations it breaks.
	Breaks string
	// Scenario is a short scenario that shows the bug (some need faults).
	Scenario string
	// Names, if set, is how many lock or election names a run with the
	// mutant uses unless told otherwise: some bugs show at once on one name
	// but can stall on two.
	Names int
	// Locker (for lock mutants) wraps the Locker factory the workload would
	// otherwise use; Elector (for election mutants) the Elector factory.
	Locker  func(base LockerFactory) LockerFactory
	Elector func(base ElectorFactory) ElectorFactory
}

var mutants = []Mutant{
	{Name: "lock-no-wait", Kind: KindLock, Check: models.CheckLock, Breaks: history.FLock, Scenario: "smoke",
		Description: "Lock creates its key and returns at once, without waiting for older keys to go",
		Locker:      wrapLocker(newNoWaitLocker)},
	{Name: "lock-ignore-lease", Kind: KindLock, Check: models.CheckFenced, Breaks: history.FWrite, Scenario: "lock-lease",
		Description: "a fenced write whose guard fails (its lease is gone) is retried as a plain put and reported ok",
		Locker:      wrapLocker(newIgnoreLeaseLocker)},
	// Two holders that keep their keys and then wait for each other's name
	// stall until their locks time out; on one name the holder's next lock
	// is the bug.
	{Name: "unlock-foreign", Kind: KindLock, Check: models.CheckLock, Breaks: history.FUnlock, Scenario: "smoke", Names: 1,
		Description: "Unlock deletes the next waiter's key instead of its own, so it still holds the lock",
		Locker:      wrapLocker(newForeignUnlocker)},
	{Name: "proclaim-unguarded", Kind: KindElection, Check: models.CheckElection, Breaks: history.FProclaim, Scenario: "election-lease",
		Description: "Proclaim writes the leader key with a plain put, leader or not, and reports ok",
		Elector:     wrapElector(newUnguardedElector)},
	{Name: "campaign-no-wait", Kind: KindElection, Check: models.CheckElection, Breaks: history.FCampaign, Scenario: "smoke",
		Description: "Campaign creates its key and declares itself leader without waiting for older keys to go",
		Elector:     wrapElector(newNoWaitElector)},
	{Name: "observe-reorder", Kind: KindElection, Check: models.CheckObserve, Breaks: history.FObserve, Scenario: "smoke",
		Description: "Observe delivers each pair of values in swapped order",
		Elector:     wrapElector(newReorderElector)},
}

// Mutants returns the built-in mutants, sorted by name.
func Mutants() []Mutant {
	out := append([]Mutant(nil), mutants...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupMutant finds a mutant by name.
func LookupMutant(name string) (Mutant, error) {
	names := make([]string, 0, len(mutants))
	for _, m := range Mutants() {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return Mutant{}, fmt.Errorf("unknown mutant %q (expected one of %s)", name, strings.Join(names, ", "))
}

// wrapLocker turns a constructor of a broken Locker around a working one
// into a Mutant's Locker field.
func wrapLocker(mk func(cli *clientv3.Client, base Locker) Locker) func(LockerFactory) LockerFactory {
	return func(base LockerFactory) LockerFactory {
		return func(cli *clientv3.Client) Locker { return mk(cli, base(cli)) }
	}
}

// wrapElector is wrapLocker for Electors.
func wrapElector(mk func(cli *clientv3.Client, base Elector) Elector) func(ElectorFactory) ElectorFactory {
	return func(base ElectorFactory) ElectorFactory {
		return func(cli *clientv3.Client) Elector { return mk(cli, base(cli)) }
	}
}

// closeBase closes a wrapped backend that has a Close method.
func closeBase(b any) error {
	if c, ok := b.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// leaseKey is the key of a lease under a lock or election name, as etcd's
// own locks and elections name it.
func leaseKey(name string, lease clientv3.LeaseID) string {
	return fmt.Sprintf("%s/%x", name, int64(lease))
}

// createKey creates key with value on lease unless it exists, and returns
// its create revision either way.
func createKey(ctx context.Context, cli *clientv3.Client, key, value string, lease clientv3.LeaseID) (int64, error) {
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, value, clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return 0, fmt.Errorf("create %s: %w", key, errKeyVanished)
	}
	return kvs[0].CreateRevision, nil
}

// errKeyVanished means a key that existed a moment ago was gone when read.
var errKeyVanished = errors.New("key vanished")
