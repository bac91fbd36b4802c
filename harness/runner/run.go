package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
	"github.com/etcdchaos/etcdchaos/reports"
	"github.com/etcdchaos/etcdchaos/workloads"
	"github.com/etcdchaos/etcdchaos/workloads/observer"
)

// HistoryFile is the name of the history in a run directory.
const HistoryFile = "history.jsonl"

// run holds one run's resources; each has exactly one owner here.
type run struct {
	sc      faults.Scenario
	opts    Options
	cluster *harness.Cluster
	rec     *history.Recorder
	admin   *clientv3.Client
	loads   []*workloads.Workload
	watch   *observer.Observer
	nemesis *faults.Nemesis
	started time.Time
}

// Run runs scenario sc with opts and writes the run directory. ctx ending
// early (Ctrl-C) interrupts the run: faults are healed, what was recorded is
// checked and the run directory is still written. An error means the run
// could not be carried out (bad options, a cluster that did not start); a
// violation is not an error, it is in the Result.
func Run(ctx context.Context, sc faults.Scenario, opts Options) (Result, error) {
	if opts.Clients == 0 {
		opts.Clients = sc.Clients
	}
	if opts.Names == 0 && opts.Mutant == "" { // a mutant's own names win
		opts.Names = sc.Names
	}
	opts, err := opts.withDefaults()
	if err == nil {
		err = opts.checkMutant(sc)
	}
	if err != nil {
		return Result{}, err
	}
	if opts, err = opts.clusterOptions(sc); err != nil {
		return Result{}, err
	}
	r := &run{sc: sc, opts: opts}
	res := Result{Dir: opts.Out, Scenario: sc, Seed: opts.Seed,
		Schedule: faults.NewSchedule(sc, opts.Seed, opts.Duration)}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return res, fmt.Errorf("create run directory: %w", err)
	}
	defer r.close()
	if err := r.setUp(ctx, res.Schedule); err != nil {
		return res, err
	}
	runErr := r.drive(ctx)
	res.Applied = r.nemesis.Applied()
	res.Intents = r.intents()
	if ctx.Err() == nil {
		runErr = errors.Join(runErr, r.probeLiveness(ctx))
	}
	// Interrupted while driving or while probing: either way the probe is
	// not a failure (it is not recorded, or recorded as of unknown outcome).
	res.Interrupted = ctx.Err() != nil
	r.close()
	if err := r.finish(ctx, &res); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

