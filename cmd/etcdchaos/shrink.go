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
)

func init() {
	register("shrink", command{summary: "reduce a violating history to a small one that fails the same check", run: runShrink})
}

// Exit codes of shrink.
const (
	shrinkOk          = 0 // the shrunk history was written
	shrinkNoViolation = 1 // nothing to shrink: the check does not fail
	shrinkBadInput    = 2 // bad command line, unreadable or malformed history, unwritable output
	shrinkUndecided   = 3 // the check could not decide on the input, or was interrupted
)

type shrinkFlags struct {
	path, out, check string
	timeout, maxTime time.Duration
	strict, renumber bool
}

// runShrink implements `etcdchaos shrink HISTORY --out MIN.jsonl
// [--check CHECK[:NAME]] [--timeout 60s] [--max-time 2m] [--strict]
// [--renumber]`.
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
	r, err := models.Shrink(ctx, h, models.ShrinkOptions{Check: check, Name: name, Timeout: sf.timeout,
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
	case errors.Is(err, models.ErrNoViolation):
		return shrinkNoViolation, true
	case errors.Is(err, models.ErrUnknownCheck):
		return shrinkBadInput, true
	}
	return shrinkUndecided, true
}

func parseShrinkFlags(args []string, stderr io.Writer) (shrinkFlags, error) {
	var sf shrinkFlags
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sf.out, "out", "", "write the shrunk history to this file (required)")
	fs.StringVar(&sf.check, "check", "", "the check to keep failing, CHECK or CHECK:NAME (lock, fenced-writes, unfenced-writes,\nelection, observe; NAME a lock or election name); default: the first failing check")
	fs.DurationVar(&sf.timeout, "timeout", models.DefaultTimeout, "bound on the check of the input; an undecided check cannot be shrunk (exit 3)")
	fs.DurationVar(&sf.maxTime, "max-time", models.DefaultShrinkTime, "bound on the whole shrink; when it runs out, the smallest failing history so far is written")
	fs.BoolVar(&sf.strict, "strict", false, "an unsafe-without-fencing finding counts as failing, so it can be shrunk")
	fs.BoolVar(&sf.renumber, "renumber", false, "number ops and clients of the result from 1 (default: keep the input's ids)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: etcdchaos shrink HISTORY --out MIN.jsonl [--check CHECK[:NAME]] [--timeout 60s] [--max-time 2m] [--strict] [--renumber]

Reduces a history that fails a check to a small, well-formed history that fails the same
check on the same name with the same verdict, by dropping names, clients, operations and
faults. Exit codes: 0 the shrunk history was written; 1 nothing to shrink (the check does
not fail); 2 bad command line, unreadable or malformed history, or the output could not be
written; 3 the check could not decide on the input, or was interrupted.

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

func printShrink(w io.Writer, r models.ShrinkResult, out string) {
	fmt.Fprintf(w, "shrunk %s %s (%s) from %d to %d operations in %.2f s (%d candidates checked)\n",
		r.Final.Check, r.Final.Name, r.Final.Verdict, r.OpsBefore, r.OpsAfter, r.Elapsed.Seconds(), r.Candidates)
	if r.Partial {
		fmt.Fprintln(w, "stopped early: the result is the smallest failing history found in time")
	}
	fmt.Fprintf(w, "%s %s: %s: %s\n", r.Final.Check, r.Final.Name, r.Final.Verdict, r.Final.Account)
	fmt.Fprintf(w, "wrote %s\n", out)
}
