package runner

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// livenessSlack is added to a few lease TTLs to bound the liveness probe:
// after healing, keys of leases that nobody keeps alive expire within a TTL,
// and a new leader is elected within a few election timeouts.
const livenessSlack = 15 * time.Second

// probeLiveness proves, after healing, that every lock can be acquired and
// every election won within a bounded time, and records each attempt in the
// history as a probe operation (history.FProbe): ok when the name was
// acquired and released, fail when it was not within the bound, info when
// ctx ended first. The verdict is the liveness check's, from the history.
func (r *run) probeLiveness(ctx context.Context) error {
	bound := 3*r.sc.LeaseTTL + livenessSlack
	r.logf("checking liveness (within %v)", bound)
	pctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	setUp := r.probeSession(pctx)
	var sess *concurrency.Session
	if setUp.err == nil {
		sess = setUp.sess
		defer setUp.close()
	}
	for _, w := range r.loads {
		cfg := w.Config()
		for _, name := range w.Names() {
			op, _, err := r.rec.Begin(history.ProbeClient, history.FProbe, name, &history.Value{})
			if err != nil {
				return fmt.Errorf("record liveness probe: %w", err)
			}
			perr := setUp.err
			if perr == nil {
				perr = acquire(pctx, sess, cfg.Kind, cfg.EtcdName(name))
			}
			outcome, msg := history.Ok, ""
			switch {
			case perr == nil:
			case ctx.Err() != nil:
				outcome, msg = history.Info, "interrupted: "+perr.Error()
			default:
				outcome, msg = history.Fail, fmt.Sprintf("not within %v after healing: %v", bound, perr)
			}
			if err := r.rec.Complete(op, outcome, &history.Value{}, msg); err != nil {
				return fmt.Errorf("record liveness probe: %w", err)
			}
			r.debugf("liveness: %s %s %s", name, outcome, msg)
		}
	}
	return nil
}

// probeSetUp is the probe's session, or why there is none.
type probeSetUp struct {
	sess  *concurrency.Session
	close func()
	err   error
}

// probeSession waits for a leader and opens the probe's own session.
func (r *run) probeSession(ctx context.Context) probeSetUp {
	if _, err := r.cluster.WaitLeader(ctx); err != nil {
		return probeSetUp{err: fmt.Errorf("no leader was elected: %w", err)}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: r.cluster.Endpoints(), DialTimeout: 5 * time.Second, Logger: quietLogger()})
	if err != nil {
		return probeSetUp{err: fmt.Errorf("liveness client: %w", err)}
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(int(r.sc.LeaseTTL.Seconds()+0.5)), concurrency.WithContext(ctx))
	if err != nil {
		cli.Close()
		return probeSetUp{err: fmt.Errorf("no session could be opened: %w", err)}
	}
	return probeSetUp{sess: sess, close: func() { sess.Close(); cli.Close() }}
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
