package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

func init() {
	register("merge", command{summary: "merge the directories of a sharded batch (--shard I/N) into one aggregate report", run: runMerge})
}

// defaultMergeOut is where a merge goes without --out.
const defaultMergeOut = "runs/merged"

// runMerge implements `etcdchaos merge [--out DIR] DIR...`: the exit code is
// the merged batch's (1 violation, else 3 unknown or shards missing, else
// 0), or 2 when the directories are not shards of one plan.
func runMerge(args []string, stdout, stderr io.Writer) int {
	out, dirs, err := parseMergeFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos merge: %v\n", err)
		return exitUsage
	}
	agg, err := reports.MergeDirs(out, dirs)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos merge: %v\n", err)
		if errors.As(err, new(reports.BadInputError)) {
			return models.ExitBadInput
		}
		return models.ExitUnknown
	}
	for _, m := range agg.MissingShards {
		fmt.Fprintf(stderr, "warning: shard %s is missing: its runs were not judged, so the merge is unknown at best\n", m)
	}
	printBatch(stdout, agg, agg.Name+" (merged)", out)
	return agg.ExitCode()
}

// parseMergeFlags accepts flags before and after the directories.
func parseMergeFlags(args []string, stderr io.Writer) (out string, dirs []string, err error) {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&out, "out", defaultMergeOut, "directory of the merged report, which must not exist or be empty; each shard's run directories are copied into it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etcdchaos merge [--out DIR] SHARD-DIR...\n\n"+
			"Combines the aggregate directories of a batch run in shards (nightly, zoo, soak\n"+
			"or run --until-fail with --shard I/N, all with the same plan) into the report the\n"+
			"unsharded batch would have written. A missing shard is a warning and makes the\n"+
			"exit code 3 at best.")
		fs.PrintDefaults()
	}
	for {
		if err := fs.Parse(args); err != nil {
			return "", nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) == 0 {
		fs.Usage()
		return "", nil, errors.New("expected one or more shard directories")
	}
	return out, dirs, nil
}
