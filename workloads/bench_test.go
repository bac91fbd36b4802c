package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/workloads/observer"
)

// pairsPerIteration is how many lock/unlock pairs one benchmark iteration
// performs, so that even -benchtime 5x measures a meaningful run.
const pairsPerIteration = 200

// BenchmarkLockOverhead compares lock/unlock pairs per second through the
// workload and recorder (concurrency backend, no writes, no think time, no
// TryLock), without and with server truth recorded, with a bare
// concurrency.Mutex loop driving the same number of clients over the same
// names on the same cluster.
func BenchmarkLockOverhead(b *testing.B) {
	c := cluster(b)
	var bare, workload, truth float64
	b.Run("bare", func(b *testing.B) { bare = benchBare(b, c) })
	b.Run("workload", func(b *testing.B) { workload = benchWorkload(b, c, false) })
	b.Run("workload+truth", func(b *testing.B) { truth = benchWorkload(b, c, true) })
	if bare > 0 && workload > 0 && truth > 0 {
		b.Logf("bare %.0f pairs/s, workload %.0f pairs/s: overhead %.1f%%; with server truth %.0f pairs/s: %.1f%% slower than without",
			bare, workload, 100*(1-workload/bare), truth, 100*(1-truth/workload))
	}
}

// recordTruth starts an observer of w's keys, as every run does, and
// returns what stops it once it has caught up.
func recordTruth(b *testing.B, c *harness.Cluster, w *Workload, rec *history.Recorder) func() {
	o, err := observer.Start(context.Background(), observer.Config{Endpoints: c.Endpoints(), Root: w.KeyRoot(),
		Targets: w.Watched(), Rec: rec})
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		_, err := o.CatchUp(context.Background(), 10*time.Second)
		if err := errors.Join(err, o.Close()); err != nil {
			b.Fatal(err)
		}
	}
}

var benchRun atomic.Int64

func benchWorkload(b *testing.B, c *harness.Cluster, truth bool) float64 {
	target := int64(b.N * pairsPerIteration)
	cfg := Config{Kind: KindLock, Backend: BackendConcurrency, Writes: -1, MaxThink: -1, TryLock: -1,
		MaxOps: 2 * target, Prefix: fmt.Sprintf("/bench-w%d", benchRun.Add(1))}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	w, err := New(c, rec, cfg)
	if err != nil {
		b.Fatal(err)
	}
	stopTruth := func() {}
	if truth {
		stopTruth = recordTruth(b, c, w, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	err = w.Run(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	stopTruth()
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
	h, err := history.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// Like the bare loop's, the measured window leaves out setting up and
	// tearing down sessions: it runs from the first lock invoke to the last
	// unlock completion.
	pairs, first, last := measuredWindow(h, history.FLock, history.FUnlock)
	if pairs == 0 || last <= first || time.Duration(last-first) > elapsed {
		b.Fatalf("no measurable run: %d pairs in [%d, %d]", pairs, first, last)
	}
	rate := float64(pairs) / time.Duration(last-first).Seconds()
	b.ReportMetric(rate, "pairs/s")
	return rate
}

func benchBare(b *testing.B, c *harness.Cluster) float64 {
	target := int64(b.N * pairsPerIteration)
	prefix := fmt.Sprintf("/bench-b%d", benchRun.Add(1))
	names := Config{Kind: KindLock, Names: DefaultNames}.names()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return runBare(b, bareSessions(b, c), "pairs/s", func(_ int, s *concurrency.Session, rng *rand.Rand, done *atomic.Int64) error {
		for done.Load() < target {
			m := concurrency.NewMutex(s, prefix+"/lock/"+names[rng.IntN(len(names))])
			if err := m.Lock(ctx); err != nil {
				return err
			}
			if err := m.Unlock(ctx); err != nil {
				return err
			}
			done.Add(1)
		}
		return nil
	})
}

// bareSessions opens one session per default client, each through its own
// harness client, closed when the benchmark ends.
func bareSessions(b *testing.B, c *harness.Cluster) []*concurrency.Session {
	var sessions []*concurrency.Session
	for i := 1; i <= DefaultClients; i++ {
		conn, err := c.NewClient((i-1)%c.Size() + 1)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		s, err := concurrency.NewSession(conn.Client, concurrency.WithTTL(int(DefaultLeaseTTL/time.Second)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		sessions = append(sessions, s)
	}
	return sessions
}

// runBare times one worker per session (each with its own seeded source),
// fails on any worker error and reports the units done per second.
func runBare(b *testing.B, sessions []*concurrency.Session, unit string,
	worker func(i int, s *concurrency.Session, rng *rand.Rand, done *atomic.Int64) error) float64 {
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(sessions))
	b.ResetTimer()
	start := time.Now()
	for i, s := range sessions {
		wg.Go(func() {
			if err := worker(i, s, rand.New(rand.NewPCG(1, uint64(i))), &done); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	rate := float64(done.Load()) / elapsed.Seconds()
	b.ReportMetric(rate, unit)
	return rate
}

// measuredWindow finds the span a workload benchmark measures, from the
// first invoke of begin to the last ok completion of end, and counts the
// ok ends (lock/unlock pairs or election terms).
func measuredWindow(h *history.History, begin, end string) (n int, first, last int64) {
	first = history.Never
	for _, op := range h.Operations() {
		if op.F == begin {
			first = min(first, op.Call)
		}
		if op.F == end && op.Outcome == history.Ok {
			n++
			last = max(last, op.Completed)
		}
	}
	return n, first, last
}
