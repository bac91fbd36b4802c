package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// genEvent is an event with a tie-breaker that keeps an operation's invoke
// before its completion when they share a time.
type genEvent struct {
	ev  history.Event
	seq int
}

// genFault is a fault interval of the generated schedule.
type genFault struct {
	kind, detail   string
	member, target int
	start, end     int64
	oneShot        bool
}

// genSchedule lays out faults over [0, span): a fault every 6-14 s lasting
// 2-7 s, with an occasional one-shot leader move or lease revoke.
func genSchedule(r *rand.Rand, span int64, clients int) []genFault {
	kinds := []string{"partition", "pause-client", "kill-member", "latency", "expire-lease"}
	var fs []genFault
	for t := int64(3 * time.Second); t < span-int64(4*time.Second); {
		k := kinds[r.IntN(len(kinds))]
		d := int64(2*time.Second) + r.Int64N(int64(5*time.Second))
		f := genFault{kind: k, start: t, end: min(t+d, span-int64(time.Second))}
		switch k {
		case "partition":
			f.detail = fmt.Sprintf("{%d} | {%d,%d}", 1+r.IntN(3), 1+r.IntN(3), 1+r.IntN(3))
		case "pause-client":
			f.target = 1 + r.IntN(clients)
		case "kill-member", "latency":
			f.member = 1 + r.IntN(3)
		}
		fs = append(fs, f)
		if r.IntN(3) == 0 {
			one := []string{"move-leader", "revoke-lease"}[r.IntN(2)]
			fs = append(fs, genFault{kind: one, start: t + d/2, end: t + d/2, oneShot: true, member: 1 + r.IntN(3)})
		}
		t += int64(6*time.Second) + r.Int64N(int64(8*time.Second))
	}
	return fs
}

func inFault(fs []genFault, t int64) bool {
	for _, f := range fs {
		if !f.oneShot && f.kind != "pause-client" && t >= f.start && t < f.end {
			return true
		}
	}
	return false
}

// genHistory builds a plausible lock history of about n operations: 16
// clients cycle lock, one to three writes (fenced or not) and unlock on four
// shared lock names, at ~25 operations per second each, with faults that slow
// operations down and make some of them time out (info).
func genHistory(n int, seed int64) *history.History { return genHistoryOpt(n, seed, 16, 4) }

// genHistoryOpt is genHistory with the given number of clients and lock
// names: client c takes lock l<c mod names>, so with as many names as
// clients the history is linearizable, and every name shared by clients that
// do not exclude each other is a violation.
func genHistoryOpt(n int, seed int64, clients, names int) *history.History {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	// About 45 ms per operation and client, faults included.
	span := int64(n/clients)*int64(45*time.Millisecond) + int64(10*time.Second)
	faults := genSchedule(r, span, clients)
	var evs []genEvent
	seq, op := 0, int64(0)
	add := func(e history.Event) { evs = append(evs, genEvent{e, seq}); seq++ }
	perClient := n / clients
	for c := 1; c <= clients; c++ {
		name := fmt.Sprintf("l%d", c%names)
		g := &genClient{r: r, add: add, faults: faults, c: c, name: name, op: &op,
			t: int64(c) * int64(time.Millisecond), rev: int64(c) * 1_000_000}
		for g.n < perClient {
			g.cycle(perClient)
		}
	}
	for _, f := range faults {
		add(history.Event{Type: history.TypeFault, Fault: f.kind, Phase: history.PhaseStart, Time: f.start,
			Detail: f.detail, Member: f.member, Target: f.target})
		if !f.oneShot {
			add(history.Event{Type: history.TypeFault, Fault: f.kind, Phase: history.PhaseEnd, Time: f.end,
				Member: f.member, Target: f.target})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].ev.Time != evs[j].ev.Time {
			return evs[i].ev.Time < evs[j].ev.Time
		}
		return evs[i].seq < evs[j].seq
	})
	h := &history.History{Header: history.Header{
		Type: history.TypeHeader, Format: history.Format, Scenario: "lock-partition", Seed: seed,
		LeaseTTLMs: 2000, StartUnixNs: 1764073796000000000, Members: 3, EtcdVersion: "3.7.3",
		Workload: "lock", Backend: "grpc", Clients: clients,
		Command: fmt.Sprintf("etcdchaos run --scenario lock-partition --seed %d --members 3", seed),
	}}
	h.Events = make([]history.Event, len(evs))
	for i, e := range evs {
		h.Events[i] = e.ev
	}
	return h
}

// genClient generates one client's operations: cycles of lock, one to
// three writes and unlock, each cycle with a lease of its own. Values are
// consistent (writes guard on the revision their lock returned), so with a
// lock name per client the history is linearizable.
type genClient struct {
	r      *rand.Rand
	add    func(history.Event)
	faults []genFault
	op     *int64
	c, n   int
	name   string
	t, rev int64
	lease  int64
}

