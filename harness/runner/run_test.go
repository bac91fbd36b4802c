package runner

import (
	"context"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// TestMain checks that the tests leave no goroutine behind. A benchmark-only
// run is not checked: its long runs of the v3election service leave
// keep-alive goroutines of the in-process client that each embedded etcd
// member creates for that service and never closes (etcd's
// v3client.New in embed), which no harness Close can end.
func TestMain(m *testing.M) {
	flag.Parse()
	if b := flag.Lookup("test.bench"); b != nil && b.Value.String() != "" && flag.Lookup("test.run").Value.String() == "^$" {
		os.Exit(m.Run())
	}
	leakcheck.VerifyTestMain(m)
}

// runScenario runs a scenario for a short time on 3 members.
func runScenario(t *testing.T, name string, seed int64, d time.Duration, tweak func(*Options)) (Result, *history.History) {
	t.Helper()
	sc, err := faults.Lookup(name)
	require.NoError(t, err)
	opts := Options{Seed: seed, Duration: d, Members: 3, Out: t.TempDir(), CheckTimeout: 30 * time.Second}
	if tweak != nil {
		tweak(&opts)
	}
	res, err := Run(context.Background(), sc, opts)
	require.NoError(t, err)
	h := requireCheckReproducesRun(t, res)
	return res, h
}

// requireCheckReproducesRun checks the run's history again, as `etcdchaos
// check` does: the same verdict, exit code and findings, liveness
// included. It returns the history.
func requireCheckReproducesRun(t testing.TB, res Result) *history.History {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(res.Dir, HistoryFile))
	require.NoError(t, err)
	again, err := verdict.Check(context.Background(), h, models.Options{})
	require.NoError(t, err)
	require.Equal(t, res.ExitCode, again.ExitCode, "check of the history gives the run's exit code")
	require.Equal(t, res.Verdict, again.Verdict)
	require.Equal(t, checkVerdicts(res.Check), checkVerdicts(again), "check of the history gives each check's verdict")
	require.Equal(t, findingGroups(res.Check), findingGroups(again), "check of the history gives the run's findings")
	return h
}

// checkVerdicts are a result's checks, each with its verdict.
func checkVerdicts(res models.Result) []string {
	out := make([]string, 0, len(res.Checks))
	for _, c := range res.Checks {
		out = append(out, fmt.Sprintf("%s %s %s", c.Check, c.Name, c.Verdict))
	}
	return out
}

