package runner

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const progressEvery = time.Second

// startProgress prints a progress line (elapsed, ops by outcome, the active
// fault) until the returned stop function is called. On a terminal the line
// is rewritten in place; elsewhere a line is printed every few seconds.
func (r *run) startProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	tty := isTerminal(r.opts.Progress)
	every := progressEvery
	if !tty {
		every = 5 * progressEvery
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintln(r.opts.Progress)
				}
				return
			case <-t.C:
				r.printProgress(tty)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func (r *run) printProgress(tty bool) {
	c := r.rec.Counts()
	fault := r.nemesis.Active()
	if fault == "" {
		fault = "none"
	}
	line := fmt.Sprintf("%5.0fs/%.0fs  ops ok %d fail %d info %d  fault: %s",
		time.Since(r.started).Seconds(), r.opts.Duration.Seconds(), c.Ok, c.Fail, c.Info, fault)
	if tty {
		fmt.Fprintf(r.opts.Progress, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(r.opts.Progress, line)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
