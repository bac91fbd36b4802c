package models

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

func checkBytes(t testing.TB, data []byte, opts Options) (*history.History, Result) {
	t.Helper()
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(t, err)
	res, err := Check(context.Background(), h, opts)
	require.NoError(t, err)
	return h, res
}

// countOps counts completions by function and outcome.
func countOps(h *history.History) map[string]int {
	n := map[string]int{}
	for _, op := range h.Operations() {
		n[op.F+"/"+string(op.Outcome)]++
	}
	return n
}

func TestGeneratedLockHistoriesAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		data := generate(genConfig{seed: seed, names: 3, clients: 5, ops: 6000})
		h, res := checkBytes(t, data, Options{Timeout: 20 * time.Second})
		n := countOps(h)
		require.Greater(t, n["lock/info"], 0, "some locks are indeterminate")
		require.Greater(t, n["lease-lost/ok"], 0, "some leases expire")
		require.Greater(t, n["write/fail"], 0, "some guarded writes are rejected")
		for _, c := range res.Checks {
			assert.Equal(t, Ok, c.Verdict, "seed %d %s %s: %s", seed, c.Check, c.Name, c.Account)
		}
		assert.Len(t, res.Checks, 9, "lock, fenced and unfenced checks per name")
		assert.Zero(t, res.Hazard.UnfencedOverlapping)
		assert.Equal(t, n["write/fail"], res.Hazard.FencedRejected)
	}
}

func TestGeneratedElectionHistoriesAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		data := generate(genConfig{seed: seed, names: 2, clients: 5, ops: 6000, election: true})
		h, res := checkBytes(t, data, Options{Timeout: 20 * time.Second})
		n := countOps(h)
		require.Greater(t, n["campaign/info"], 0)
		require.Greater(t, n["lease-lost/ok"], 0)
		require.Greater(t, n["observe/ok"], 100)
		require.Greater(t, n["leader/ok"], 100)
		for _, c := range res.Checks {
			assert.Equal(t, Ok, c.Verdict, "seed %d %s %s: %s", seed, c.Check, c.Name, c.Account)
		}
		assert.Len(t, res.Checks, 4, "election and observe checks per name")
	}
}

func TestGeneratedBugsAreFound(t *testing.T) {
	data := generate(genConfig{seed: 9, names: 2, clients: 5, ops: 3000, bugDoubleGrant: 0.05})
	_, res := checkBytes(t, data, Options{Timeout: 20 * time.Second})
	assert.Equal(t, Violation, res.Verdict, "a lock service that grants waiting keys breaks mutual exclusion")
	assert.Equal(t, ExitViolation, res.ExitCode())

	data = generate(genConfig{seed: 9, names: 2, clients: 5, ops: 3000, election: true, bugStaleRead: 0.05})
	_, res = checkBytes(t, data, Options{Timeout: 20 * time.Second})
	c, _ := findCheck(res, CheckElection)
	assert.Equal(t, Violation, c.Verdict)
	assert.Contains(t, c.Account, `"stale"`)
}

func TestUndecidableIsUnknown(t *testing.T) {
	data := []byte(undecidableLockHistory(40))
	_, res := checkBytes(t, data, Options{Timeout: 50 * time.Millisecond})
	require.Len(t, res.Checks, 1)
	assert.Equal(t, Unknown, res.Checks[0].Verdict)
	assert.True(t, res.Checks[0].Fails)
	assert.Equal(t, Unknown, res.Verdict)
	assert.Equal(t, ExitUnknown, res.ExitCode())
}

func benchmarkCheck(b *testing.B, cfg genConfig) {
	data := generate(cfg)
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(b, err)
	ops := len(h.Operations())
	b.ResetTimer()
	for b.Loop() {
		h, err := history.Read(bytes.NewReader(data), "generated")
		if err != nil {
			b.Fatal(err)
		}
		res, err := Check(context.Background(), h, Options{})
		if err != nil || res.Verdict != Ok {
			b.Fatalf("verdict %s, err %v", res.Verdict, err)
		}
	}
	b.ReportMetric(float64(ops), "ops")
	b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkLock100kOver20Names: target under 1 s per op, parse included.
func BenchmarkLock100kOver20Names(b *testing.B) {
	benchmarkCheck(b, genConfig{seed: 1, names: 20, clients: 5, ops: 100_000})
}

// BenchmarkLock100kWithTruth is BenchmarkLock100kOver20Names with server
// truth recorded and checked: target under 2 s per op, parse included.
func BenchmarkLock100kWithTruth(b *testing.B) {
	benchmarkCheck(b, genConfig{seed: 1, names: 20, clients: 5, ops: 100_000, truth: true})
}

// BenchmarkLock10kOneName: target under 1 s per op.
func BenchmarkLock10kOneName(b *testing.B) {
	benchmarkCheck(b, genConfig{seed: 2, names: 1, clients: 5, ops: 10_000})
}

// BenchmarkElection10kWithObserve: target under 1 s per op.
func BenchmarkElection10kWithObserve(b *testing.B) {
	benchmarkCheck(b, genConfig{seed: 3, names: 1, clients: 5, ops: 10_000, election: true})
}

// BenchmarkCheckOnlyLock100k is BenchmarkLock100kOver20Names without the
// parse, to show where the time goes.
func BenchmarkCheckOnlyLock100k(b *testing.B) {
	data := generate(genConfig{seed: 1, names: 20, clients: 5, ops: 100_000})
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(b, err)
	for b.Loop() {
		if res, err := Check(context.Background(), h, Options{}); err != nil || res.Verdict != Ok {
			b.Fatalf("verdict %s, err %v", res.Verdict, err)
		}
	}
}
