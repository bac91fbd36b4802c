package linear

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sync/errgroup"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// Options tune Check.
type Options struct {
	// Timeout bounds each porcupine check (models.DefaultTimeout when
	// zero); a check that runs out of time is Unknown.
	Timeout time.Duration
	// Visualize keeps porcupine's linearization info for visualizations.
	Visualize bool
	// Only, when not nil, says which checks to run.
	Only func(check string) bool
}

// Check checks ops against the lock and election models, one name at a
// time (names run in parallel, at most GOMAXPROCS at once). faults are the
// history's; lease faults are lease deaths to the models. leases are the
// keys' leases that server truth recorded (nil without it). Only the checks
// that apply to the operations present are listed; every result judges the
// operations as given, and a violation's Porcupine.Recheck runs the same
// check again with some of them withdrawn. It returns an error only when
// ctx ends first.
func Check(ctx context.Context, ops []history.Operation, faults []history.Fault, leases map[string]int64, opts Options) ([]models.CheckResult, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = models.DefaultTimeout
	}
	if opts.Only == nil {
		opts.Only = func(string) bool { return true }
	}
	c := &checker{ops: ops, faults: faults, leases: leases, opts: opts}
	names := splitByName(ops, faults, leases)
	stop := c.watch(ctx)
	defer stop()
	results := make([][]models.CheckResult, len(names))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range names {
		g.Go(func() error {
			results[i] = c.checkName(p)
			return nil
		})
	}
	_ = g.Wait() // the tasks never fail
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("check history: %w", err)
	}
	var out []models.CheckResult
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out, nil
}

// checker holds what every check of one Check call shares.
type checker struct {
	ops    []history.Operation
	faults []history.Fault
	leases map[string]int64
	opts   Options
	stop   atomic.Bool // set when the caller's context ends
}

// watch stops the model searches once ctx ends; the returned function
// stops watching.
func (c *checker) watch(ctx context.Context) func() bool {
	c.stop.Store(ctx.Err() != nil)
	return context.AfterFunc(ctx, func() { c.stop.Store(true) })
}

// checkName runs the checks of p's family that apply to p: lock, and
// fenced-writes and unfenced-writes when there are such writes; election,
// and observe when there are Observe deliveries.
func (c *checker) checkName(p *nameHistory) []models.CheckResult {
	var out []models.CheckResult
	for _, check := range p.family.checks {
		if c.opts.Only(check) && c.applies(check, p) {
			out = append(out, c.runCheck(check, p))
		}
	}
	return out
}

// applies reports whether a check has operations of its kind on p.
func (c *checker) applies(check string, p *nameHistory) bool {
	switch check {
	case models.CheckLock:
		return true
	case models.CheckFenced:
		return p.has(func(m *mop) bool { return m.kind == opWrite && m.fenced })
	case models.CheckUnfenced:
		return p.has(func(m *mop) bool { return m.kind == opWrite && !m.fenced })
	case models.CheckElection:
		return p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader })
	case models.CheckObserve:
		return p.has(func(m *mop) bool { return m.kind == opObserve })
	}
	return false
}

// runCheck runs one check on p.
func (c *checker) runCheck(check string, p *nameHistory) models.CheckResult {
	var r models.CheckResult
	switch check {
	case models.CheckLock:
		r = c.runLock(p, check, func(*mop) bool { return false })
	case models.CheckFenced:
		r = c.runLock(p, check, func(m *mop) bool { return m.fenced })
	case models.CheckUnfenced:
		r = c.runLock(p, check, func(m *mop) bool { return !m.fenced })
	case models.CheckElection:
		ops := p.porcupineOps(func(m *mop) bool {
			return (m.kind >= opCampaign && m.kind <= opLeader || m.kind == opDeath) && !trivial(m)
		})
		subject := p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader && !trivial(m) })
		r = c.run(check, p, ops, c.model(p), subject)
	case models.CheckObserve:
		start := time.Now()
		r = checkObserve(p)
		r.Elapsed = time.Since(start)
	}
	if r.Porcupine == nil {
		r.Porcupine = &models.PorcupineRun{}
	}
	r.Porcupine.Leases = p.leases()
	r.Porcupine.Recheck = func(ctx context.Context, withdrawn map[int64]bool) models.CheckResult {
		return c.recheck(ctx, check, p.family, p.name, withdrawn)
	}
	return r
}

