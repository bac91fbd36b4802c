package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// electionWindow is how long one benchmark iteration drives elections.
const electionWindow = 2 * time.Second

// BenchmarkElectionOverhead compares campaign/resign terms per second
// through the workload and recorder (concurrency backend, no proclaims, no
// observers, no think time) with a bare concurrency.Election loop driving
// the same clients over the same names on the same cluster: as in the
// workload, a third of the clients only read the leader. Each iteration
// runs for electionWindow (the workload's readers would spend an operation
// budget long before the campaigners).
func BenchmarkElectionOverhead(b *testing.B) {
	c := cluster(b)
	var bare, workload, truth float64
	b.Run("bare", func(b *testing.B) { bare = benchBareElection(b, c) })
	b.Run("workload", func(b *testing.B) { workload = benchElectionWorkload(b, c, false) })
	b.Run("workload+truth", func(b *testing.B) { truth = benchElectionWorkload(b, c, true) })
	if bare > 0 && workload > 0 && truth > 0 {
		b.Logf("bare %.0f terms/s, workload %.0f terms/s: overhead %.1f%%; with server truth %.0f terms/s: %.1f%% slower than without",
			bare, workload, 100*(1-workload/bare), truth, 100*(1-truth/workload))
	}
}

func benchElectionWorkload(b *testing.B, c *harness.Cluster, truth bool) float64 {
	cfg := Config{Kind: KindElection, Backend: BackendConcurrency, Writes: -1, MaxThink: -1, Observers: -1,
		Prefix: fmt.Sprintf("/bench-we%d", benchRun.Add(1))}
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.N)*electionWindow)
	defer cancel()
	b.ResetTimer()
	err = w.Run(ctx)
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
	// The window runs from the first campaign to the last resign, as the
	// bare loop's leaves out sessions.
	terms, first, last := measuredWindow(h, history.FCampaign, history.FResign)
	if terms == 0 || last <= first {
		b.Fatalf("no measurable run: %d terms in [%d, %d]", terms, first, last)
	}
	rate := float64(terms) / time.Duration(last-first).Seconds()
	b.ReportMetric(rate, "terms/s")
	return rate
}

func benchBareElection(b *testing.B, c *harness.Cluster) float64 {
	prefix := fmt.Sprintf("/bench-be%d", benchRun.Add(1))
	readers := Config{Kind: KindElection, Clients: DefaultClients}.readers()
	names := Config{Kind: KindElection, Names: DefaultNames}.names()
	sessions := bareSessions(b, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.N)*electionWindow)
	defer cancel()
	return runBare(b, sessions, "terms/s", func(i int, s *concurrency.Session, rng *rand.Rand, done *atomic.Int64) error {
		for ctx.Err() == nil {
			e := concurrency.NewElection(s, prefix+"/election/"+names[rng.IntN(len(names))])
			if i >= len(sessions)-readers {
				_, _ = e.Leader(ctx)
				continue
			}
			if err := e.Campaign(ctx, fmt.Sprint(i)); err != nil {
				if ctx.Err() == nil {
					return err
				}
				return nil
			}
			rctx, rcancel := context.WithTimeout(context.Background(), DefaultOpTimeout)
			err := e.Resign(rctx)
			rcancel()
			if err != nil {
				return err
			}
			done.Add(1)
		}
		return nil
	})
}
