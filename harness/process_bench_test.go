package harness

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
)

// BenchmarkProcessClusterStart3 measures Start of a 3-member cluster of etcd
// processes, until a leader is elected and every member serves
// linearizable reads, and Close (SIGKILL and reap).
func BenchmarkProcessClusterStart3(b *testing.B) {
	bin, err := FindEtcd()
	if err != nil {
		b.Skipf("no etcd binary: %v", err)
	}
	var starts, closes []time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := Start(context.Background(), Config{Members: 3, Mode: ModeProcess, EtcdBin: bin, Logger: zap.NewNop()})
		starts = append(starts, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		closes = append(closes, time.Since(start))
	}
	reportMedian(b, starts)
	if len(closes) > 0 {
		slices.Sort(closes)
		b.ReportMetric(float64(closes[len(closes)/2])/float64(time.Millisecond), "close-median-ms")
	}
}
