package verdict

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/gen"
)

func benchmarkCheck(b *testing.B, cfg gen.Config) {
	data := gen.Generate(cfg)
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(b, err)
	ops := len(h.Operations())
	b.ResetTimer()
	for b.Loop() {
		h, err := history.Read(bytes.NewReader(data), "generated")
		if err != nil {
			b.Fatal(err)
		}
		res, err := Check(context.Background(), h, models.Options{})
		if err != nil || res.Verdict != models.Ok {
			b.Fatalf("verdict %s, err %v", res.Verdict, err)
		}
	}
	b.ReportMetric(float64(ops), "ops")
	b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkLock100kOver20Names: target under 1 s per op, parse included.
func BenchmarkLock100kOver20Names(b *testing.B) {
	benchmarkCheck(b, gen.Config{Seed: 1, Names: 20, Clients: 5, Ops: 100_000})
}

// BenchmarkLock100kWithTruth is BenchmarkLock100kOver20Names with server
// truth recorded and checked: target under 2 s per op, parse included.
func BenchmarkLock100kWithTruth(b *testing.B) {
	benchmarkCheck(b, gen.Config{Seed: 1, Names: 20, Clients: 5, Ops: 100_000, Truth: true})
}

// BenchmarkLock10kOneName: target under 1 s per op.
func BenchmarkLock10kOneName(b *testing.B) {
	benchmarkCheck(b, gen.Config{Seed: 2, Names: 1, Clients: 5, Ops: 10_000})
}

// BenchmarkElection10kWithObserve: target under 1 s per op.
func BenchmarkElection10kWithObserve(b *testing.B) {
	benchmarkCheck(b, gen.Config{Seed: 3, Names: 1, Clients: 5, Ops: 10_000, Election: true})
}

// BenchmarkCheckOnlyLock100k is BenchmarkLock100kOver20Names without the
// parse, to show where the time goes.
func BenchmarkCheckOnlyLock100k(b *testing.B) {
	data := gen.Generate(gen.Config{Seed: 1, Names: 20, Clients: 5, Ops: 100_000})
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(b, err)
	for b.Loop() {
		if res, err := Check(context.Background(), h, models.Options{}); err != nil || res.Verdict != models.Ok {
			b.Fatalf("verdict %s, err %v", res.Verdict, err)
		}
	}
}
