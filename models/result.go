package models

import (
	"context"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/etcdchaos/etcdchaos/history"
)

// Verdict is the outcome of one check, or of a whole history.
type Verdict string

// Verdicts. A check's Recorded verdict is one of Ok, Empty, Unknown and
// Violation: what it concluded from the operations as recorded. Its
// classified Verdict may also be KnownIssue or UnsafeWithoutFencing.
const (
	// Ok: the operations are consistent with the model or contract.
	Ok Verdict = "ok"
	// Empty: there was nothing to check; never reported as ok.
	Empty Verdict = "empty"
	// UnsafeWithoutFencing: unfenced writes took effect after their
	// writer's lease was lost (etcd's documented hazard, not an etcd bug),
	// and nothing else is wrong.
	UnsafeWithoutFencing Verdict = "unsafe-without-fencing"
	// KnownIssue: every finding of the check shows the mechanism of a
	// registered etcd bug on the version that ran it (see knownissues).
	KnownIssue Verdict = "known-issue"
	// Unknown: the check could not decide: it ran out of time, or a gap in
	// the server truth kept it from deciding.
	Unknown Verdict = "unknown"
	// Violation: the history is not consistent with the model or contract,
	// and no registered mechanism explains it.
	Violation Verdict = "violation"
)

// Finding reports whether a verdict is a finding: a violation, a known
// etcd issue or the documented hazard.
func (v Verdict) Finding() bool {
	return v == Violation || v == KnownIssue || v == UnsafeWithoutFencing
}

// Check names.
const (
	CheckLock     = "lock"
	CheckFenced   = "fenced-writes"
	CheckUnfenced = "unfenced-writes"
	CheckElection = "election"
	CheckObserve  = "observe"
	CheckTruth    = "truth"
	CheckLease    = "lease"
	CheckLiveness = "liveness"
	CheckGhost    = "ghost"
)

// Names of the checks that concern no lock or election: the lease check's
// one result per history (a lease holds keys on every name its client
// uses) and the liveness check's.
const (
	LeaseCheckName    = "leases"
	LivenessCheckName = "cluster"
)

// Exit codes shared by run, check, report and the batch commands.
const (
	ExitOk        = 0
	ExitViolation = 1
	ExitBadInput  = 2
	ExitUnknown   = 3
)

// WorstExit combines exit codes of several histories (a batch): violation
// beats bad input, which beats unknown, which beats ok.
func WorstExit(codes ...int) int {
	rank := map[int]int{ExitOk: 0, ExitUnknown: 1, ExitBadInput: 2, ExitViolation: 3}
	worst := ExitOk
	for _, c := range codes {
		if rank[c] > rank[worst] {
			worst = c
		}
	}
	return worst
}

// CheckResult is one check on one lock or election name (or on the
// history's leases, or the cluster's liveness).
type CheckResult struct {
	Check string `json:"check"`
	Name  string `json:"name"`
	// Verdict is the classified verdict (see package doc); Recorded what
	// the check concluded from the operations as recorded. They differ
	// only when classification explained a violation.
	Verdict  Verdict `json:"verdict"`
	Recorded Verdict `json:"recorded"`
	// Fails is true when this verdict fails the run: a violation, an
	// unknown, or a known issue or the hazard under Strict.
	Fails bool `json:"fails"`
	Ops   int  `json:"ops"`
	// Account says in plain words what the verdict rests on; Evidence
	// lists the operations involved, At the offending moment (history
	// ns), Revisions the revisions that prove it.
	Account   string  `json:"account,omitempty"`
	Evidence  []int64 `json:"evidence,omitempty"`
	At        int64   `json:"at,omitempty"`
	Revisions []int64 `json:"revisions,omitempty"`
	// RecordedAccount is the check's own account of its violation when
	// classification explained it: the evidence, as the check saw it.
	RecordedAccount string `json:"recorded_account,omitempty"`
	// Findings are every finding of the check, each classified: for a
	// contract check (truth, lease, liveness) every refuted claim, for a
	// porcupine check the refusal its account words.
	Findings []Finding `json:"findings,omitempty"`
	// Undecided counts the claims a gap in the server truth (or in what
	// the history records) kept from being checked.
	Undecided int `json:"undecided,omitempty"`
	// Withdrawn are the operations classification took as of unknown
	// outcome to explain a porcupine violation: the known issue's false
	// claims, or the hazard's stale writes.
	Withdrawn []int64       `json:"withdrawn,omitempty"`
	Elapsed   time.Duration `json:"elapsed_ns"`

	// Porcupine is the porcupine run behind the verdict, nil for contract
	// checks.
	Porcupine *PorcupineRun `json:"-"`
}

