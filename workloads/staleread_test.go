package workloads

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// On a real cluster every linearizable answer a stale read is judged by is
// recorded with the revision it was served at: a campaign through one
// member and leader reads through another (a follower for some of them)
// carry header revisions at or above everything the observer saw before
// they were invoked, and the truth check finds no stale read. The same
// history with one read's revision set back below the campaign's is a
// stale read, proven by the observer's event.
func TestStaleReadRecordedOnRealEtcd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newScripted(t, ctx, "stale-read", Config{Backend: BackendConcurrency})
	a, b := s.w.clients[0], s.w.clients[1]
	require.NotEqual(t, a.Member(), b.Member(), "the reader goes through another member")
	require.True(t, a.ensureLease(ctx))
	l, ok := a.campaign(ctx, "e0")
	require.True(t, ok)
	time.Sleep(100 * time.Millisecond) // the observer sees the campaign's key
	for range 5 {
		b.readCycle(ctx, Intent{Think: []time.Duration{0}})
	}
	a.resign(ctx, "e0", l)
	h := s.finish(ctx)

	var reads []*history.Operation
	ops := h.Operations()
	for i := range ops {
		if op := &ops[i]; op.F == history.FLeader && op.Outcome == history.Ok {
			reads = append(reads, op)
			assert.GreaterOrEqual(t, op.Output.HeaderRev, l.Rev, "read %d answered at the campaign's revision or later", op.ID)
		}
	}
	require.Len(t, reads, 5)
	requireStaleReads(t, h, 0)

	for i := range h.Events {
		if e := &h.Events[i]; e.Type == history.TypeOk && e.Op == reads[len(reads)-1].ID {
			e.Value.HeaderRev = l.Rev - 1
		}
	}
	requireStaleReads(t, h, 1)
}

// requireStaleReads requires n stale-read findings of the truth check.
func requireStaleReads(t *testing.T, h *history.History, n int) {
	t.Helper()
	found := 0
	for _, r := range truth.Check(truth.Build(h), h.Operations()) {
		for _, f := range r.Findings {
			if f.Kind == models.FindingStaleRead {
				found++
			}
		}
	}
	require.Equal(t, n, found)
}
