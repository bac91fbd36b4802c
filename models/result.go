package models

import (
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of one check, or of a whole history.
type Verdict string

// Verdicts, from best to worst for the purpose of combining them.
const (
	// Ok: the operations are consistent with the model.
	Ok Verdict = "ok"
	// Empty: there was nothing to check; never reported as ok.
	Empty Verdict = "empty"
	// UnsafeWithoutFencing: unfenced writes took effect while another client
	// held the lock, explained by lease expiry or a pause (etcd's documented
	// hazard, not an etcd bug).
	UnsafeWithoutFencing Verdict = "unsafe-without-fencing"
	// KnownIssue: every finding of the check is a known etcd bug on the
	// version that ran (see package knownissues); it fails the run only
	// under Strict.
	KnownIssue Verdict = "known-issue"
	// Unknown: the checker could not decide in time, or a gap in the server
	// truth kept it from deciding.
	Unknown Verdict = "unknown"
	// Violation: the history is not consistent with the model.
	Violation Verdict = "violation"
)

// Check names.
const (
	CheckLock     = "lock"
	CheckFenced   = "fenced-writes"
	CheckUnfenced = "unfenced-writes"
	CheckElection = "election"
	CheckObserve  = "observe"
	CheckLiveness = "liveness"
)

// Exit codes shared by check and run.
const (
	ExitOk        = 0
	ExitViolation = 1
	ExitBadInput  = 2
	ExitUnknown   = 3
)

// Finding reports whether a verdict is a finding: a violation, the
// documented hazard, or a known etcd issue (which of them fail a run is
// CheckResult.Fails).
func (v Verdict) Finding() bool {
	return v == Violation || v == UnsafeWithoutFencing || v == KnownIssue
}

// CheckResult is the verdict of one check on one lock or election name.
type CheckResult struct {
	Check   string  `json:"check"`
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	// Fails is true when this verdict fails the run (a violation, an
	// unknown, unsafe-without-fencing under --strict or unexplained, or a
	// known etcd issue under --strict).
	Fails bool `json:"fails"`
	Ops   int  `json:"ops"`
	// Account is a plain-language account of a violation or finding.
	Account string `json:"account,omitempty"`
	// Evidence lists the ids of the operations involved.
	Evidence []int64 `json:"evidence,omitempty"`
	// At is the history time (ns) of the offending moment.
	At int64 `json:"at,omitempty"`
	// Revisions are the revisions that prove a truth finding.
	Revisions []int64 `json:"revisions,omitempty"`
	// Findings are every finding of a truth or lease check that is not a
	// known etcd issue (Account words the first), so that none is hidden
	// behind the count.
	Findings []Finding     `json:"findings,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`

	// Model and Info feed porcupine's visualization (nil when the check did
	// not run porcupine).
	Model *porcupine.Model             `json:"-"`
	Info  *porcupine.LinearizationInfo `json:"-"`

	ops []porcupine.Operation // what porcupine checked, for visualizations
	sub *nameHistory
}

// Hazard quantifies the lock hazard: unfenced writes made while another
// client held the lock, and fenced writes the fence rejected.
type Hazard struct {
	UnfencedWrites      int   `json:"unfenced_writes"`
	UnfencedOverlapping int   `json:"unfenced_overlapping"`
	LongestOverlapNs    int64 `json:"longest_overlap_ns"`
	FencedWrites        int   `json:"fenced_writes"`
	FencedRejected      int   `json:"fenced_rejected"`
	// With server truth: the unfenced writes that landed after their
	// writer's key had owned the lock and was deleted, exactly, and the most
	// revisions and the longest time after the loss one landed.
	Truth                 bool           `json:"server_truth"`
	UnfencedAfterLoss     int            `json:"unfenced_after_loss,omitempty"`
	MaxRevisionsAfterLoss int64          `json:"max_revisions_after_loss,omitempty"`
	MaxNsAfterLoss        int64          `json:"max_ns_after_loss,omitempty"`
	Losses                []UnfencedLoss `json:"losses,omitempty"`
}

// Result is the verdict on a whole history.
type Result struct {
	Verdict Verdict       `json:"verdict"`
	Checks  []CheckResult `json:"checks"`
	Hazard  Hazard        `json:"hazard"`
	// KnownIssues are the findings that are known etcd bugs.
	KnownIssues []KnownIssueFinding `json:"known_issues,omitempty"`
}

// KnownIssueFinding is a finding that matches a registered etcd issue on a
// version it affects.
type KnownIssueFinding struct {
	Issue   int    `json:"issue"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Message string `json:"message"`
	Finding
}

// Options tune Check.
type Options struct {
	// Timeout bounds each porcupine check (default 60 s); a check that
	// runs out of time is Unknown.
	Timeout time.Duration
	// Strict makes unsafe-without-fencing and known etcd issues fail the
	// run.
	Strict bool
	// Visualize keeps porcupine's linearization info for visualizations.
	Visualize bool
}

// ExitCode is the process exit code for the result: ExitViolation when a
// check fails the run with a finding (a violation, or unsafe-without-fencing
// under Strict or unexplained), ExitUnknown when a check could not decide or
// there was nothing to check, ExitOk otherwise (ok, or unsafe-without-fencing
// that does not fail the run).
func (r Result) ExitCode() int {
	unknown, any := false, false
	for _, c := range r.Checks {
		switch {
		case c.Fails && c.Verdict.Finding():
			return ExitViolation
		case c.Verdict == Unknown:
			unknown = true
		case c.Verdict == Ok || c.Verdict.Finding():
			any = true
		}
	}
	if unknown || !any {
		return ExitUnknown
	}
	return ExitOk
}
