package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

func init() {
	register("run", command{summary: "run a chaos scenario and check it", run: runRun})
	register("scenarios", command{summary: "list the scenarios", run: runScenarios})
}

type runFlags struct {
	scenario, backend, out string
	seed                   int64
	duration, timeout      time.Duration
	members, clients       int
	unfenced               float64
	strict, verbose        bool
	etcdLogs               bool
	cpuProfile             string
	cluster                clusterFlags
	mutant                 string
	fixes                  []int
	loop                   untilFail
}

func parseRunFlags(args []string, stderr io.Writer) (*runFlags, *flag.FlagSet, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.scenario, "scenario", faults.DefaultScenario, "scenario to run (see 'etcdchaos scenarios'); with --mutant, the mutant's own by default")
	fs.Int64Var(&f.seed, "seed", 0, "seed of the fault schedule and the clients' choices (random when not given)")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long the workloads and faults run")
	fs.IntVar(&f.members, "members", 3, "cluster size: 1, 3 or 5")
	fs.IntVar(&f.clients, "clients", 0, "clients per workload (default: the scenario's, 5 unless it says)")
	fs.StringVar(&f.backend, "backend", string(workloads.BackendConcurrency), "client implementation: grpc (v3lock/v3election services) or concurrency (clientv3/concurrency)")
	fs.StringVar(&f.out, "out", "", "run directory (default runs/<scenario>-<seed>)")
	fs.Float64Var(&f.unfenced, "unfenced", -1, "fraction of critical-section writes that are unfenced (default: the scenario's)")
	fs.BoolVar(&f.strict, "strict", false, "fail the run on unsafe-without-fencing findings")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "checker timeout per check")
	fs.BoolVar(&f.verbose, "v", false, "verbose: print each fault and lifecycle step")
	fs.BoolVar(&f.etcdLogs, "etcd-logs", false, "print etcd's own logs at info level (very verbose)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of etcdchaos (not of etcd processes) to this file")
	f.cluster.register(fs)
	fs.StringVar(&f.mutant, "mutant", "", "run a deliberately broken client instead of a correct one, in its own scenario unless --scenario is given (see 'etcdchaos mutants')")
	fs.Func("fix", "apply the client-side fix of these etcd issues ("+fixList()+"): the same seed then shows whether a finding is etcd's", func(v string) error {
		for _, part := range strings.Split(v, ",") {
			issue, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return fmt.Errorf("%q is not an etcd issue number", part)
			}
			if _, err := workloads.LookupFix(issue); err != nil {
				return err
			}
			f.fixes = append(f.fixes, issue)
		}
		return nil
	})
	f.loop.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := f.cluster.validate(); err != nil {
		return nil, fs, err
	}
	seedGiven, scenarioGiven := false, false
	fs.Visit(func(fl *flag.Flag) {
		seedGiven = seedGiven || fl.Name == "seed"
		scenarioGiven = scenarioGiven || fl.Name == "scenario"
	})
	if !seedGiven {
		f.seed = rand.Int64N(1 << 31)
	}
	if err := f.loop.validate(fs, seedGiven); err != nil {
		return nil, fs, err
	}
	if f.mutant != "" {
		m, err := workloads.LookupMutant(f.mutant)
		if err != nil {
			return nil, fs, fmt.Errorf("--mutant: %w", err)
		}
		// A mutant shows its bug in its own scenario; an explicit --scenario
		// still wins.
		if !scenarioGiven {
			f.scenario = m.Scenario
		}
	}
	if f.out == "" && f.loop.on {
		f.out = filepath.Join("runs", f.scenario+"-until-fail")
	} else if f.out == "" {
		f.out = filepath.Join("runs", fmt.Sprintf("%s-%d", f.scenario, f.seed))
	}
	return f, fs, nil
}

// runOptions are the runner's options the flags give, without where the
// run prints (progress, logs) and without its command.
func (f *runFlags) runOptions() runner.Options {
	o := runner.Options{Seed: f.seed, Duration: f.duration, Members: f.members, Clients: f.clients,
		Backend: workloads.Backend(f.backend), Out: f.out, Strict: f.strict, CheckTimeout: f.timeout,
		Verbose: f.etcdLogs, Mutant: f.mutant, Fixes: f.fixes}
	f.cluster.apply(&o)
	if f.unfenced >= 0 {
		o.Unfenced = &f.unfenced
	}
	return o
}

// reproCommand is the command line that runs the same scenario and seed.
func (f *runFlags) reproCommand() string {
	return batch.Run{Scenario: f.scenario, Options: f.runOptions()}.Command()
}

func (f *runFlags) options(stderr io.Writer) runner.Options {
	o := f.runOptions()
	o.Progress, o.Command = stderr, f.reproCommand()
	if f.verbose {
		o.Log = stderr
	}
	return o
}

func runRun(args []string, stdout, stderr io.Writer) int {
	f, _, err := parseRunFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "etcdchaos run: %v\n", err)
		return exitUsage
	}
	sc, err := faults.Lookup(f.scenario)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos run: --scenario: %v\n", err)
		return exitUsage
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos run: %v\n", err)
		return exitUsage
	}
	defer func() {
		if err := stopProfile(); err != nil {
			fmt.Fprintf(stderr, "etcdchaos run: %v\n", err)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.loop.on {
		return runUntilFail(ctx, sc, f, stdout, stderr)
	}
	return runOnce(ctx, sc, f, stdout, stderr)
}

// runOnce runs the scenario once and returns the exit code.
func runOnce(ctx context.Context, sc faults.Scenario, f *runFlags, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "scenario %s, seed %d, %v on %d members; reproduce with:\n  %s\n",
		sc.Name, f.seed, f.duration, f.members, f.reproCommand())
	res, err := runner.Run(ctx, sc, f.options(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "etcdchaos run: %v\n", err)
		if runner.IsBadOptions(err) {
			return exitUsage
		}
		if res.ExitCode == 0 {
			return models.ExitUnknown
		}
	}
	printRunResult(stdout, res)
	return res.ExitCode
}

func printRunResult(w io.Writer, res runner.Result) {
	if res.Interrupted {
		fmt.Fprintln(w, "interrupted: faults healed, what was recorded is checked")
	}
	printChecks(w, res.Check)
	fmt.Fprintf(w, "verdict: %s (run directory %s)\n", res.Verdict, res.Dir)
}

func runScenarios(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "etcdchaos scenarios: unexpected argument %q\n", args[0])
		return exitUsage
	}
	for _, sc := range faults.Scenarios() {
		fmt.Fprintf(stdout, "%-20s %s\n", sc.Name, sc.Description)
	}
	return 0
}

// fixList lists the issues that have a client-side fix, comma-separated.
func fixList() string {
	var ids []string
	for _, f := range workloads.Fixes() {
		ids = append(ids, strconv.Itoa(f.Issue))
	}
	return strings.Join(ids, ",")
}
