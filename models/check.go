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
// once). Only the checks that apply to the operations present are listed.
// It returns an error only when ctx ends first.
func Check(ctx context.Context, h *history.History, opts Options) (Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	names := splitByName(h.Operations(), h.Faults())
	c := &checker{h: h, opts: opts}
	stopWatch := context.AfterFunc(ctx, func() { c.stop.Store(true) })
	defer stopWatch()

	results := make([][]CheckResult, len(names))
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
		return Result{}, fmt.Errorf("check history: %w", err)
	}
	var res Result
	for _, rs := range results {
		res.Checks = append(res.Checks, rs...)
	}
	res.Verdict = combine(res.Checks)
	res.Hazard = hazardOf(names)
	return res, nil
}

// checker holds what every check of one Check call shares.
type checker struct {
	h    *history.History
	opts Options
	stop atomic.Bool // set when the caller's context ends
}

func (c *checker) checkName(p *nameHistory) []CheckResult {
	if p.family == familyElection {
		return c.checkElectionName(p)
	}
	return c.checkLockName(p)
}

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

func (c *checker) checkElectionName(p *nameHistory) []CheckResult {
	var out []CheckResult
	if p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader }) {
		ops := p.porcupineOps(func(m *mop) bool {
			return (m.kind >= opCampaign && m.kind <= opLeader || m.kind == opDeath) && !trivial(m)
		})
		subject := p.has(func(m *mop) bool { return m.kind >= opCampaign && m.kind <= opLeader && !trivial(m) })
		out = append(out, c.run(CheckElection, p, ops, c.electionModel(p), subject))
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
	return c.run(check, p, p.porcupineOps(keep), c.lockModel(p), subject)
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
		res.Account, res.Evidence, res.At = p.explain(check, ops, res.Info)
	}
	return res
}

func (c *checker) lockModel(p *nameHistory) porcupine.Model {
	step := func(s, in, _ any) (bool, any) {
		ok, n := lockStep(s.(*lockState), in.(*mop))
		return ok, n
	}
	return porcupine.Model{
		Init: func() any { return &lockState{} },
		Step: step,
		StepContext: func(_ context.Context, s, in, out any) (bool, any) {
			if c.stop.Load() {
				return false, s
			}
			return step(s, in, out)
		},
		Equal:             func(a, b any) bool { return a.(*lockState).equal(b.(*lockState)) },
		Hash:              func(s any) uint64 { return s.(*lockState).hash() },
		DescribeOperation: func(in, _ any) string { return p.describeOp(in.(*mop)) },
		DescribeState:     func(s any) string { return p.describeLockState(s.(*lockState)) },
	}
}

func (c *checker) electionModel(p *nameHistory) porcupine.Model {
	step := func(s, in, _ any) (bool, any) {
		ok, n := electionStep(s.(*electionState), in.(*mop))
		return ok, n
	}
	return porcupine.Model{
		Init: func() any { return &electionState{} },
		Step: step,
		StepContext: func(_ context.Context, s, in, out any) (bool, any) {
			if c.stop.Load() {
				return false, s
			}
			return step(s, in, out)
		},
		Equal:             func(a, b any) bool { return a.(*electionState).equal(b.(*electionState)) },
		Hash:              func(s any) uint64 { return s.(*electionState).hash() },
		DescribeOperation: func(in, _ any) string { return p.describeOp(in.(*mop)) },
		DescribeState:     func(s any) string { return p.describeElectionState(s.(*electionState)) },
	}
}