// findingGroups are a result's findings, grouped as the CLI prints them,
// in a fixed order. Which operation porcupine singles out for a model's
// refusal may differ from one search to the next (the conflict is the
// same), so a refusal is compared by its check, name and class only; the
// checks' verdicts are compared by the caller.
func findingGroups(res models.Result) []string {
	var out []string
	for _, g := range models.GroupFindings(res.Findings()) {
		which := fmt.Sprintf("%d from op %d", g.Count, g.First.Op)
		if g.Kind == models.FindingModelRefusal {
			which = "refused"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s", g.Check, g.Name, g.Class, g.Kind, which))
	}
	sort.Strings(out)
	return out
}

// requireNoFalseAlarm: on unmodified etcd, mutual exclusion, fenced writes,
// elections, observe order and liveness all hold.
func requireNoFalseAlarm(t *testing.T, res Result) {
	t.Helper()
	for _, c := range res.Check.Checks {
		if c.Check == models.CheckUnfenced {
			require.NotEqual(t, models.Violation, c.Verdict, "%s %s: %s", c.Check, c.Name, c.Account)
			continue
		}
		require.False(t, c.Fails, "%s %s: %s: %s", c.Check, c.Name, c.Verdict, c.Account)
	}
	live, ok := checkOf(res.Check, models.CheckLiveness)
	require.True(t, ok, "the run probed liveness")
	require.Equal(t, models.Ok, live.Verdict, live.Account)
}

// checkOf is the first result of a check.
func checkOf(res models.Result, check string) (models.CheckResult, bool) {
	for _, c := range res.Checks {
		if c.Check == check {
			return c, true
		}
	}
	return models.CheckResult{}, false
}

// requireHealed: every fault that lasts was ended in the history.
func requireHealed(t *testing.T, h *history.History) {
	t.Helper()
	for _, f := range h.Faults() {
		require.True(t, f.Ended || f.End == f.Start, "fault %s (%s) at %d was never healed", f.Kind, f.Detail, f.Start)
	}
}

// writes are the operations that need a quorum to take effect.
var writes = map[string]bool{history.FLock: true, history.FWrite: true, history.FUnlock: true,
	history.FCampaign: true, history.FProclaim: true, history.FResign: true}

// requirePartitionsReal: no write through a member cut off from the majority
// completed ok while the partition lasted. A retried resign of the
// concurrency backend is no write: concurrency.Election answers it without
// asking the server (etcd issue 22123).
func requirePartitionsReal(t *testing.T, h *history.History) int {
	t.Helper()
	ops := h.Operations()
	retried := retriedResigns(h.Header, ops)
	checked := 0
	for _, f := range h.Faults() {
		if f.Kind != history.KindPartition || strings.Contains(f.Detail, "bridged") {
			continue
		}
		minority := minoritySide(t, f.Detail, h.Header.Members)
		for _, op := range ops {
			if !writes[op.F] || !minority[op.Member] || op.Call <= f.Start || op.Outcome != history.Ok || op.Return >= f.End || retried[op.ID] {
				continue
			}
			require.Failf(t, "write committed on the minority side",
				"op %d (%s %s by client %d via member %d) completed ok during partition %s", op.ID, op.F, op.Name, op.Client, op.Member, f.Detail)
		}
		checked++
	}
	return checked
}

// retriedResigns are the resigns, with the concurrency backend, that follow
// a resign of the same key by the same client whose outcome is unknown.
func retriedResigns(hd history.Header, ops []history.Operation) map[int64]bool {
	out := map[int64]bool{}
	if hd.Backend != string(workloads.BackendConcurrency) {
		return out
	}
	failed := map[int]string{} // client -> the key of its last resign, if that failed
	for i := range ops {
		op := &ops[i]
		if op.F != history.FResign {
			continue
		}
		if key, ok := failed[op.Client]; ok && key == op.Input.Key {
			out[op.ID] = true
		}
		delete(failed, op.Client)
		if op.Outcome.Unknown() {
			failed[op.Client] = op.Input.Key
		}
	}
	return out
}

// minoritySide parses "{1} | {2,3}" into the members outside the majority.
func minoritySide(t *testing.T, detail string, members int) map[int]bool {
	minority := map[int]bool{}
	for _, g := range strings.Split(detail, "|") {
		g = strings.Trim(strings.TrimSpace(g), "{}")
		var side []int
		for _, m := range strings.Split(g, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(m))
			require.NoError(t, err, detail)
			side = append(side, n)
		}
		if 2*len(side) <= members {
			for _, m := range side {
				minority[m] = true
			}
		}
	}
	return minority
}

// requirePausedLeasesExpired: the lease of every client paused longer than
// its TTL is recorded as lost after the pause started.
func requirePausedLeasesExpired(t *testing.T, h *history.History) int {
	t.Helper()
	lost := map[int64]int64{}
	for _, op := range h.Operations() {
		if op.F == history.FLeaseLost {
			lost[op.Input.Lease] = op.Call
		}
	}
	checked := 0
	for _, f := range h.Faults() {
		if f.Kind != history.KindPauseClient || f.Lease == 0 || !f.Ended {
			continue
		}
		at, ok := lost[f.Lease]
		require.True(t, ok, "client %d was paused %v with lease %x, which never expired; its lease's operations:\n%s",
			f.Target, time.Duration(f.End-f.Start), f.Lease, leaseStory(h, f.Lease))
		require.Greater(t, at, f.Start)
		checked++
	}
	return checked
}

// leaseStory lists the operations of a lease, to explain a failed assertion.
func leaseStory(h *history.History, lease int64) string {
	var b strings.Builder
	for _, op := range h.Operations() {
		if op.Input.Lease == lease || op.Output.Lease == lease {
			fmt.Fprintf(&b, "  op %d client %d %s %s %s call %.3fs completed %.3fs %s\n", op.ID, op.Client, op.F, op.Name,
				op.Outcome, float64(op.Call)/1e9, float64(op.Completed)/1e9, op.Error)
		}
	}
	return b.String()
}

