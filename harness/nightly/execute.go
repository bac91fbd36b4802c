package nightly

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/reports"
)

// Options tune Execute.
type Options struct {
	// Budget bounds the whole batch: runs are shortened or skipped so that
	// it ends in time, and a run still going at the end is interrupted
	// (what it recorded is still checked).
	Budget time.Duration
	// Out is the aggregate directory; each run writes Out/<run id>.
	Out string
	// EtcdBin is the etcd binary of process-mode runs.
	EtcdBin string
	// CheckTimeout bounds each checker of each run (default 20 s).
	CheckTimeout time.Duration
	// Log receives one line per run (nil: none).
	Log io.Writer
	// Name names the batch in the reports (default "nightly").
	Name string
}

// minRun is the shortest run worth starting when the budget runs low.
const minRun = 5 * time.Second

// Execute runs the planned runs one after the other within the budget and
// writes the aggregate report into opts.Out. It returns the aggregate; its
// ExitCode is the batch's verdict. An error means the report could not be
// written.
func Execute(ctx context.Context, runs []Run, opts Options) (reports.Aggregate, error) {
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = 20 * time.Second
	}
	if opts.Name == "" {
		opts.Name = "nightly"
	}
	agg := reports.Aggregate{Name: opts.Name, Started: time.Now(), Budget: opts.Budget}
	deadline := agg.Started.Add(opts.Budget)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for i, r := range runs {
		ar := reports.AggregateRun{ID: r.ID, Scenario: r.Scenario, Backend: string(r.Backend), Mode: r.Mode,
			Members: r.Members, Seed: r.Seed, Planned: r.Duration, Etcd: r.Etcd}
		left := time.Until(deadline) - RunOverhead
		switch {
		case ctx.Err() != nil:
			ar.Skipped = "the batch was interrupted or its budget is spent"
		case left < minRun:
			ar.Skipped = fmt.Sprintf("the budget is spent (%v left)", time.Until(deadline).Round(time.Second))
		default:
			r.Duration = min(r.Duration, left.Truncate(time.Second))
			ar.Planned = r.Duration
			runOne(ctx, r, opts, &ar)
		}
		ar.Command = r.Command()
		agg.Runs = append(agg.Runs, ar)
		logf(opts.Log, "run %d/%d %s: %s%s", i+1, len(runs), r.ID, ar.Verdict(), note(ar))
	}
	agg.Elapsed = time.Since(agg.Started)
	if err := reports.WriteAggregate(opts.Out, agg); err != nil {
		return agg, err
	}
	return agg, nil
}

// runOne carries out one run and fills in its summary or error.
func runOne(ctx context.Context, r Run, opts Options, ar *reports.AggregateRun) {
	sc, err := faults.Lookup(r.Scenario)
	if err != nil {
		ar.Error = err.Error()
		return
	}
	dir := filepath.Join(opts.Out, r.ID)
	ro := runner.Options{Seed: r.Seed, Duration: r.Duration, Members: r.Members, Backend: r.Backend,
		Mode: r.Mode, Out: dir, CheckTimeout: opts.CheckTimeout, Command: r.Command()}
	if r.Mode == harness.ModeProcess {
		ro.EtcdBin = cmp.Or(r.EtcdBin, opts.EtcdBin)
	}
	_ = os.Remove(filepath.Join(dir, reports.SummaryFile)) // never read a stale one
	_, err = runner.Run(ctx, sc, ro)
	if s, serr := reports.ReadSummary(dir); serr == nil {
		ar.Summary = s
	}
	if err != nil {
		ar.Error = err.Error()
	}
}

func note(ar reports.AggregateRun) string {
	switch {
	case ar.Skipped != "":
		return " (" + ar.Skipped + ")"
	case ar.Error != "":
		return " (" + ar.Error + ")"
	case ar.Summary != nil:
		return " (" + ar.Summary.Duration + ")"
	}
	return ""
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
