package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/history"
)

// TestCompactionRun compacts the keyspace while clients wait in Lock and
// Campaign and Observe streams are open: nothing is taken for a violation,
// liveness holds (also per server truth), what hit the compaction is of
// unknown outcome, and the observer records a gap only below a compacted
// revision.
func TestCompactionRun(t *testing.T) {
	t.Parallel()
	sc, err := faults.Lookup("compaction")
	require.NoError(t, err)
	d := 15 * time.Second
	seed := int64(0)
	for s := int64(1); s <= 200 && seed == 0; s++ {
		n := 0
		for _, st := range faults.NewSchedule(sc, s, d) {
			if st.Injector == faults.Compaction && st.At < d-4*time.Second {
				n++
			}
		}
		if n >= 2 {
			seed = s
		}
	}
	require.NotZero(t, seed, "no seed schedules two compactions")
	// One name per workload: every holder has clients queued behind it.
	res, h := runScenario(t, sc.Name, seed, d, func(o *Options) { o.Names = 1 })
	requireNoFalseAlarm(t, res)
	requireHealed(t, h)
	require.GreaterOrEqual(t, res.Applied[faults.Compaction], 2, "%v", res.Applied)

	ops := h.Operations()
	var compacted []int64
	waiting, observing := 0, 0
	for _, f := range h.Faults() {
		if f.Kind != history.KindCompaction {
			continue
		}
		require.True(t, f.Ended, "the compaction at %d did not take effect", f.Start)
		var rev int64
		_, err := fmt.Sscanf(f.Detail, "keyspace compacted at revision %d", &rev)
		require.NoError(t, err, f.Detail)
		compacted = append(compacted, rev)
		for _, op := range ops {
			if (op.F == history.FLock || op.F == history.FCampaign) && op.Call < f.Start && (op.Completed == 0 || op.Completed > f.End) {
				waiting++
			}
		}
		for _, s := range observeStreams(ops, h.EndTime()) {
			if s[0] < f.Start && s[1] > f.End {
				observing++
			}
		}
	}
	require.Len(t, compacted, res.Applied[faults.Compaction])
	require.Positive(t, waiting, "no Lock or Campaign was waiting during a compaction")
	require.Positive(t, observing, "no Observe stream was open during a compaction")

	// Whatever a compaction refused is of unknown outcome: its lock key may
	// exist, its stream may have delivered.
	for _, op := range ops {
		if strings.Contains(op.Error, "compacted") {
			require.Equal(t, history.Info, op.Outcome, "op %d %s: %s", op.ID, op.F, op.Error)
		}
	}

	// A gap only where a compaction may have hidden events: below a
	// compacted revision, once that compaction had started.
	seen := map[string]bool{}
	for _, s := range h.ServerEvents() {
		seen[s.Name] = true
		if s.Event != history.ServerGap {
			continue
		}
		require.Equal(t, "compacted", s.Detail, "%+v", s)
		below := false
		for i, f := range compactionFaults(h) {
			below = below || (s.ToRev < compacted[i] && s.Time >= f.Start)
		}
		require.True(t, below, "gap %+v is not below a compaction", s)
	}
	for _, op := range ops {
		if op.Outcome == history.Ok && (op.F == history.FLock || op.F == history.FCampaign) {
			require.True(t, seen[op.Name], "no server truth for %s", op.Name)
		}
	}
	t.Logf("seed %d: %d compactions at revisions %v, %d waiting and %d observing across them",
		seed, len(compacted), compacted, waiting, observing)
}

func compactionFaults(h *history.History) []history.Fault {
	var out []history.Fault
	for _, f := range h.Faults() {
		if f.Kind == history.KindCompaction {
			out = append(out, f)
		}
	}
	return out
}

// observeStreams are the intervals during which each Observe stream was
// open: from the first observe a client invoked to the observe that ended
// the stream (info), or to the end of the history.
func observeStreams(ops []history.Operation, end int64) [][2]int64 {
	var streams [][2]int64
	open := map[int]int64{} // client -> when its stream opened
	for _, op := range ops {
		if op.F != history.FObserve {
			continue
		}
		if _, ok := open[op.Client]; !ok {
			open[op.Client] = op.Call
		}
		if op.Outcome != history.Ok {
			until := end
			if op.Outcome == history.Info {
				until = op.Completed
			}
			streams = append(streams, [2]int64{open[op.Client], until})
			delete(open, op.Client)
		}
	}
	for _, from := range open {
		streams = append(streams, [2]int64{from, end})
	}
	return streams
}
