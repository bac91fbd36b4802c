// Package verdict checks a history end to end, in the three layers of
// package models: the checks judge the operations as recorded, each on its
// own; classification then decides, finding by finding, what is a known
// etcd issue, what is etcd's documented hazard and what is a violation;
// Combine folds the classified checks into the history's verdict and exit
// code. The runner, `etcdchaos check`, the reports and the batch commands
// all use Check, so a history gets the same verdict wherever it is judged.
package verdict

import (
	"context"
	"slices"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/ghost"
	"github.com/etcdchaos/etcdchaos/models/hungport"
	"github.com/etcdchaos/etcdchaos/models/lease"
	"github.com/etcdchaos/etcdchaos/models/linear"
	"github.com/etcdchaos/etcdchaos/models/liveness"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Check checks h: every check that applies to its operations, classified,
// and the verdict. It returns an error only when ctx ends first.
func Check(ctx context.Context, h *history.History, opts models.Options) (models.Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = models.DefaultTimeout
	}
	want := func(check string) bool { return len(opts.Only) == 0 || slices.Contains(opts.Only, check) }
	ops := h.Operations()
	rec := truth.Build(h)

	// The checks, each on the operations as recorded. Server truth settles
	// the outcome of grants the clients never learned (and nothing else)
	// before the porcupine models see them.
	modelOps := append(slices.Clip(ops), truth.Settle(rec, ops)...)
	lin, err := linear.Check(ctx, modelOps, h.Faults(), truth.Leases(h),
		linear.Options{Timeout: opts.Timeout, Visualize: opts.Visualize, Only: want})
	if err != nil {
		return models.Result{}, err
	}
	var claims []models.CheckResult
	if rec != nil && (want(models.CheckTruth) || len(lin) > 0) {
		claims = truth.Check(rec, ops)
	}
	checks := byName(lin, claims)
	if want(models.CheckLease) {
		if r, ok := lease.Check(h, ops, rec); ok {
			checks = append(checks, r)
		}
	}
	var ghosts []models.GhostLeader
	if rec != nil {
		ghosts = ghost.Find(rec, ops)
		if want(models.CheckGhost) {
			checks = append(checks, ghost.Check(rec, ops)...)
		}
	}
	if want(models.CheckLiveness) {
		if r, ok := liveness.Check(h, ops, rec); ok {
			checks = append(checks, r)
		}
	}

	// Classification, the last layer, over every finding of every check.
	c := &classifier{h: h, ops: ops, rec: rec, strict: opts.Strict,
		known: map[string]map[int64]*models.IssueRef{}, stale: map[string]int{}}
	for i := range checks {
		if checks[i].Porcupine == nil {
			c.contract(&checks[i])
		}
	}
	for i := range checks {
		if checks[i].Porcupine != nil {
			c.porcupine(ctx, &checks[i], checks[:i])
		}
	}
	if err := ctx.Err(); err != nil {
		return models.Result{}, err
	}

	res := models.Result{Checks: checks, Hazard: c.hazard(h, ops, rec), KnownIssues: c.direct, Ghosts: ghosts,
		HungPort: hungport.Find(h, ops)}
	res.Verdict, res.ExitCode = Combine(checks)
	return res, nil
}

// byName lists the porcupine checks of each name followed by that name's
// truth check; truth checks of names without porcupine checks come last.
func byName(lin, claims []models.CheckResult) []models.CheckResult {
	truthOf := map[string]models.CheckResult{}
	for _, r := range claims {
		truthOf[r.Name] = r
	}
	out := make([]models.CheckResult, 0, len(lin)+len(claims))
	for i, r := range lin {
		out = append(out, r)
		if t, ok := truthOf[r.Name]; ok && (i+1 == len(lin) || lin[i+1].Name != r.Name) {
			out = append(out, t)
			delete(truthOf, r.Name)
		}
	}
	for _, r := range claims {
		if _, ok := truthOf[r.Name]; ok {
			out = append(out, r)
		}
	}
	return out
}

// hazard puts the documented hazard in numbers (see models.Hazard).
func (c *classifier) hazard(h *history.History, ops []history.Operation, rec *truth.Record) models.Hazard {
	hz := models.Hazard{Truth: rec != nil}
	for i := range ops {
		op := &ops[i]
		if op.F != history.FWrite {
			continue
		}
		switch {
		case op.Input.IsFenced():
			hz.FencedWrites++
			if op.Outcome == history.Fail {
				hz.FencedRejected++
			}
		case op.Outcome == history.Ok:
			hz.UnfencedWrites++
		}
	}
	if rec == nil {
		for _, n := range c.stale {
			hz.Stale += n
		}
		return hz
	}
	hz.Losses = c.hz().Stale()
	hz.Stale = len(hz.Losses)
	for _, l := range hz.Losses {
		hz.MaxRevisionsAfterLoss = max(hz.MaxRevisionsAfterLoss, l.Revisions)
		hz.MaxNsAfterLoss = max(hz.MaxNsAfterLoss, l.AfterNs)
	}
	return hz
}

// Combine folds classified checks into a history's verdict and exit code,
// in the fixed order violation > unknown > known issue and the documented
// hazard > ok > empty. A known issue or the hazard that fails the run
// (Strict) counts as a violation for the exit code and ranks above unknown.
// Exit codes: ExitViolation when a check fails the run with a finding,
// else ExitUnknown when a check could not decide or nothing was checked,
// else ExitOk.
func Combine(checks []models.CheckResult) (models.Verdict, int) {
	verdict, worst := models.Empty, 0
	failed, unknown, decided := false, false, false
	for _, c := range checks {
		r := rank(c)
		if r > worst {
			verdict, worst = c.Verdict, r
		}
		switch {
		case c.Fails && c.Verdict.Finding():
			failed = true
		case c.Verdict == models.Unknown:
			unknown = true
		case c.Verdict == models.Ok || c.Verdict.Finding():
			decided = true
		}
	}
	switch {
	case failed:
		return verdict, models.ExitViolation
	case unknown || !decided:
		return verdict, models.ExitUnknown
	}
	return verdict, models.ExitOk
}

// rank orders a check's verdict for Combine: a known issue or the hazard
// that fails the run (Strict) ranks just below a violation.
func rank(c models.CheckResult) int {
	if c.Fails && (c.Verdict == models.KnownIssue || c.Verdict == models.UnsafeWithoutFencing) {
		return Rank(models.Violation) - 1
	}
	return Rank(c.Verdict)
}

// Rank orders verdicts: violation > unknown > known issue > the documented
// hazard > ok > empty (anything else ranks with empty).
func Rank(v models.Verdict) int {
	switch v {
	case models.Violation:
		return 10
	case models.Unknown:
		return 4
	case models.KnownIssue:
		return 3
	case models.UnsafeWithoutFencing:
		return 2
	case models.Ok:
		return 1
	}
	return 0
}
