package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

// Options tune Execute.
type Options struct {
	// Out is the aggregate directory; each run writes Out/<run id>.
	Out string
	// Name names the batch in the reports (default "batch").
	Name string
	// Budget, if set, bounds the batch's wall-clock time: a run is
	// shortened to what is left, or skipped when less than a short run is
	// left, and a run still going at the end is interrupted (what it
	// recorded is still checked). It holds whatever Parallel is.
	Budget time.Duration
	// Parallel is how many runs go at once (0: DefaultParallel of the
	// plan's modes). Runs start in plan order as workers free up.
	Parallel int
	// StopAtFirstFailure stops starting runs once one fails (exit code
	// not 0); runs already going finish (run --until-fail).
	StopAtFirstFailure bool
	// CheckTimeout bounds each checker of a run that sets none (default
	// 20 s).
	CheckTimeout time.Duration
	// Progress receives the batch's progress (nil: none); a summary line
	// comes every ProgressEvery (default a minute) while runs go on.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Done, if set, is called as each run ends (or is skipped), one call
	// at a time, in the order they end.
	Done func(Outcome)
}

// Outcome is one run's end, for Options.Done.
type Outcome struct {
	// Index is the run's place in the plan.
	Index int
	Run   Run
	// Started is false for a run that never started (skipped,
	// interrupted before it).
	Started bool
	// Entry is the run's aggregate entry; Result is the runner's result
	// (zero for a run that did not start).
	Entry  reports.AggregateRun
	Result runner.Result
}

// Result is what a batch did.
type Result struct {
	// Aggregate is what Execute wrote into the out directory.
	Aggregate reports.Aggregate
	// ExitCode is the batch's: see ExitCode.
	ExitCode int
	// FirstFailure is the plan index of the first run, in plan order, that
	// failed (RunExit not 0); -1 if none did.
	FirstFailure int
	// Interrupted is true when ctx ended before every run was done.
	Interrupted bool
}

// minRun is the shortest run worth starting when the budget runs low.
const minRun = 5 * time.Second

// Why a run is not (fully) carried out.
const (
	notFinished       = "not finished: the batch is still going, or it was killed"
	interruptedBefore = "interrupted before it started"
	interruptedDuring = "interrupted: the batch was stopped during the run (what it recorded is checked)"
)

// ExitCode of a batch, the README's table over all its runs: 2 when the
// runs' options were refused (bad input), else 1 if any run found a
// violation (a known etcd issue or the documented hazard only under
// --strict), else 3 if any run was unknown, could not be carried out, or
// was interrupted (it did not start, or stopped early, because the batch
// was interrupted), else 0. Runs skipped because the budget was spent, or
// because --until-fail already had its failure, count as nothing.
func ExitCode(a reports.Aggregate, badInput bool) int {
	if badInput {
		return models.WorstExit(a.ExitCode(), models.ExitBadInput)
	}
	return a.ExitCode()
}

// RunExit is one run's exit code within a batch, by the rule of ExitCode.
func RunExit(ar reports.AggregateRun) int {
	return reports.Aggregate{Runs: []reports.AggregateRun{ar}}.ExitCode()
}

// executor is one Execute call's shared state.
type executor struct {
	plan Plan
	opts Options
	// ctx is the caller's (an interrupt ends it); runCtx also ends at the
	// budget's deadline.
	ctx, runCtx context.Context
	deadline    time.Time

	mu       sync.Mutex
	agg      reports.Aggregate
	progress *progress
	stop     string // why no further run starts (a failure, bad input)
	badInput bool
}

// Execute carries out the plan's runs, opts.Parallel at a time, and writes
// the aggregate report into opts.Out (also after every run, so that a
// batch killed outright still leaves an aggregate saying what it did).
// ctx ending (Ctrl-C) interrupts the runs going on, which heal, check what
// they recorded and write their run directories, and starts no other;
// Execute then writes the aggregate and returns. An error means the
// aggregate could not be written; a failing run is in the Result.
func Execute(ctx context.Context, plan Plan, opts Options) (Result, error) {
	opts.Name = cmp.Or(opts.Name, "batch")
	opts.CheckTimeout = cmp.Or(opts.CheckTimeout, 20*time.Second)
	opts.ProgressEvery = cmp.Or(opts.ProgressEvery, time.Minute)
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel(plan.Modes())
	}
	e := &executor{plan: plan, opts: opts, ctx: ctx, runCtx: ctx}
	e.agg = reports.Aggregate{Name: opts.Name, Started: time.Now(), Budget: opts.Budget,
		PlanRuns: plan.total(), Runs: make([]reports.AggregateRun, len(plan.Runs))}
	if !plan.Slice.IsWhole() {
		e.agg.Shard = &reports.ShardInfo{Index: plan.Slice.Index, Count: plan.Slice.Count}
	}
	for i, r := range plan.Runs {
		e.agg.Runs[i] = r.aggregateRun(plan.position(i))
		e.agg.Runs[i].Error = notFinished
	}
	if opts.Budget > 0 {
		e.deadline = e.agg.Started.Add(opts.Budget)
		var cancel context.CancelFunc
		e.runCtx, cancel = context.WithDeadline(ctx, e.deadline)
		defer cancel()
	}
	e.progress = newProgress(opts.Progress, plan, opts.Parallel, e.deadline)
	stopSummaries := every(opts.ProgressEvery, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.progress.summary()
	})
	var g errgroup.Group
	g.SetLimit(opts.Parallel)
	for i := range plan.Runs {
		g.Go(func() error {
			e.carryOut(i)
			return nil
		})
	}
	_ = g.Wait() // carryOut returns no error: each run's is in its entry
	stopSummaries()

	e.agg.Elapsed = time.Since(e.agg.Started)
	res := Result{Aggregate: e.agg, ExitCode: ExitCode(e.agg, e.badInput), FirstFailure: -1, Interrupted: ctx.Err() != nil}
	for i, ar := range e.agg.Runs {
		if RunExit(ar) != 0 {
			res.FirstFailure = i
			break
		}
	}
	if err := reports.WriteAggregate(opts.Out, e.agg); err != nil {
		return res, err
	}
	return res, nil
}

