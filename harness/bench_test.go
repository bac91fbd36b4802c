package harness

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
)

// reportMedian adds the median of ds, in milliseconds, to the benchmark.
func reportMedian(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/float64(time.Millisecond), "median-ms")
}

// BenchmarkClusterStart3 measures Start of a 3-member cluster: until a leader
// is elected and every member serves linearizable reads. Target: median
// below 2.5 s.
func BenchmarkClusterStart3(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := Start(context.Background(), Config{Members: 3, Logger: zap.NewNop()})
		ds = append(ds, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportMedian(b, ds)
}

// BenchmarkClusterClose3 measures Close of a running 3-member cluster with a
// client holding a lease keep-alive stream. Target: below 1 s.
func BenchmarkClusterClose3(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		b.StopTimer()
		c, err := Start(context.Background(), Config{Members: 3, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := c.NewClient(1)
		if err != nil {
			b.Fatal(err)
		}
		g, err := cl.Grant(context.Background(), 5)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cl.KeepAlive(context.Background(), g.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	reportMedian(b, ds)
}
