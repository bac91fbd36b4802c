package shrink

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/gen"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

const ms = int64(time.Millisecond)

// roundTrip writes h and reads it back: the shrunk history must be a valid
// history file.
func roundTrip(t testing.TB, h *history.History) *history.History {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, history.Write(&b, h))
	back, err := history.Read(&b, "shrunk")
	require.NoError(t, err, "the shrunk history is well-formed")
	return back
}

// requireStillFails checks the shrunk history from scratch: the same check
// on the same name has the same verdict.
func requireStillFails(t testing.TB, r Result) *history.History {
	t.Helper()
	back := roundTrip(t, r.History)
	res, err := verdict.Check(context.Background(), back, models.Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	c, ok := findCheckName(res, r.Original.Check, r.Original.Name)
	require.True(t, ok, "check %s on %s still runs", r.Original.Check, r.Original.Name)
	require.Equal(t, r.Original.Verdict, c.Verdict, c.Account)
	require.Equal(t, r.Final.Verdict, c.Verdict)
	require.Len(t, back.Operations(), r.OpsAfter)
	return back
}

// requireSharesCulprit: the shrunk violation names an operation the
// input's violation named.
func requireSharesCulprit(t testing.TB, r Result) {
	t.Helper()
	require.Subset(t, r.Culprits, r.Original.Evidence)
	for _, id := range r.Final.Evidence {
		if slices.Contains(r.Culprits, id) {
			return
		}
	}
	t.Fatalf("evidence %v names none of the culprits %v", r.Final.Evidence, r.Culprits)
}

func findCheckName(res models.Result, check, name string) (models.CheckResult, bool) {
	for _, c := range res.Checks {
		if c.Check == check && c.Name == name {
			return c, true
		}
	}
	return models.CheckResult{}, false
}

// overlap is the path of the hand-written overlapping grants.
var overlap = filepath.Join(handwritten.Dir(), "illegal-lock-overlap.jsonl")

func shrinkFile(t *testing.T, path string, opts Options) (Result, error) {
	t.Helper()
	h, err := history.ReadFile(path)
	require.NoError(t, err)
	return Shrink(context.Background(), h, opts)
}

func TestShrinkHandWrittenIllegal(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(handwritten.Dir(), "illegal-*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := shrinkFile(t, f, Options{Timeout: 5 * time.Second})
			require.NoError(t, err)
			requireStillFails(t, r)
			assert.LessOrEqual(t, r.OpsAfter, r.OpsBefore)
			requireSharesCulprit(t, r)
			assert.False(t, r.Partial)
		})
	}
}

func TestShrinkDropsWhatDoesNotMatter(t *testing.T) {
	// The overlap (ops 1 and 2) plus a write that plays no part, and the
	// unlock that ends client 5's hold after the overlap: the write goes, the
	// unlock stays with its grant (without it, the lock would look held
	// forever).
	r, err := shrinkFile(t, overlap, Options{})
	require.NoError(t, err)
	back := requireStillFails(t, r)
	assert.Equal(t, 4, r.OpsBefore)
	var ids []int64
	for _, op := range back.Operations() {
		ids = append(ids, op.ID)
	}
	assert.Equal(t, []int64{1, 2, 4}, ids)
	assert.Equal(t, models.CheckLock, r.Final.Check)
	assert.Equal(t, "l0", r.Final.Name)
}

func TestShrinkLegalHasNothingToShrink(t *testing.T) {
	for _, f := range []string{"legal-lock-contended.jsonl", "legal-election-simple.jsonl"} {
		_, err := shrinkFile(t, filepath.Join(handwritten.Dir(), f), Options{})
		require.ErrorIs(t, err, ErrNoFinding, f)
		assert.Contains(t, err.Error(), "nothing to shrink: no such finding")
	}
	// A violating history has no violation of a check it does not fail.
	_, err := shrinkFile(t, overlap, Options{Check: models.CheckElection})
	require.ErrorIs(t, err, ErrNoFinding)
	_, err = shrinkFile(t, overlap, Options{Check: "lock", Name: "l9"})
	require.ErrorIs(t, err, ErrNoFinding)
	_, err = shrinkFile(t, overlap, Options{Check: "mutex"})
	require.ErrorIs(t, err, ErrUnknownCheck)
}