// carryOut runs plan run i, or records why it does not start.
func (e *executor) carryOut(i int) {
	r := e.plan.Runs[i]
	e.mu.Lock()
	why, skip := e.whyNotStart()
	if why == "" {
		r.Options.Duration = e.shorten(r.duration())
		e.progress.start(i, r.Estimate())
	}
	e.mu.Unlock()
	ar := r.aggregateRun(e.plan.position(i)) // with the duration it runs for
	if why != "" {
		if skip {
			ar.Skipped = why
		} else {
			ar.Error = why
		}
		e.finish(Outcome{Index: i, Run: r, Entry: ar})
		return
	}
	res, err := e.run(r, &ar)
	e.finish(Outcome{Index: i, Run: r, Started: true, Entry: ar, Result: res})
	if err != nil && runner.IsBadOptions(err) {
		e.mu.Lock()
		e.badInput = true
		e.stop = "not started: the runs' options were refused (" + err.Error() + ")"
		e.mu.Unlock()
	}
}

// whyNotStart says why the next run must not start, and whether that is
// a skip (nothing lost) or an error (the batch did not do what it should
// have); empty if it may start. Called with e.mu held.
func (e *executor) whyNotStart() (why string, skip bool) {
	switch {
	case e.ctx.Err() != nil:
		return interruptedBefore, false
	case e.stop != "":
		return e.stop, true
	case !e.deadline.IsZero() && time.Until(e.deadline)-RunOverhead < minRun:
		return fmt.Sprintf("the budget is spent (%v left)", max(0, time.Until(e.deadline)).Round(time.Second)), true
	}
	return "", false
}

// shorten fits a run's duration to what is left of the budget.
func (e *executor) shorten(d time.Duration) time.Duration {
	if e.deadline.IsZero() {
		return d
	}
	return min(d, (time.Until(e.deadline) - RunOverhead).Truncate(time.Second))
}

// run carries out one run and fills in its summary or error.
func (e *executor) run(r Run, ar *reports.AggregateRun) (runner.Result, error) {
	sc, err := faults.Lookup(r.Scenario)
	if err != nil {
		ar.Error = err.Error()
		return runner.Result{}, err
	}
	o := r.Options
	o.Out = filepath.Join(e.opts.Out, r.ID)
	o.Command = r.Command()
	o.CheckTimeout = cmp.Or(o.CheckTimeout, e.opts.CheckTimeout)
	_ = os.Remove(filepath.Join(o.Out, reports.SummaryFile)) // never read a stale one
	res, err := runner.Run(e.runCtx, sc, o)
	if s, serr := reports.ReadSummary(o.Out); serr == nil {
		ar.Summary = s
	}
	switch {
	case err != nil:
		ar.Error = err.Error()
	case res.Interrupted && e.ctx.Err() != nil:
		// Stopped by an interrupt, not by the budget: the batch did not
		// do what it was asked to.
		ar.Error = interruptedDuring
	}
	return res, err
}

// finish records a run's entry, tells the progress and the caller, stops
// further runs after a failure if asked to, and writes the aggregate as it
// stands.
func (e *executor) finish(o Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar := o.Entry
	e.agg.Runs[o.Index] = ar
	e.progress.finish(o.Index, ar)
	if e.opts.StopAtFirstFailure && e.stop == "" && ar.Skipped == "" && RunExit(ar) != 0 {
		e.stop = fmt.Sprintf("not started: run %s failed", ar.ID)
	}
	if e.opts.Done != nil {
		e.opts.Done(o)
	}
	partial := e.agg
	partial.Elapsed = time.Since(partial.Started)
	if err := reports.WriteAggregate(e.opts.Out, partial); err != nil && !errors.Is(err, context.Canceled) {
		e.progress.printf("batch: %v", err)
	}
}
