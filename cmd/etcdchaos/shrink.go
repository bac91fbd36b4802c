package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/shrink"
)

func init() {
	register("shrink", command{summary: "reduce a history with a finding to a small one with the same finding", run: runShrink})
}

// Exit codes of shrink.
const (
	shrinkOk        = 0 // the shrunk history was written
	shrinkNoFinding = 1 // nothing to shrink: no such finding
	shrinkBadInput  = 2 // bad command line, unreadable or malformed history, unwritable output
	shrinkUndecided = 3 // the check could not decide on the input, or was interrupted
)

type shrinkFlags struct {
	path, out, check, issue string
	timeout, maxTime        time.Duration
	strict, renumber        bool
}

// runShrink implements `etcdchaos shrink HISTORY --out MIN.jsonl
// [--check CHECK[:NAME]] [--issue ID] [--timeout 60s] [--max-time 2m]
// [--strict] [--renumber]`.
func runShrink(args []string, stdout, stderr io.Writer) int {
	sf, err := parseShrinkFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return shrinkOk
		}
		fmt.Fprintf(stderr, "etcdchaos shrink: %v\n", err)
		return shrinkBadInput
	}
	h, err := history.ReadFile(sf.path)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos shrink: %v\n", err)
		return shrinkBadInput
	}
	for _, w := range h.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	check, name, _ := strings.Cut(sf.check, ":")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := shrink.Shrink(ctx, h, shrink.Options{Issue: sf.issue, Check: check, Name: name, Timeout: sf.timeout,
		MaxTime: sf.maxTime, Strict: sf.strict, Renumber: sf.renumber})
	if code, failed := shrinkError(err, stderr); failed {
		return code
	}
	if err := writeHistory(sf.out, r.History); err != nil {
		fmt.Fprintf(stderr, "etcdchaos shrink: %v\n", err)
		return shrinkBadInput
	}
	printShrink(stdout, r, sf.out)
	return shrinkOk
}

// shrinkError reports a failed shrink and its exit code.
func shrinkError(err error, stderr io.Writer) (int, bool) {
	if err == nil {
		return shrinkOk, false
	}
	fmt.Fprintf(stderr, "etcdchaos shrink: %v\n", err)
	switch {
	case errors.Is(err, shrink.ErrNoFinding):
		return shrinkNoFinding, true
	case errors.Is(err, shrink.ErrUnknownCheck):
		return shrinkBadInput, true
	}
	return shrinkUndecided, true
}

func parseShrinkFlags(args []string, stderr io.Writer) (shrinkFlags, error) {
	var sf shrinkFlags
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sf.out, "out", "", "write the shrunk history to this file (required)")
	fs.StringVar(&sf.check, "check", "", "the check whose finding to keep, CHECK or CHECK:NAME (lock, fenced-writes, unfenced-writes,\nelection, observe, truth, lease, liveness; NAME a lock or election name); default: the first failing check")
	fs.StringVar(&sf.issue, "issue", "", "keep a finding of this known etcd issue (e.g. 19597, etcdchaos-1), on the --check if given")
	fs.DurationVar(&sf.timeout, "timeout", models.DefaultTimeout, "bound on the check of the input; an undecided check cannot be shrunk (exit 3)")
	fs.DurationVar(&sf.maxTime, "max-time", shrink.DefaultMaxTime, "bound on the whole shrink; when it runs out, the smallest failing history so far is written")
	fs.BoolVar(&sf.strict, "strict", false, "unsafe-without-fencing and known issues count as failing, as in check --strict")
	fs.BoolVar(&sf.renumber, "renumber", false, "number ops and clients of the result from 1 (default: keep the input's ids)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: etcdchaos shrink HISTORY --out MIN.jsonl [--check CHECK[:NAME]] [--issue ID] [--timeout 60s] [--max-time 2m] [--strict] [--renumber]

Reduces a history with a finding to a small, well-formed history with the same finding
(the same check on the same name with the same verdict, or, with --issue, a finding of the
same known etcd issue), by dropping names, clients, operations and faults. Without --check
or --issue it keeps the first failing check (a violation first), else the first known issue.
Exit codes: 0 the shrunk history was written; 1 nothing to shrink (no such finding); 2 bad
command line, unreadable or malformed history, or the output could not be written; 3 the
check could not decide on the input, or was interrupted.

`)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return sf, err
	}
	switch {
	case len(paths) != 1:
		fs.Usage()
		return sf, fmt.Errorf("expected one history file, got %d", len(paths))
	case sf.out == "":
		return sf, errors.New("--out is required")
	case sf.timeout <= 0 || sf.maxTime <= 0:
		return sf, fmt.Errorf("--timeout and --max-time must be positive, got %v and %v", sf.timeout, sf.maxTime)
	}
	sf.path = paths[0]
	return sf, nil
}

// parseInterspersed parses flags before and after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// writeHistory writes h to path.
func writeHistory(path string, h *history.History) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := history.Write(f, h); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func printShrink(w io.Writer, r shrink.Result, out string) {
	fmt.Fprintf(w, "shrunk %s from %d to %d operations in %.2f s (%d candidates checked)\n",
		r.Target, r.OpsBefore, r.OpsAfter, r.Elapsed.Seconds(), r.Candidates)
	if r.Partial {
		fmt.Fprintln(w, "stopped early: the result is the smallest failing history found in time")
	}
	fmt.Fprintf(w, "%s %s: %s: %s\n", r.Final.Check, r.Final.Name, r.Final.Verdict, r.Final.Account)
	fmt.Fprintf(w, "wrote %s\n", out)
}