func (g *genClient) cycle(limit int) {
	g.lease++
	lease := int64(0x7587_0000_0000) + int64(g.c)<<16 + g.lease
	key := fmt.Sprintf("%s/%x", g.name, lease)
	out, ok := g.do(history.FLock, &history.Value{Lease: lease}, true, func() *history.Value {
		g.rev++
		return &history.Value{Key: key, Rev: g.rev, Lease: lease}
	})
	if !ok || g.n >= limit {
		return
	}
	for w := 0; w < 1+g.r.IntN(3) && g.n < limit; w++ {
		in := &history.Value{Key: key, Rev: out.Rev, Fenced: history.Bool(w%2 == 0), Data: fmt.Sprintf("c%d-%d", g.c, *g.op+1)}
		g.do(history.FWrite, in, false, func() *history.Value { g.rev++; return &history.Value{Rev: g.rev} })
	}
	if g.n < limit {
		g.do(history.FUnlock, &history.Value{Key: key}, false, func() *history.Value { return &history.Value{} })
	}
}

// do records one operation; it may fail only if canFail. Faults slow
// operations down twelvefold and make some of them time out (info).
func (g *genClient) do(f string, in *history.Value, canFail bool, result func() *history.Value) (*history.Value, bool) {
	*g.op++
	g.n++
	op, t := *g.op, g.t
	g.add(history.Event{Type: history.TypeInvoke, Op: op, Client: g.c, F: f, Name: g.name, Time: t, Value: in, Member: 1 + g.c%3})
	median := 2.5e6
	if f == history.FLock {
		median = 6e6
	}
	faulty := inFault(g.faults, t)
	if faulty {
		median *= 12
	}
	lat := int64(math.Max(2e5, median*math.Exp(g.r.NormFloat64()*0.6)))
	p := g.r.Float64()
	switch {
	case faulty && p < 0.12:
		g.add(history.Event{Type: history.TypeInfo, Op: op, Time: t + int64(time.Second), Error: "context deadline exceeded"})
		g.t = t + int64(time.Second) + int64(g.r.IntN(40))*int64(time.Millisecond)
		return nil, false
	case canFail && p < 0.03:
		g.add(history.Event{Type: history.TypeFail, Op: op, Time: t + lat, Error: "etcdserver: request timed out"})
		g.t = t + lat + int64(10+g.r.IntN(50))*int64(time.Millisecond)
		return nil, false
	}
	out := result()
	g.add(history.Event{Type: history.TypeOk, Op: op, Time: t + lat, Value: out})
	g.t = t + lat + int64(10+g.r.IntN(50))*int64(time.Millisecond)
	return out, true
}

// encodeHistory writes h as JSON Lines, the way the recorder does.
func encodeHistory(t testing.TB, h *history.History) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	require.NoError(t, enc.Encode(h.Header))
	for _, e := range h.Events {
		require.NoError(t, enc.Encode(e))
	}
	return b.Bytes()
}

// violatingResult is a hand-built Result for h: a lock violation on l1
// whose evidence is the first two lock operations on l1, an unsafe-but-
// allowed finding on l2, ok elsewhere.
func violatingResult(h *history.History) models.Result {
	var evidence []int64
	for _, op := range h.Operations() {
		if op.Name == "l1" && op.F == history.FLock && op.Outcome == history.Ok && len(evidence) < 2 {
			evidence = append(evidence, op.ID)
		}
	}
	res := models.Result{Verdict: models.Violation, ExitCode: models.ExitViolation, Hazard: models.Hazard{
		UnfencedWrites: 120, Stale: 3, FencedWrites: 118, FencedRejected: 4}}
	for _, name := range []string{"l0", "l1", "l2", "l3"} {
		c := models.CheckResult{Check: models.CheckLock, Name: name, Verdict: models.Ok, Ops: 100, Elapsed: 3 * time.Millisecond}
		if name == "l1" {
			c.Verdict, c.Fails = models.Violation, true
			c.Account = fmt.Sprintf("clients held lock l1 at the same time: op %d and op %d both acquired it", evidence[0], evidence[1])
			c.Evidence = append(evidence, 999999999)
			c.At = int64(5 * time.Second)
		}
		res.Checks = append(res.Checks, c)
		res.Checks = append(res.Checks, models.CheckResult{Check: models.CheckFenced, Name: name, Verdict: models.Ok, Ops: 50})
	}
	res.Checks = append(res.Checks, models.CheckResult{Check: models.CheckUnfenced, Name: "l2",
		Verdict: models.UnsafeWithoutFencing, Ops: 40,
		Account: "an unfenced write landed after the lease of its lock expired"})
	return res
}