// ContractResult is the result of a check that holds answers to a
// contract (truth, lease, liveness) rather than to a model, as it recorded
// it: a violation worded by its first finding when there is one (every
// finding listed), else unknown when claims were undecided (undecidedWhy
// says why), else empty when it checked nothing, else ok. Classification
// judges the findings afterwards.
func ContractResult(check, name string, ops int, findings []Finding, undecided int, undecidedWhy string) CheckResult {
	r := CheckResult{Check: check, Name: name, Verdict: Ok, Ops: ops, Findings: findings, Undecided: undecided}
	for i := range r.Findings {
		r.Findings[i].Check = check
	}
	switch {
	case len(findings) > 0:
		f := findings[0]
		r.Verdict, r.Account, r.Evidence, r.At, r.Revisions = Violation, f.Account, f.Evidence, f.At, f.Revisions
	case undecided > 0:
		r.Verdict, r.Account = Unknown, undecidedWhy
	case ops == 0:
		r.Verdict = Empty
	}
	r.Recorded, r.Fails = r.Verdict, r.Verdict == Violation || r.Verdict == Unknown
	return r
}

// PorcupineRun is what a porcupine check keeps for visualizations and for
// classification.
type PorcupineRun struct {
	Model porcupine.Model
	// Info is porcupine's linearization info (nil when not kept).
	Info *porcupine.LinearizationInfo
	// Ops are the operations porcupine checked.
	Ops []porcupine.Operation
	// Refused is the operation the model refused (0: none could be
	// singled out) and Refusal why, in the model's words.
	Refused int64
	Refusal string
	// Recheck runs the same check on the same name with the operations
	// withdrawn taken as of unknown outcome (info); classification uses it
	// to learn whether they explain the violation.
	Recheck func(ctx context.Context, withdrawn map[int64]bool) CheckResult
	// Leases are the leases the name's operations used.
	Leases []int64
}

// Hazard puts etcd's documented lock hazard in numbers: unfenced writes and
// which of them landed after their writer's lease was lost, fenced writes
// and which of them the fence rejected.
type Hazard struct {
	UnfencedWrites int `json:"unfenced_writes"`
	// Stale counts the unfenced writes classified as the documented hazard:
	// with server truth, exactly those that landed after the writer's key
	// had owned the lock and was deleted (Losses measures each); without
	// it, those a fault or a lease loss could have made stale on names
	// whose unfenced-writes check needed them to be.
	Stale          int  `json:"stale"`
	FencedWrites   int  `json:"fenced_writes"`
	FencedRejected int  `json:"fenced_rejected"`
	Truth          bool `json:"server_truth"`
	// With server truth: the most revisions and the longest time after the
	// loss a stale write landed, and each stale write.
	MaxRevisionsAfterLoss int64          `json:"max_revisions_after_loss,omitempty"`
	MaxNsAfterLoss        int64          `json:"max_ns_after_loss,omitempty"`
	Losses                []UnfencedLoss `json:"losses,omitempty"`
}

// UnfencedLoss measures one unfenced write that landed after its writer's
// key had stopped owning the lock: etcd's documented hazard, in revisions.
type UnfencedLoss struct {
	Name string `json:"name"`
	Op   int64  `json:"op"`
	// Revisions is how many revisions after the writer's key was deleted
	// the write landed; AfterNs is how long after, at least.
	Revisions int64 `json:"revisions"`
	AfterNs   int64 `json:"after_ns"`
	// Owner is the client that owned the lock at the write's revision (0:
	// nobody).
	Owner int `json:"owner,omitempty"`
}