func TestEveryScenario(t *testing.T) {
	for _, sc := range faults.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			// Seeded by name, so that a scenario added to the catalog
			// leaves the others' schedules as they were.
			res, h := runScenario(t, sc.Name, 100+int64(crc32.ChecksumIEEE([]byte(sc.Name))%900), 12*time.Second, nil)
			requireNoFalseAlarm(t, res)
			requireHealed(t, h)
			require.NotEmpty(t, h.Operations())
			if sc.Clients > 0 {
				require.Equal(t, sc.Clients, h.Header.Clients, "the scenario's clients per workload")
			}
			switch {
			case processOnly(sc):
				// Pauses and disk stalls need members run as processes:
				// embedded, the nemesis finds nothing it can apply
				// (TestDiskStallRun runs disk-stall in process mode).
				require.Empty(t, h.Faults())
			case len(sc.Injectors) > 0:
				require.NotEmpty(t, res.Applied, "no fault was applied")
				require.NotEmpty(t, h.Faults())
			default:
				require.Empty(t, h.Faults())
			}
			requirePartitionsReal(t, h)
			requirePausedLeasesExpired(t, h)
			if sc.EveryEndpoint {
				requireEveryEndpointFigure(t, res, h)
			}
			for _, f := range []string{reports.IndexFile, reports.SummaryFile, reports.JUnitFile, HistoryFile} {
				require.FileExists(t, filepath.Join(res.Dir, f))
			}
		})
	}
}

// requireEveryEndpointFigure: the clients of a scenario with every member
// as an endpoint name no member on their operations, and the run counts
// the leases lost during each of its hung ports, in the result and in
// summary.json.
func requireEveryEndpointFigure(t *testing.T, res Result, h *history.History) {
	t.Helper()
	require.True(t, h.Header.EveryEndpoint, "the header says the clients have every endpoint")
	for _, op := range h.Operations() {
		require.Zero(t, op.Member, "op %d of client %d names a member", op.ID, op.Client)
	}
	hangs := 0
	for _, f := range h.Faults() {
		if f.Kind == history.KindHangPort {
			hangs++
		}
	}
	if hangs == 0 {
		require.Nil(t, res.Check.HungPort)
		return
	}
	hp := res.Check.HungPort
	require.NotNil(t, hp, "the figure of a run whose ports hung")
	require.Equal(t, hangs, hp.Faults)
	require.LessOrEqual(t, hp.WithLoss, hp.Faults)
	t.Logf("leases lost during a hung port: %d, in %d of %d hangs", len(hp.Lost), hp.WithLoss, hp.Faults)
	summary, err := os.ReadFile(filepath.Join(res.Dir, reports.SummaryFile))
	require.NoError(t, err)
	require.Contains(t, string(summary), `"hung_port_leases"`)
}

// processOnly reports whether every fault of sc needs members run as
// processes (SIGSTOP pauses, disk stalls).
func processOnly(sc faults.Scenario) bool {
	for _, inj := range sc.Injectors {
		switch inj {
		case faults.PauseLeader, faults.PauseMember, faults.StallLeaderDisk, faults.StallDisk:
		default:
			return false
		}
	}
	return len(sc.Injectors) > 0
}

// jepsenSeeds bounds the lock-pause runs that may pass before one shows the
// hazard: each run pauses a holder once or twice, and the first operation
// after a pause is an unfenced write in most runs.
const jepsenSeeds = 10

