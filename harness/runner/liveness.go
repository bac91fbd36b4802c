package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// livenessSlack is added to a few lease TTLs to bound the liveness check:
// after healing, keys of leases that nobody keeps alive expire within a TTL,
// and a new leader is elected within a few election timeouts.
const livenessSlack = 15 * time.Second

// checkLiveness proves that, after healing, every lock can be acquired and
// every election won within a bounded time.
func (r *run) checkLiveness(ctx context.Context) models.CheckResult {
	start := time.Now()
	bound := 3*r.sc.LeaseTTL + livenessSlack
	r.logf("checking liveness (within %v)", bound)
	res := models.CheckResult{Check: models.CheckLiveness, Name: "cluster", Verdict: models.Ok}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var done []string
	err := r.tryLiveness(ctx, &done)
	res.Ops = len(done)
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Verdict, res.Fails = models.Violation, true
		res.Account = fmt.Sprintf("within %v after healing, %v (succeeded first: %s)",
			bound, err, strings.Join(done, ", "))
	}
	r.logf("liveness: %s %s", res.Verdict, res.Account)
	return res
}

func (r *run) tryLiveness(ctx context.Context, done *[]string) error {
	if _, err := r.cluster.WaitLeader(ctx); err != nil {
		return fmt.Errorf("no leader was elected: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: r.cluster.Endpoints(), DialTimeout: 5 * time.Second, Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("liveness client: %w", err)
	}
	defer cli.Close()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(int(r.sc.LeaseTTL.Seconds()+0.5)), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("no session could be opened: %w", err)
	}
	defer sess.Close()
	for _, w := range r.loads {
		cfg := w.Config()
		for _, name := range w.Names() {
			if err := acquire(ctx, sess, cfg.Kind, cfg.EtcdName(name)); err != nil {
				return fmt.Errorf("%s %s could not be acquired: %w", cfg.Kind, name, err)
			}
			*done = append(*done, fmt.Sprintf("%s %s", cfg.Kind, name))
		}
	}
	return nil
}

// acquire locks and unlocks a lock, or wins and resigns an election.
func acquire(ctx context.Context, sess *concurrency.Session, kind workloads.Kind, prefix string) error {
	if kind == workloads.KindElection {
		e := concurrency.NewElection(sess, prefix)
		if err := e.Campaign(ctx, "liveness"); err != nil {
			return err
		}
		return e.Resign(ctx)
	}
	m := concurrency.NewMutex(sess, prefix)
	if err := m.Lock(ctx); err != nil {
		return err
	}
	return m.Unlock(ctx)
}

func quietLogger() *zap.Logger { return zap.NewNop() }