// classifyUnfenced turns a failed unfenced-writes check into the finding it
// stands for. Unfenced writes made while another client held the lock are
// etcd's documented hazard when a lease lapsed or a client paused: the
// verdict is unsafe-without-fencing, failing only under Strict. With
// nothing in the history that could explain it, or with mutual exclusion
// itself broken, it is a violation; when the lock or fenced check could not
// decide, neither can this one.
func (c *checker) classifyUnfenced(u, lock, fenced CheckResult) CheckResult {
	if u.Verdict != Violation {
		return u
	}
	switch {
	case lock.Verdict == Violation || fenced.Verdict == Violation:
		u.Account = "mutual exclusion itself broke (see the lock and fenced-writes checks): " + u.Account
		return u
	case lock.Verdict == Unknown || fenced.Verdict == Unknown:
		u.Verdict, u.Fails = Unknown, true
		u.Account = "undecided because the lock check was undecided: " + u.Account
		return u
	}
	why, ok := explanation(c.h, u.At, writerOf(u))
	if !ok {
		u.Account += "; nothing in the history (no loss of its lease, lease fault or pause aimed at it, partition or kill) explains it"
		return u
	}
	u.Verdict, u.Fails = UnsafeWithoutFencing, c.opts.Strict
	u.Account = "unsafe without fencing: " + u.Account + "; explained by " + why
	return u
}

// Fault kinds that can make a lease lapse while its client still believes it
// holds the lock. Client faults do so for the client (Target) or lease they
// aim at; cluster faults cut keep-alives of whichever clients they touch.
var (
	clientLapseFaults  = map[string]bool{"revoke-lease": true, "expire-lease": true, "pause-client": true, "isolate-client": true}
	clusterLapseFaults = map[string]bool{"partition": true, "kill-member": true, "pause-member": true}
)

// lapse names whose lease lapse can explain a stale write: a client and its
// lease, or anyone (zero values) when the write's maker is not known.
type lapse struct {
	client int
	lease  int64
}

// writerOf returns the maker of the operation a failed check refused first
// (its first evidence), if it is a write whose lease is known.
func writerOf(u CheckResult) lapse {
	if u.sub == nil || len(u.Evidence) == 0 {
		return lapse{}
	}
	for _, m := range u.sub.mops {
		if m.op != nil && m.op.ID == u.Evidence[0] && m.kind == opWrite && u.sub.leaseOf[m.holder] != 0 {
			return lapse{client: m.op.Client, lease: u.sub.leaseOf[m.holder]}
		}
	}
	return lapse{}
}

// concerns reports whether a lease-lost or fault event is about who: about
// its lease when the event names one, else about its client.
func (who lapse) concerns(client int, lease int64) bool {
	switch {
	case who.lease == 0:
		return true
	case lease != 0:
		return lease == who.lease
	}
	return client != 0 && client == who.client
}

// explanation finds an event at or before at that can make who keep writing
// after its lease lapsed: a loss of its lease, a lease fault or pause aimed
// at it, or a cluster fault that cut keep-alives.
func explanation(h *history.History, at int64, who lapse) (string, bool) {
	for _, e := range h.Events {
		switch {
		case e.Type == history.TypeInvoke && e.F == history.FLeaseLost:
			lease, la := int64(0), e.Time
			if e.Value != nil {
				lease = e.Value.Lease
				if e.Value.LastAlive != nil {
					la = *e.Value.LastAlive
				}
			}
			if who.concerns(0, lease) && (at == 0 || la <= at) {
				return fmt.Sprintf("client %d's lease lost after %s (op %d)", e.Client, secs(la), e.Op), true
			}
		case e.Type == history.TypeFault && e.Phase == history.PhaseStart && (at == 0 || e.Time <= at) &&
			(clusterLapseFaults[e.Fault] || clientLapseFaults[e.Fault] && who.concerns(e.Target, e.Lease)):
			return fmt.Sprintf("a %s fault at %s", e.Fault, secs(e.Time)), true
		}
	}
	return "", false
}

// combine is the verdict on a whole history: a failing violation beats a
// failing unsafe-without-fencing (Strict), which beats unknown, which beats
// a non-failing unsafe-without-fencing, which beats ok, which beats empty.
func combine(checks []CheckResult) Verdict {
	rank := func(c CheckResult) int {
		switch {
		case c.Verdict == Violation:
			return 5
		case c.Verdict == UnsafeWithoutFencing && c.Fails:
			return 4
		case c.Verdict == Unknown:
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
	return [...]Verdict{Empty, Ok, UnsafeWithoutFencing, Unknown, UnsafeWithoutFencing, Violation}[best]
}
