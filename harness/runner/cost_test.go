//go:build unix

package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/history"
)

// runCostDuration is how long each side of BenchmarkRunCost runs.
const runCostDuration = 20 * time.Second

// cpuTime is the CPU time, user and system, used so far by this process and
// by its children that have been waited for (etcd processes in process
// mode).
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// opRates are the operations a run invoked per second, by kind.
type opRates struct {
	locks, writes, campaigns, proclaims float64
}

func ratesOf(h *history.History, d time.Duration) opRates {
	var r opRates
	for _, op := range h.Operations() {
		switch op.F {
		case history.FLock:
			r.locks++
		case history.FWrite:
			r.writes++
		case history.FCampaign:
			r.campaigns++
		case history.FProclaim:
			r.proclaims++
		}
	}
	s := d.Seconds()
	return opRates{r.locks / s, r.writes / s, r.campaigns / s, r.proclaims / s}
}

// BenchmarkRunCost reports the CPU seconds a run costs per second it runs
// (cpu-s/run-s: this process and its etcd children, user and system, from
// getrusage), for the default scenario (mixed, embedded members, seed 1)
// from start to report, and, beside it, for a bare embedded etcd cluster
// serving the same lock/unlock, write, campaign and proclaim operations per
// second through plain clientv3 concurrency (no proxies, recording, observer,
// faults or checking), from its start to its close. What is left between the
// two is the harness. Run with -benchtime 1x (about 1 minute).
func BenchmarkRunCost(b *testing.B) {
	sc, err := faults.Lookup(faults.DefaultScenario)
	if err != nil {
		b.Fatal(err)
	}
	var rates opRates
	b.Run("etcdchaos", func(b *testing.B) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			opts := Options{Seed: 1, Duration: runCostDuration, Out: filepath.Join(b.TempDir(), "run")}
			before := cpuTime()
			res, err := Run(context.Background(), sc, opts)
			cpu += cpuTime() - before
			if err != nil {
				b.Fatal(err)
			}
			h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			rates = ratesOf(h, runCostDuration)
		}
		reportCost(b, cpu, rates)
	})
	b.Run("bare", func(b *testing.B) {
		if rates.locks == 0 && rates.campaigns == 0 {
			b.Skip("needs the operation rates of the etcdchaos sub-benchmark")
		}
		var cpu time.Duration
		var done opRates
		for i := 0; i < b.N; i++ {
			before := cpuTime()
			done = runBareCluster(b, rates, runCostDuration)
			cpu += cpuTime() - before
		}
		reportCost(b, cpu, done)
	})
}

func reportCost(b *testing.B, cpu time.Duration, r opRates) {
	b.ReportMetric(cpu.Seconds()/(float64(b.N)*runCostDuration.Seconds()), "cpu-s/run-s")
	b.ReportMetric(r.locks, "locks/s")
	b.ReportMetric(r.campaigns, "campaigns/s")
	b.ReportMetric(r.writes+r.proclaims, "writes+proclaims/s")
}

// runBareCluster starts three embedded members with the harness's timing
// and no proxies, drives rates through clientv3 concurrency for d, closes
// the cluster and returns the rates it achieved.
func runBareCluster(b *testing.B, rates opRates, d time.Duration) opRates {
	endpoints, stop := startBare(b, 3)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	const clients, names = 5, 2 // the scenario's default clients and names per workload
	var mu sync.Mutex
	var got opRates
	count := func(add opRates) {
		mu.Lock()
		got.locks += add.locks
		got.writes += add.writes
		got.campaigns += add.campaigns
		got.proclaims += add.proclaims
		mu.Unlock()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	for i := range clients {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoints[i%len(endpoints)]},
			DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		name := fmt.Sprintf("/bare/%d", i%names)
		perLock := rates.writes / max(rates.locks, 1e-9)
		perTerm := rates.proclaims / max(rates.campaigns, 1e-9)
		wg.Go(func() {
			holds := 0
			errs <- paced(ctx, rates.locks/clients, func(ctx context.Context) error {
				m := concurrency.NewMutex(s, name+"/lock")
				if err := m.Lock(ctx); err != nil {
					return err
				}
				n := writesFor(perLock, holds)
				holds++
				for range n {
					if _, err := cli.Put(ctx, name+"/data", "v"); err != nil {
						return err
					}
				}
				count(opRates{locks: 1, writes: float64(n)})
				return m.Unlock(ctx)
			})
		})
		wg.Go(func() {
			e := concurrency.NewElection(s, name+"/election")
			terms := 0
			errs <- paced(ctx, rates.campaigns/clients, func(ctx context.Context) error {
				if err := e.Campaign(ctx, "v"); err != nil {
					return err
				}
				n := writesFor(perTerm, terms)
				terms++
				for range n {
					if err := e.Proclaim(ctx, "w"); err != nil {
						return err
					}
				}
				count(opRates{campaigns: 1, proclaims: float64(n)})
				return e.Resign(ctx)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	s := d.Seconds()
	return opRates{got.locks / s, got.writes / s, got.campaigns / s, got.proclaims / s}
}

// writesFor is how many writes a worker's hold number held makes so that
// its holds average per writes: the integer part, and one more on the
// fractional part's share of holds.
func writesFor(per float64, held int) int {
	n := int(per)
	if frac := per - float64(n); frac > 0 && int(float64(held+1)*frac) > int(float64(held)*frac) {
		n++
	}
	return n
}

// paced runs op about perSecond times a second until ctx ends; an error
// after ctx ended is the end of the run, not a failure.
func paced(ctx context.Context, perSecond float64, op func(context.Context) error) error {
	if perSecond <= 0 {
		return nil
	}
	every := time.Duration(float64(time.Second) / perSecond)
	next := time.Now()
	for {
		if err := op(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		next = next.Add(every)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
	}
}

// startBare starts n embedded etcd members on free ports, with the
// harness's heartbeat and election timeout and no fsync, and returns their
// client URLs and what closes them.
func startBare(b *testing.B, n int) ([]string, func()) {
	b.Helper()
	dir := b.TempDir()
	peer, client := freeURLs(b, n), freeURLs(b, n)
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("b%d=%s", i, peer[i].String()))
	}
	var members []*embed.Etcd
	stop := func() {
		for _, e := range members {
			e.Close()
		}
	}
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name, cfg.Dir = fmt.Sprintf("b%d", i), filepath.Join(dir, fmt.Sprintf("b%d", i))
		cfg.TickMs, cfg.ElectionMs = 50, 500
		cfg.UnsafeNoFsync = true
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "bare"
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer[i]}, []url.URL{peer[i]}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client[i]}, []url.URL{client[i]}
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			stop()
			b.Fatal(err)
		}
		members = append(members, e)
	}
	endpoints := make([]string, n)
	for i, e := range members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			stop()
			b.Fatal(errors.New("bare cluster did not become ready in 30 s"))
		}
		endpoints[i] = client[i].String()
	}
	return endpoints, stop
}

// freeURLs returns n http URLs on 127.0.0.1 ports that were free a moment
// ago.
func freeURLs(b *testing.B, n int) []url.URL {
	b.Helper()
	var urls []url.URL
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		urls = append(urls, url.URL{Scheme: "http", Host: ln.Addr().String()})
		if err := ln.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return urls
}