// Result is the verdict on a whole history.
type Result struct {
	Verdict  Verdict       `json:"verdict"`
	ExitCode int           `json:"exit_code"`
	Checks   []CheckResult `json:"checks"`
	Hazard   Hazard        `json:"hazard"`
	// KnownIssues are every finding classified as a known etcd issue, in
	// check order.
	KnownIssues []Finding `json:"known_issues,omitempty"`
	// Ghosts are the ghost leaders server truth shows (a figure, not a
	// verdict: see package ghost).
	Ghosts []GhostLeader `json:"ghost_leaders,omitempty"`
	// HungPort counts the leases lost while a member's client port hung
	// (a figure, not a verdict: see package hungport); nil unless clients
	// had every member as an endpoint and a port hung.
	HungPort *HungPortLeases `json:"hung_port_leases,omitempty"`
}

// HungPortLeases are the client leases lost during hung client ports, of
// clients with every member as an endpoint.
type HungPortLeases struct {
	// Faults is how many hang-client-port faults the history has, and
	// WithLoss how many of them cost a lease.
	Faults   int `json:"faults"`
	WithLoss int `json:"faults_with_loss"`
	// Lost are the leases lost, by the time their client learned it.
	Lost []LostLease `json:"lost,omitempty"`
}

// LostLease is a client's lease lost during a hung port.
type LostLease struct {
	Client int   `json:"client"`
	Lease  int64 `json:"lease"`
	// LastAlive is the last time its keys were proven to exist, At when
	// its client recorded the loss (ns): it ended in between.
	LastAlive int64 `json:"last_alive_ns"`
	At        int64 `json:"at_ns"`
	// Member is the member whose port hung; Leader, that it led.
	Member int  `json:"member"`
	Leader bool `json:"leader,omitempty"`
}

// GhostLeader is an election key that led while its campaign had not
// returned ok (it returned an error or no answer): from From to To (ns)
// nobody acted as the election's leader.
type GhostLeader struct {
	Name   string `json:"name"`
	Op     int64  `json:"op"` // the campaign
	Client int    `json:"client"`
	Key    string `json:"key"`
	// CreateRev is the key's create revision and OwnerRev the revision at
	// which it became the oldest.
	CreateRev int64 `json:"create_rev"`
	OwnerRev  int64 `json:"owner_rev"`
	From      int64 `json:"from_ns"`
	To        int64 `json:"to_ns"`
	// Ended says how the ghost ended: "deleted at revision N", "claimed by
	// op N" (a later campaign of its client returned ok for it), or "the
	// record ends".
	Ended string `json:"ended"`
	// Error is what the campaign returned ("" for no answer).
	Error string `json:"error,omitempty"`
	// Compacted: the campaign's error was a compaction's, the path of etcd
	// issue 21128 (Campaign returns the error and leaves its key).
	Compacted bool `json:"compacted,omitempty"`
}

// Span is how long the ghost led.
func (g GhostLeader) Span() time.Duration { return time.Duration(g.To - g.From) }

// Findings are every finding of every check, in check order.
func (r Result) Findings() []Finding {
	var all []Finding
	for _, c := range r.Checks {
		all = append(all, c.Findings...)
	}
	return all
}

// Options tune a history's check.
type Options struct {
	// Timeout bounds each porcupine check (default DefaultTimeout); a
	// check that runs out of time is Unknown.
	Timeout time.Duration
	// Strict makes the documented hazard and known etcd issues fail the
	// run.
	Strict bool
	// Visualize keeps porcupine's linearization info for visualizations.
	Visualize bool
	// Only, when set, runs only these checks (and what classifying them
	// needs); the shrinker uses it to keep candidates cheap.
	Only []string
}

// DefaultTimeout bounds each porcupine check when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Secs formats a history time (ns since the run started) in seconds, as
// accounts write it; history.Never is "the end".
func Secs(ns int64) string {
	if ns == history.Never {
		return "the end"
	}
	return fmt.Sprintf("%.2f s", float64(ns)/1e9)
}
