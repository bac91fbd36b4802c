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
	"syscall"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
	"github.com/etcdchaos/etcdchaos/reports"
)

func init() {
	register("report", command{summary: "check a run directory's history again and rewrite its report", run: runReport})
}

type reportFlags struct {
	dir     string
	timeout time.Duration
	strict  bool
}

// parseReportFlags accepts flags before and after RUNDIR.
func parseReportFlags(args []string, stderr io.Writer) (*reportFlags, error) {
	f := &reportFlags{}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.timeout, "timeout", models.DefaultTimeout, "checker timeout per check")
	fs.BoolVar(&f.strict, "strict", false, "fail the run on unsafe-without-fencing findings")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etcdchaos report RUNDIR [--timeout 60s] [--strict]")
		fmt.Fprintln(stderr, "\nChecks RUNDIR/"+reports.HistoryFile+" and rewrites index.html, viz/, junit.xml and summary.json,")
		fmt.Fprintln(stderr, "keeping what only the run knew (command line, duration, liveness) from RUNDIR/summary.json.")
		fmt.Fprintln(stderr, "Exit codes: 0 ok, 1 violation, 2 bad input, 3 unknown.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, errors.New("missing RUNDIR")
	}
	f.dir = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

func runReport(args []string, stdout, stderr io.Writer) int {
	f, err := parseReportFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos report: %v\n", err)
		return exitUsage
	}
	h, err := history.ReadFile(filepath.Join(f.dir, reports.HistoryFile))
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos report: %v\n", err)
		return models.ExitBadInput
	}
	for _, w := range h.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	meta, err := reports.ReadMeta(f.dir)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v (the report keeps only what the history knows)\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := verdict.Check(ctx, h, models.Options{Timeout: f.timeout, Strict: f.strict, Visualize: true})
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos report: %v\n", err)
		return models.ExitUnknown
	}
	if err := reports.Write(f.dir, h, res, meta); err != nil {
		fmt.Fprintf(stderr, "etcdchaos report: %v\n", err)
		return models.ExitBadInput
	}
	s := reports.BuildSummary(h, res, meta)
	printReportSummary(stdout, s, f.dir)
	return s.ExitCode
}

// printReportSummary prints one line per check that is not plainly ok, then
// the verdict and where the report is.
func printReportSummary(w io.Writer, s reports.Summary, dir string) {
	for _, c := range s.Checks {
		if c.Verdict == models.Ok && !c.Fails {
			continue
		}
		line := fmt.Sprintf("%s %s: %s (%d ops)", c.Check, c.Name, c.Verdict, c.Ops)
		if c.Account != "" {
			line += ": " + c.Account
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "verdict: %s (%d checks); report: %s\n", s.Verdict, len(s.Checks), filepath.Join(dir, reports.IndexFile))
}