// setUp starts the cluster, the recorder, the workloads and the nemesis.
func (r *run) setUp(ctx context.Context, sch faults.Schedule) error {
	var err error
	r.logf("starting a %d-member cluster", r.opts.Members)
	r.cluster, err = harness.Start(ctx, r.clusterConfig())
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	r.admin, err = clientv3.New(clientv3.Config{Endpoints: r.cluster.Endpoints(), DialTimeout: 5 * time.Second,
		Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	serverVersion, err := r.serverVersion(ctx)
	if err != nil {
		return err
	}
	r.rec, err = history.Create(filepath.Join(r.opts.Out, HistoryFile), r.header(serverVersion))
	if err != nil {
		return err
	}
	env := &faults.Env{Cluster: r.cluster, Admin: r.admin, LeaseTTL: r.sc.LeaseTTL}
	if err := r.startWorkloads(env); err != nil {
		return err
	}
	if err := r.startObserver(ctx); err != nil {
		return err
	}
	r.nemesis = faults.NewNemesis(env, r.rec, sch, r.logf)
	return nil
}

func (r *run) header(etcdVersion string) history.Header {
	return history.Header{
		Scenario: r.sc.Name, Seed: r.opts.Seed, LeaseTTLMs: r.sc.LeaseTTL.Milliseconds(),
		Members: r.opts.Members, EtcdVersion: etcdVersion, Workload: workloadName(r.sc),
		Backend: string(r.opts.Backend), Mutant: r.opts.Mutant, Fixes: r.opts.Fixes, Clients: r.opts.Clients, Command: r.opts.Command,
		ClientVersion: workloads.ClientVersion(), ServerTruth: true,
		ElectionTimeoutMs: r.cluster.ElectionTimeout().Milliseconds(),
		EveryEndpoint:     r.sc.EveryEndpoint,
	}
}

// serverVersion is the etcd version the cluster reports, which is what ran:
// a process or external cluster may run any release.
func (r *run) serverVersion(ctx context.Context) (string, error) {
	var errs []error
	for _, ep := range r.cluster.Endpoints() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := r.admin.Status(sctx, ep)
		cancel()
		if err == nil {
			return st.Version, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("read the etcd version: %w", errors.Join(errs...))
}

// startObserver starts recording server truth on every key the workloads
// use, before any of them runs.
func (r *run) startObserver(ctx context.Context) error {
	var targets []observer.Target
	for _, w := range r.loads {
		targets = append(targets, w.Watched()...)
	}
	var err error
	r.watch, err = observer.Start(ctx, observer.Config{Endpoints: r.cluster.Endpoints(), Root: r.loads[0].KeyRoot(),
		Targets: targets, Rec: r.rec, Logger: quietLogger(), Logf: r.debugf})
	if err != nil {
		return fmt.Errorf("start observer: %w", err)
	}
	return nil
}

// stopObserver lets the observer catch up with the final revision, so that
// the history ends complete (or with a gap that says what may be missing).
func (r *run) stopObserver() {
	if r.watch == nil {
		return
	}
	if rev, err := r.watch.CatchUp(context.Background(), observerCatchUp); err != nil {
		r.logf("server truth: %v", err)
	} else {
		r.debugf("server truth complete up to revision %d", rev)
	}
	if err := r.watch.Close(); err != nil {
		r.logf("server truth: %v", err)
	}
	r.watch = nil
}

// observerCatchUp bounds the wait for the observer at the end of a run.
const observerCatchUp = 10 * time.Second

func workloadName(sc faults.Scenario) string {
	if len(sc.Workloads) == 1 {
		return sc.Workloads[0]
	}
	return "mixed"
}

// drive runs the workloads and the nemesis for the run's duration (or until
// ctx ends), heals, and only then stops the workloads, so that every client
// can settle its lease (and record a lease lost to a fault) on a healed
// cluster.
func (r *run) drive(ctx context.Context) error {
	runCtx, cancel := context.WithTimeout(ctx, r.opts.Duration)
	defer cancel()
	loadCtx, stopLoads := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoads()
	r.started = time.Now()
	stopProgress := r.startProgress()
	defer stopProgress()
	var loads errgroup.Group
	for _, w := range r.loads {
		loads.Go(func() error {
			err := w.Run(loadCtx)
			if err != nil {
				cancel() // a recorder failure ends the run early
			}
			return err
		})
	}
	err := r.nemesis.Run(runCtx)
	<-runCtx.Done()
	err = errors.Join(err, r.healEverything())
	stopLoads()
	return errors.Join(err, loads.Wait())
}

// healEverything is the unconditional safety net after the nemesis: no
// partition, latency or paused client survives, and every member runs.
func (r *run) healEverything() error {
	err := errors.Join(r.nemesis.HealAll(), r.cluster.Heal())
	for i := 1; i <= r.cluster.Size(); i++ {
		if !r.cluster.IsRunning(i) {
			err = errors.Join(err, r.cluster.Restart(i))
		}
	}
	if err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	return nil
}

// close releases the cluster and its clients; it is idempotent.
func (r *run) close() {
	for _, w := range r.loads {
		w.Close()
	}
	r.loads = nil
	r.stopObserver()
	if r.admin != nil {
		r.admin.Close()
		r.admin = nil
	}
	if r.rec != nil {
		if err := r.rec.Close(); err != nil {
			r.logf("close history: %v", err)
		}
	}
	if r.cluster != nil {
		if err := r.cluster.Close(); err != nil {
			r.logf("close cluster: %v", err)
		}
		r.cluster = nil
	}
}

// finish checks the recorded history and writes the report.
func (r *run) finish(ctx context.Context, res *Result) error {
	// Checking runs even when the run was interrupted: what was recorded is
	// worth a verdict. A second interrupt is the caller's to handle.
	checkCtx := context.WithoutCancel(ctx)
	h, err := history.ReadFile(filepath.Join(r.opts.Out, HistoryFile))
	if err != nil {
		return fmt.Errorf("read back history: %w", err)
	}
	r.logf("checking %d events", len(h.Events))
	check, err := verdict.Check(checkCtx, h, models.Options{Timeout: r.opts.CheckTimeout, Strict: r.opts.Strict, Visualize: true})
	if err != nil {
		return fmt.Errorf("check history: %w", err)
	}
	res.Check, res.Verdict, res.ExitCode = check, check.Verdict, check.ExitCode
	meta := reports.Meta{Command: r.opts.Command, Duration: time.Since(r.started)}
	if res.Interrupted {
		meta.Notes = append(meta.Notes, "the run was interrupted; liveness was not checked")
	}
	if err := reports.Write(r.opts.Out, h, check, meta); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (r *run) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", args...)
	}
}

// debugf logs only with Verbose: details a user rarely needs.
func (r *run) debugf(format string, args ...any) {
	if r.opts.Verbose {
		r.logf(format, args...)
	}
}