func TestShrinkUndecided(t *testing.T) {
	h, err := history.Read(strings.NewReader(gen.UndecidableLockHistory(40)), "undecidable")
	require.NoError(t, err)
	_, err = Shrink(context.Background(), h, Options{Timeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, ErrUndecided)
}

func TestShrinkRenumbers(t *testing.T) {
	// The shrunk 10k-operation history numbers its ops 1..n and its
	// clients 1..k, in order of appearance, and still fails.
	h, _ := bigViolating(t, false)
	r, err := Shrink(context.Background(), h, Options{Renumber: true})
	require.NoError(t, err)
	back := requireStillFails(t, r)
	var clients []int
	for i, op := range back.Operations() {
		assert.Equal(t, int64(i+1), op.ID)
		if !slices.Contains(clients, op.Client) {
			clients = append(clients, op.Client)
		}
	}
	for i, c := range clients {
		assert.Equal(t, i+1, c)
	}
	for _, id := range r.Final.Evidence {
		assert.LessOrEqual(t, id, int64(r.OpsAfter), "evidence uses the new ids")
	}
}

// TestShrinkKeepsCulprits builds a history whose violation needs an
// unlock to stay legal before it: dropping that unlock would make an
// earlier, different double grant; the shrink must keep the real one.
func TestShrinkKeepsCulprits(t *testing.T) {
	hdr := `{"type":"header","format":"etcdchaos-history/1","scenario":"hand","seed":1}`
	lines := []string{hdr,
		`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":100,"value":{"lease":1}}`,
		`{"type":"ok","op":1,"time":110,"value":{"key":"l0/1","rev":10,"lease":1}}`,
		`{"type":"invoke","op":2,"client":1,"f":"unlock","name":"l0","time":120,"value":{"key":"l0/1"}}`,
		`{"type":"ok","op":2,"time":130,"value":{}}`,
		`{"type":"invoke","op":3,"client":2,"f":"lock","name":"l0","time":140,"value":{"lease":2}}`,
		`{"type":"ok","op":3,"time":150,"value":{"key":"l0/2","rev":11,"lease":2}}`,
		`{"type":"invoke","op":4,"client":3,"f":"lock","name":"l0","time":160,"value":{"lease":3}}`,
		`{"type":"ok","op":4,"time":170,"value":{"key":"l0/3","rev":12,"lease":3}}`,
	}
	h, err := history.Read(strings.NewReader(strings.Join(lines, "\n")+"\n"), "hand")
	require.NoError(t, err)
	r, err := Shrink(context.Background(), h, Options{})
	require.NoError(t, err)
	back := requireStillFails(t, r)
	assert.ElementsMatch(t, []int64{3, 4}, r.Final.Evidence)
	require.Len(t, back.Operations(), 2)
	assert.Equal(t, int64(3), back.Operations()[0].ID)
}

// injectEarlyGrant takes a legal generated history and completes one grant
// (lock or campaign, f) that had to wait, right after its invoke: it then
// holds while the client it waited for still does. It returns the history
// and the injected op.
func injectEarlyGrant(t testing.TB, data []byte, f string) (*history.History, int64) {
	t.Helper()
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(t, err)
	ops := h.Operations()
	var victim *history.Operation
	for i := len(ops) / 2; i < len(ops); i++ {
		op := &ops[i]
		if op.F == f && op.Outcome == history.Ok && op.Return-op.Call > 5*ms {
			victim = op
			break
		}
	}
	require.NotNil(t, victim, "a grant that waited")
	for i := range h.Events {
		e := &h.Events[i]
		if e.Op == victim.ID && e.Type == history.TypeOk {
			e.Time = victim.Call + ms
		}
	}
	sort.SliceStable(h.Events, func(i, j int) bool { return h.Events[i].Time < h.Events[j].Time })
	return roundTrip(t, h), victim.ID
}

// bigViolating returns a 10k-operation generated history with one injected
// double grant (lock) or two leaders (election).
func bigViolating(t testing.TB, election bool) (*history.History, int64) {
	t.Helper()
	cfg := gen.Config{Seed: 5, Names: 2, Clients: 5, Ops: 10_000, Election: election}
	f := history.FLock
	if election {
		f = history.FCampaign
	}
	return injectEarlyGrant(t, gen.Generate(cfg), f)
}

func TestShrinkGenerated10k(t *testing.T) {
	for _, tc := range []struct {
		election bool
		check    string
	}{{false, models.CheckLock}, {true, models.CheckElection}} {
		t.Run(tc.check, func(t *testing.T) {
			h, victim := bigViolating(t, tc.election)
			require.GreaterOrEqual(t, len(h.Operations()), 10_000)
			start := time.Now()
			r, err := Shrink(context.Background(), h, Options{Check: tc.check})
			require.NoError(t, err)
			t.Logf("%s: %d -> %d ops, %d candidates, %v", tc.check, r.OpsBefore, r.OpsAfter, r.Candidates, time.Since(start))
			assert.Equal(t, tc.check, r.Final.Check)
			assert.Equal(t, r.Original.Name, r.Final.Name)
			requireSharesCulprit(t, r)
			back := requireStillFails(t, r)
			assert.True(t, slices.ContainsFunc(back.Operations(), func(op history.Operation) bool { return op.ID == victim }),
				"the injected grant is kept: without it the history is legal")
			assert.LessOrEqual(t, r.OpsAfter, 30)
		})
	}
}

func TestShrinkStopsWithContext(t *testing.T) {
	h, _ := bigViolating(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Shrink(ctx, h, Options{})
	require.ErrorIs(t, err, context.Canceled, "no check of the input, nothing to shrink")
}

// BenchmarkShrink10k shrinks a 10k-operation lock history with one double
// grant. Target: under 30 s per op, to at most 30 operations.
func BenchmarkShrink10k(b *testing.B) {
	h, _ := bigViolating(b, false)
	var r Result
	for b.Loop() {
		var err error
		if r, err = Shrink(context.Background(), h, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(r.OpsBefore), "ops-before")
	b.ReportMetric(float64(r.OpsAfter), "ops-after")
	b.ReportMetric(float64(r.Candidates), "candidates")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/shrink")
}

// Shrink keeps a known etcd issue when asked for it: a lease history whose
// subject is the stale leader's revoke shrinks to that finding, not to
// whatever else the history shows.
func TestShrinkToAnIssue(t *testing.T) {
	h := handwritten.Read(t, "known-lease-early-expiry-etcdchaos-1-v3.7.3")
	r, err := Shrink(context.Background(), h, Options{Issue: "etcdchaos-1", MaxTime: 30 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, models.CheckLease, r.Final.Check)
	assert.Contains(t, r.Target, "etcdchaos-1")
	back := roundTrip(t, r.History)
	res, err := verdict.Check(context.Background(), back, models.Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	require.NotEmpty(t, res.KnownIssues)
	assert.Equal(t, "etcdchaos-1", res.KnownIssues[0].Issue.ID)
	assert.LessOrEqual(t, r.OpsAfter, r.OpsBefore)

	_, err = Shrink(context.Background(), h, Options{Issue: "19597"})
	require.ErrorIs(t, err, ErrNoFinding, "no finding of that issue")
}
