package models

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sync/errgroup"

	"github.com/etcdchaos/etcdchaos/history"
)

// DefaultTimeout bounds each porcupine check when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Check checks a history against the lock and election models, one lock or
// election name at a time (names run in parallel, at most GOMAXPROCS at
// once), and etcd's lease answers against its lease contract (one lease
// result per history). Only the checks that apply to the operations present
// are listed.
// It returns an error only when ctx ends first.
func Check(ctx context.Context, h *history.History, opts Options) (Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c := newChecker(h, opts)
	names := c.split()
	stopWatch := context.AfterFunc(ctx, func() { c.stop.Store(true) })
	defer stopWatch()

	results := make([][]CheckResult, len(names))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range names {
		g.Go(func() error {
			results[i] = c.checkName(p)
			if t := c.truth[p.name]; t != nil && t.family == p.family {
				results[i] = append(results[i], t.result)
			}
			return nil
		})
	}
	_ = g.Wait() // the tasks never fail
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("check history: %w", err)
	}
	var res Result
	for _, rs := range results {
		res.Checks = append(res.Checks, rs...)
	}
	lease := c.checkLease()
	if lease != nil {
		res.Checks = append(res.Checks, lease.result)
	}
	res.Verdict = combine(res.Checks)
	res.Hazard = hazardOf(names)
	c.addTruth(&res)
	if lease != nil {
		res.KnownIssues = append(res.KnownIssues, lease.known...)
	}
	return res, nil
}

// checker holds what every check of one Check call shares.
type checker struct {
	h     *history.History
	ops   []history.Operation // h's, as recorded
	opts  Options
	truth map[string]*nameTruth // by name; nil without server truth
	stop  atomic.Bool           // set when the caller's context ends
}

// newChecker reads h's operations once and checks its server truth, which
// the other checks need first (see operations).
func newChecker(h *history.History, opts Options) *checker {
	c := &checker{h: h, ops: h.Operations(), opts: opts}
	c.truth = c.checkTruth()
	return c
}

// split splits the history by name, as the models see it (see operations).
func (c *checker) split() []*nameHistory {
	return splitByName(c.operations(), c.h.Faults(), truthLeases(c.h))
}

// checkName runs the checks of p's family on p.
func (c *checker) checkName(p *nameHistory) []CheckResult {
	return p.family.run(c, p)
}

// checkLockName runs the lock family's checks: lock, and fenced-writes and
// unfenced-writes when there are such writes.
func (c *checker) checkLockName(p *nameHistory) []CheckResult {
	lock := c.runLock(p, CheckLock, func(*mop) bool { return false })
	out := []CheckResult{lock}
	fenced := CheckResult{Verdict: Empty}
	if p.has(func(m *mop) bool { return m.kind == opWrite && m.fenced }) {
		fenced = c.runLock(p, CheckFenced, func(m *mop) bool { return m.fenced })
		out = append(out, fenced)
	}
	if p.has(func(m *mop) bool { return m.kind == opWrite && !m.fenced }) {
		unfenced := c.runLock(p, CheckUnfenced, func(m *mop) bool { return !m.fenced })
		out = append(out, c.classifyUnfenced(unfenced, lock, fenced))
	}
	return out
}

// checkElectionName runs the election family's checks: election, and
// observe when there are Observe deliveries.
func (c *checker) checkElectionName(p *nameHistory) []CheckResult {
	var out []CheckResult
	if p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader }) {
		ops := p.porcupineOps(func(m *mop) bool {
			return (m.kind >= opCampaign && m.kind <= opLeader || m.kind == opDeath) && !trivial(m)
		})
		subject := p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader && !trivial(m) })
		out = append(out, c.run(CheckElection, p, ops, c.model(p), subject))
	}
	if p.has(func(m *mop) bool { return m.kind == opObserve }) {
		start := time.Now()
		r := checkObserve(p)
		r.Elapsed = time.Since(start)
		out = append(out, r)
	}
	return out
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
func (c *checker) runLock(p *nameHistory, check string, writes func(*mop) bool) CheckResult {
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
		if check == CheckLock {
			return (m.kind == opLock || m.kind == opUnlock) && !trivial(m)
		}
		return m.kind == opWrite && writes(m) && !trivial(m)
	})
	return c.run(check, p, p.porcupineOps(keep), c.model(p), subject)
}

// run checks ops with porcupine. subject tells whether there is anything to
// check at all; without it the result is Empty.
func (c *checker) run(check string, p *nameHistory, ops []porcupine.Operation, model porcupine.Model, subject bool) CheckResult {
	res := CheckResult{Check: check, Name: p.name, Ops: len(ops), Verdict: Empty, Model: &model, ops: ops, sub: p}
	if !subject {
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
				res.Info = &info
			}
		}
	}
	res.Elapsed = time.Since(start)
	switch r {
	case porcupine.Ok:
		res.Verdict = Ok
	case porcupine.Unknown:
		res.Verdict, res.Fails = Unknown, true
		res.Account = fmt.Sprintf("could not decide within %v", c.opts.Timeout)
	default:
		res.Verdict, res.Fails = Violation, true
		res.Account, res.Evidence, res.At = p.explain(ops, res.Info)
	}
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

// combine is the verdict on a whole history: a failing violation beats a
// failing unsafe-without-fencing (Strict), which beats unknown, which beats
// a non-failing unsafe-without-fencing, which beats ok, which beats empty.
func combine(checks []CheckResult) Verdict {
	rank := func(c CheckResult) int {
		switch {
		case c.Verdict == Violation:
			return 7
		case c.Verdict == KnownIssue && c.Fails:
			return 6
		case c.Verdict == UnsafeWithoutFencing && c.Fails:
			return 5
		case c.Verdict == Unknown:
			return 4
		case c.Verdict == KnownIssue:
			return 3
		case c.Verdict == UnsafeWithoutFencing:
			return 2
		case c.Verdict == Ok:
			return 1
		}
		return 0
	}
	best := 0
	for _, c := range checks {
		best = max(best, rank(c))
	}
	return [...]Verdict{Empty, Ok, UnsafeWithoutFencing, KnownIssue, Unknown, UnsafeWithoutFencing, KnownIssue, Violation}[best]
}