// TestLockPauseReproducesJepsen runs lock-pause with mostly unfenced writes
// until a paused holder's unfenced write lands while another client holds
// the lock (unsafe without fencing), while fenced writes never do.
func TestLockPauseReproducesJepsen(t *testing.T) {
	pauses := 0
	for seed := int64(1); seed <= jepsenSeeds; seed++ {
		res, h := runScenario(t, "lock-pause", seed, 10*time.Second, func(o *Options) { o.Unfenced = ptr(0.9) })
		requireNoFalseAlarm(t, res)
		pauses += requirePausedLeasesExpired(t, h)
		require.LessOrEqual(t, res.Check.Hazard.Stale, res.Check.Hazard.UnfencedWrites)
		found := 0
		for _, c := range res.Check.Checks {
			if c.Verdict == models.UnsafeWithoutFencing {
				require.NotEmpty(t, c.Evidence)
				require.Positive(t, res.Check.Hazard.Stale, "the figures agree with the finding")
				require.Contains(t, c.Account, "server truth", "with truth, the truth is cited")
				found++
			}
		}
		t.Logf("seed %d: %d unsafe-without-fencing findings, %d pauses so far", seed, found, pauses)
		if found > 0 {
			require.Positive(t, pauses, "a finding without a holder paused past its lease")
			return
		}
	}
	require.Failf(t, "hazard not reproduced", "no write was unsafe without fencing in %d seeds", jepsenSeeds)
}

func ptr[T any](v T) *T { return &v }

func TestSameSeedSameChoices(t *testing.T) {
	a, _ := runScenario(t, "mixed", 77, 9*time.Second, nil)
	b, _ := runScenario(t, "mixed", 77, 9*time.Second, nil)
	require.Equal(t, a.Schedule, b.Schedule)
	require.NotEmpty(t, a.Schedule)
	require.Equal(t, len(a.Intents), len(b.Intents))
	compared := 0
	for id, ia := range a.Intents {
		ib := b.Intents[id]
		n := min(len(ia), len(ib))
		require.Equal(t, ia[:n], ib[:n], "client %d chose differently", id)
		compared += n
	}
	require.Positive(t, compared)
}

// cancelOn is a run log that cancels the run when a line contains text.
type cancelOn struct {
	text   string
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.text) && !c.fired.Swap(true) {
		c.cancel()
	}
	return len(p), nil
}

// runInterruptedAt runs a scenario and interrupts it when the run logs a
// line containing text: the run is interrupted, with liveness undecided and
// no violation.
func runInterruptedAt(t *testing.T, scenario string, seed int64, d time.Duration, text string) Result {
	t.Helper()
	sc, err := faults.Lookup(scenario)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &cancelOn{text: text, cancel: cancel}
	res, err := Run(ctx, sc, Options{Seed: seed, Duration: d, Out: t.TempDir(), Log: log})
	require.NoError(t, err)
	require.True(t, log.fired.Load(), "the run never logged %q", text)
	require.True(t, res.Interrupted)
	if live, ok := checkOf(res.Check, models.CheckLiveness); ok {
		require.NotEqual(t, models.Violation, live.Verdict, "an interrupted probe is undecided, not failed")
	}
	require.NotEqual(t, models.Violation, res.Verdict)
	require.NotEqual(t, models.ExitViolation, res.ExitCode)
	requireCheckReproducesRun(t, res)
	return res
}

// TestInterruptedRunStillWritesItsDirectory interrupts a run once its first
// fault is in, whatever the start took.
func TestInterruptedRunStillWritesItsDirectory(t *testing.T) {
	res := runInterruptedAt(t, "mixed", 5, time.Minute, "nemesis:")
	sum, err := os.ReadFile(filepath.Join(res.Dir, reports.SummaryFile))
	require.NoError(t, err)
	require.Contains(t, string(sum), `"verdict"`)
}

// TestInterruptedDuringLivenessIsNotAViolation: a run whose context ends
// while liveness is being checked (a nightly budget running out) is
// interrupted, with liveness undecided, not failed.
func TestInterruptedDuringLivenessIsNotAViolation(t *testing.T) {
	runInterruptedAt(t, "smoke", 3, 2*time.Second, "checking liveness")
}

func TestBadOptions(t *testing.T) {
	sc, err := faults.Lookup("smoke")
	require.NoError(t, err)
	for _, o := range []Options{{Members: 4, Out: "x"}, {Backend: "zk", Out: "x"}, {},
		{Unfenced: ptr(1.5), Out: "x"}, {Unfenced: ptr(-0.5), Out: "x"}} {
		_, err := Run(context.Background(), sc, o)
		require.True(t, IsBadOptions(err), "%+v: %v", o, err)
	}
}