// recheck runs check on the named name again with the operations withdrawn
// taken as of unknown outcome.
func (c *checker) recheck(ctx context.Context, check string, fam *family, name string, withdrawn map[int64]bool) models.CheckResult {
	ops := slices.Clone(c.ops)
	for i := range ops {
		if op := &ops[i]; op.ID != 0 && withdrawn[op.ID] {
			op.Outcome, op.Return = history.Info, history.Never
		}
	}
	again := &checker{ops: ops, faults: c.faults, leases: c.leases, opts: c.opts}
	stop := again.watch(ctx)
	defer stop()
	for _, p := range splitByName(ops, c.faults, c.leases) {
		if p.family == fam && p.name == name {
			return again.runCheck(check, p)
		}
	}
	return models.CheckResult{Check: check, Name: name, Verdict: models.Empty, Recorded: models.Empty}
}

// trivial reports whether an operation can neither change a model's state
// nor fail: it is left out of porcupine's input.
func trivial(m *mop) bool {
	switch m.kind {
	case opLock, opUnlock, opCampaign, opResign, opDeath:
		return m.failed()
	case opLeader, opWrite:
		return !m.certain()
	}
	return false
}

// runLock runs the lock model with the writes that writes selects.
func (c *checker) runLock(p *nameHistory, check string, writes func(*mop) bool) models.CheckResult {
	keep := func(m *mop) bool {
		switch m.kind {
		case opLock, opUnlock, opDeath:
			return !trivial(m)
		case opWrite:
			return writes(m) && !trivial(m)
		}
		return false
	}
	subject := p.has(func(m *mop) bool {
		if check == models.CheckLock {
			return (m.kind == opLock || m.kind == opUnlock) && !trivial(m)
		}
		return m.kind == opWrite && writes(m) && !trivial(m)
	})
	return c.run(check, p, p.porcupineOps(keep), c.model(p), subject)
}

// run checks ops with porcupine. subject tells whether there is anything to
// check at all; without it the result is Empty.
func (c *checker) run(check string, p *nameHistory, ops []porcupine.Operation, model porcupine.Model, subject bool) models.CheckResult {
	run := &models.PorcupineRun{Model: model, Ops: ops}
	res := models.CheckResult{Check: check, Name: p.name, Ops: len(ops), Verdict: models.Empty, Porcupine: run}
	if !subject {
		res.Recorded = res.Verdict
		return res
	}
	start := time.Now()
	deadline := start.Add(c.opts.Timeout)
	r := porcupine.CheckOperationsTimeout(model, ops, c.opts.Timeout)
	if r == porcupine.Illegal || (r == porcupine.Ok && c.opts.Visualize) {
		// Run again, keeping the partial linearizations for the account
		// and the visualization.
		if left := time.Until(deadline); left > 0 {
			if r2, info := porcupine.CheckOperationsVerbose(model, ops, left); r2 == r {
				run.Info = &info
			}
		}
	}
	res.Elapsed = time.Since(start)
	switch {
	case r == porcupine.Ok:
		res.Verdict = models.Ok
	case r == porcupine.Unknown || c.stop.Load():
		res.Verdict, res.Fails = models.Unknown, true
		res.Account = fmt.Sprintf("could not decide within %v", c.opts.Timeout)
	default:
		res.Verdict, res.Fails = models.Violation, true
		e := p.explain(ops, run.Info)
		res.Account, res.Evidence, res.At = e.account, e.evidence, e.at
		run.Refused, run.Refusal = e.refused, e.refusal
	}
	res.Recorded = res.Verdict
	return res
}

// model is porcupine's view of the model of p's family: the family's state
// and step, stopped short once the caller's context ended.
func (c *checker) model(p *nameHistory) porcupine.Model {
	step := func(s, in, _ any) (bool, any) {
		n, why := s.(state).step(in.(*mop))
		return why == accepted, n
	}
	return porcupine.Model{
		Init: func() any { return p.family.initial() },
		Step: step,
		StepContext: func(_ context.Context, s, in, out any) (bool, any) {
			if c.stop.Load() {
				return false, s
			}
			return step(s, in, out)
		},
		Equal:             func(a, b any) bool { return a.(state).equal(b.(state)) },
		Hash:              func(s any) uint64 { return s.(state).hash() },
		DescribeOperation: func(in, _ any) string { return p.describeOp(in.(*mop)) },
		DescribeState:     func(s any) string { return s.(state).describe(p) },
	}
}
