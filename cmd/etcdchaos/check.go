package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/linear"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

func init() {
	register("check", command{summary: "check a recorded history against the lock and election models", run: runCheck})
}

// checkFlags are the check command's options.
type checkFlags struct {
	path    string
	timeout time.Duration
	out     string
	strict  bool
}

// runCheck implements `etcdchaos check HISTORY [--timeout 60s] [--out DIR]
// [--strict]`: exit 0 ok, 1 violation, 2 bad input, 3 unknown.
func runCheck(args []string, stdout, stderr io.Writer) int {
	cf, err := parseCheckFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos check: %v\n", err)
		return exitUsage
	}
	h, err := history.ReadFile(cf.path)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos check: %v\n", err)
		return models.ExitBadInput
	}
	for _, w := range h.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := verdict.Check(ctx, h, models.Options{Timeout: cf.timeout, Strict: cf.strict, Visualize: cf.out != ""})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos check: %v\n", err)
		return models.ExitUnknown
	}
	printResult(stdout, res)
	if cf.out != "" {
		if err := writeVisualizations(cf.out, res, h.Faults()); err != nil {
			fmt.Fprintf(stderr, "etcdchaos check: %v\n", err)
		}
	}
	return res.ExitCode
}

// parseCheckFlags accepts flags before and after the history path.
func parseCheckFlags(args []string, stderr io.Writer) (checkFlags, error) {
	var cf checkFlags
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cf.timeout, "timeout", models.DefaultTimeout, "bound on each model check; an undecided check is unknown (exit 3)")
	fs.StringVar(&cf.out, "out", "", "write porcupine visualizations, DIR/<check>-<name>.html")
	fs.BoolVar(&cf.strict, "strict", false, "make unsafe-without-fencing and known etcd issues fail (exit 1)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etcdchaos check HISTORY [--timeout 60s] [--out DIR] [--strict]")
		fs.PrintDefaults()
	}
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return cf, err
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(paths) != 1 {
		fs.Usage()
		return cf, fmt.Errorf("expected one history file, got %d", len(paths))
	}
	if cf.timeout <= 0 {
		return cf, fmt.Errorf("--timeout must be positive, got %v", cf.timeout)
	}
	cf.path = paths[0]
	return cf, nil
}

// printResult prints one line per check and name, the findings grouped,
// the lock hazard in numbers, then the verdict.
func printResult(w io.Writer, res models.Result) {
	printChecks(w, res)
	fmt.Fprintf(w, "verdict: %s\n", res.Verdict)
}

// printChecks prints one line per check and name (the account of anything
// not plainly ok), one line per group of findings (see printFindings), then
// the lock hazard in numbers.
func printChecks(w io.Writer, res models.Result) {
	for _, c := range res.Checks {
		printCheckLine(w, c)
	}
	printFindings(w, models.GroupFindings(res.Findings()))
	printHazard(w, res.Hazard)
	printGhosts(w, res.Ghosts)
	printHungPort(w, res.HungPort)
}

// printFindings prints one line per issue (or kind) and name, with a count
// and the first, so that a run with many repeats of one bug stays short and
// names what it is: a violation, an upstream-known etcd issue, or an etcd
// bug etcdchaos found that is not reported upstream.
func printFindings(w io.Writer, groups []models.FindingGroup) {
	for _, g := range groups {
		fmt.Fprintln(w, g.Summary())
	}
}

// printHazard prints the lock hazard in numbers: the same figures the
// unfenced-writes findings rest on.
func printHazard(w io.Writer, hz models.Hazard) {
	if hz.UnfencedWrites > 0 {
		if hz.Truth {
			fmt.Fprintf(w, "unfenced writes: %d, of which %d landed after their writer's key was lost (server truth)", hz.UnfencedWrites, hz.Stale)
			if hz.Stale > 0 {
				fmt.Fprintf(w, ", up to %d revisions and %.2f s after the loss", hz.MaxRevisionsAfterLoss, float64(hz.MaxNsAfterLoss)/1e9)
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintf(w, "unfenced writes: %d, of which %d were withdrawn as possibly stale (a fault or a loss of the writer's lease before them) where a check needed them to be\n",
				hz.UnfencedWrites, hz.Stale)
		}
	}
	if hz.FencedWrites > 0 {
		fmt.Fprintf(w, "fenced writes rejected by their guard: %d of %d\n", hz.FencedRejected, hz.FencedWrites)
	}
}

// printGhosts prints the ghost leaders in numbers: how many, and the
// longest, with what its campaign returned.
func printGhosts(w io.Writer, ghosts []models.GhostLeader) {
	if len(ghosts) == 0 {
		return
	}
	longest, compacted := ghosts[0], 0
	for _, g := range ghosts {
		if g.Span() > longest.Span() {
			longest = g
		}
		if g.Compacted {
			compacted++
		}
	}
	why := "no answer"
	if longest.Error != "" {
		why = fmt.Sprintf("error %q", longest.Error)
	}
	fmt.Fprintf(w, "ghost leaders (an election led by a key whose campaign gave up): %d, the longest %.2f s: client %d's campaign of %s (op %d, %s); its key %s led from revision %d until it was %s\n",
		len(ghosts), longest.Span().Seconds(), longest.Client, longest.Name, longest.Op, why, longest.Key, longest.OwnerRev, longest.Ended)
	if compacted > 0 {
		fmt.Fprintf(w, "ghost leaders after a campaign returned a compaction error (etcd issue 21128's path): %d\n", compacted)
	}
}

// printHungPort prints the leases lost during hung client ports: how
// many, in how many of the hangs, and how many hangs were the leader's.
func printHungPort(w io.Writer, hp *models.HungPortLeases) {
	if hp == nil {
		return
	}
	leaders := 0
	for _, l := range hp.Lost {
		if l.Leader {
			leaders++
		}
	}
	fmt.Fprintf(w, "leases lost during a hung port (clients of every member, quorum healthy): %d, in %d of %d hung-port faults",
		len(hp.Lost), hp.WithLoss, hp.Faults)
	if leaders > 0 {
		fmt.Fprintf(w, " (%d while the leader's port hung)", leaders)
	}
	fmt.Fprintln(w)
}

// printCheckLine prints one check: its verdict and operations, and the
// account of anything not plainly ok.
func printCheckLine(w io.Writer, c models.CheckResult) {
	if c.Verdict == models.Ok || c.Verdict == models.Empty {
		fmt.Fprintf(w, "%s %s: %s (%d ops)\n", c.Check, c.Name, c.Verdict, c.Ops)
		return
	}
	fmt.Fprintf(w, "%s %s: %s: %s\n", c.Check, c.Name, c.Verdict, c.Account)
}

// writeVisualizations writes DIR/<check>-<name>.html for every check that
// ran porcupine.
func writeVisualizations(dir string, res models.Result, faults []history.Fault) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("visualizations: %w", err)
	}
	var errs []error
	for _, c := range res.Checks {
		if c.Porcupine == nil || c.Porcupine.Model.Step == nil || c.Verdict == models.Empty {
			continue
		}
		path := filepath.Join(dir, fileName(c.Check+"-"+c.Name)+".html")
		if err := writeVisualization(path, c, faults); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeVisualization(path string, c models.CheckResult, faults []history.Fault) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("visualization: %w", err)
	}
	if err := linear.WriteVisualization(f, c, faults); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("visualization %s: %w", path, err)
	}
	return nil
}

// fileName makes a lock or election name safe as a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
