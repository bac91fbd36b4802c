package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// clusterOptions validates the cluster options against the scenario. With
// Endpoints, Members becomes the number of endpoints, the scenario may only
// use client-side faults, and the workloads get a key prefix of their own
// so that runs sharing a cluster do not see each other's keys.
func (o Options) clusterOptions(sc faults.Scenario) (Options, error) {
	switch o.Mode {
	case "", harness.ModeEmbedded, harness.ModeProcess:
	default:
		return o, fmt.Errorf("%w: mode %q (expected %s or %s; use endpoints for an existing cluster)",
			errBadOptions, o.Mode, harness.ModeEmbedded, harness.ModeProcess)
	}
	if len(o.Endpoints) == 0 {
		return o, nil
	}
	if o.Mode == harness.ModeProcess {
		return o, fmt.Errorf("%w: endpoints name an existing cluster; they do not go with %s mode", errBadOptions, o.Mode)
	}
	if o.LeaseCheckpoint {
		return o, fmt.Errorf("%w: lease checkpoints are set on the members the harness starts, not on an existing cluster's", errBadOptions)
	}
	var cluster []string
	for _, inj := range sc.Injectors {
		if !faults.ClientSide(inj) {
			cluster = append(cluster, inj)
		}
	}
	if len(cluster) > 0 {
		return o, fmt.Errorf("%w: scenario %s injects cluster faults (%s), which need an embedded or process cluster; "+
			"against existing endpoints only client-side faults (isolate-client, pause-client, hold-answers, revoke-lease, expire-lease) "+
			"can run, e.g. scenario client-faults or smoke",
			errBadOptions, sc.Name, strings.Join(cluster, ", "))
	}
	o.Members = len(o.Endpoints)
	o.keyPrefix = fmt.Sprintf("%s/run-%d", workloads.DefaultPrefix, time.Now().UnixNano())
	return o, nil
}

// clusterConfig is the harness configuration of the run's cluster.
func (r *run) clusterConfig() harness.Config {
	if len(r.opts.Endpoints) > 0 {
		return harness.Config{Mode: harness.ModeExternal, Endpoints: append([]string(nil), r.opts.Endpoints...),
			Verbose: r.opts.Verbose}
	}
	// Members that run as processes get stallable disks when the scenario
	// stalls disks; embedded, its disk faults are skipped.
	return harness.Config{Members: r.opts.Members, Mode: r.opts.Mode, EtcdBin: r.opts.EtcdBin, Network: r.opts.Network,
		Verbose: r.opts.Verbose, LeaseCheckpoint: r.opts.LeaseCheckpoint,
		StallableDisks: r.opts.Mode == harness.ModeProcess && r.sc.StallsDisks()}
}
