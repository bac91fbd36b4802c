package batch

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/reports"
)

// progress tells how the whole batch goes: a line per finished run, and a
// summary every so often while runs go on, so that a long batch is never
// silent for long. It is quiet otherwise (runs print nothing of their own).
// Its methods are called with the executor's lock held.
type progress struct {
	w       io.Writer
	total   int
	workers int
	// deadline, when set, bounds the estimate of the time left.
	deadline time.Time

	estimate []time.Duration
	started  []time.Time // zero: not started
	finished []bool
	done     int
	failing  int
	known    int // known etcd issue findings
}

func newProgress(w io.Writer, plan Plan, workers int, deadline time.Time) *progress {
	p := &progress{w: w, total: len(plan.Runs), workers: workers, deadline: deadline,
		estimate: make([]time.Duration, len(plan.Runs)), started: make([]time.Time, len(plan.Runs)),
		finished: make([]bool, len(plan.Runs))}
	for i, r := range plan.Runs {
		p.estimate[i] = r.Estimate()
	}
	return p
}

func (p *progress) start(i int, estimate time.Duration) {
	p.started[i], p.estimate[i] = time.Now(), estimate
}

// finish counts run i and prints its line.
func (p *progress) finish(i int, ar reports.AggregateRun) {
	p.finished[i] = true
	p.done++
	if RunExit(ar) != 0 {
		p.failing++
	}
	if ar.Summary != nil {
		p.known += len(ar.Summary.KnownIssues)
	}
	p.printf("[%d/%d] %s: %s%s; %s", p.done, p.total, ar.ID, ar.Verdict(), note(ar), p.tally())
}

// summary is the periodic line: where the batch stands.
func (p *progress) summary() {
	running := 0
	for i := range p.started {
		if !p.started[i].IsZero() && !p.finished[i] {
			running++
		}
	}
	p.printf("batch: %d/%d runs done, %d running; %s", p.done, p.total, running, p.tally())
}

func (p *progress) tally() string {
	s := fmt.Sprintf("%d failing, %d known-issue findings", p.failing, p.known)
	if p.done < p.total {
		s += fmt.Sprintf(", about %v left", p.left().Round(time.Second))
	}
	return s
}

// left estimates the time until the batch ends: the estimated time of the
// runs not done (what remains of it for running ones) spread over the
// workers, and never past the budget.
func (p *progress) left() time.Duration {
	var work time.Duration
	pending := 0
	for i := range p.estimate {
		switch {
		case p.finished[i]:
		case p.started[i].IsZero():
			work += p.estimate[i]
			pending++
		default:
			work += max(0, p.estimate[i]-time.Since(p.started[i]))
			pending++
		}
	}
	if pending == 0 {
		return 0
	}
	left := work / time.Duration(min(p.workers, pending))
	if !p.deadline.IsZero() {
		left = max(0, min(left, time.Until(p.deadline)))
	}
	return left
}

func (p *progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// every calls f every d until the returned stop is called.
func every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// note says briefly why a run has the verdict it has.
func note(ar reports.AggregateRun) string {
	switch {
	case ar.Skipped != "":
		return " (" + ar.Skipped + ")"
	case ar.Error != "":
		return " (" + ar.Error + ")"
	case ar.Summary != nil:
		return " (" + time.Duration(ar.Summary.DurationNs).Round(100*time.Millisecond).String() + ")"
	}
	return ""
}
