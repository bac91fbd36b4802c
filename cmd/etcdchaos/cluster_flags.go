package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/runner"
)

// clusterFlags choose the cluster a run drives: embedded members, etcd
// processes, or an existing cluster given by its endpoints.
type clusterFlags struct {
	mode, etcdBin, endpoints, network string
	leaseCheckpoint                   bool
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.mode, "mode", harness.ModeEmbedded,
		"how members run: embedded (inside this process) or process (etcd processes: adds pause-member, kills are kill -9)")
	fs.StringVar(&c.etcdBin, "etcd-bin", "",
		"etcd binary for --mode process (default: bin/etcd built by 'make etcd', else etcd on the PATH)")
	fs.StringVar(&c.network, "network", harness.NetworkProxy,
		"how --mode process cuts member links: proxy (harness link layer) or netns (a network namespace per member, "+
			"links cut by routes; needs root; no link latency)")
	fs.StringVar(&c.endpoints, "endpoints", "",
		"comma-separated client URLs of an existing cluster to test instead of starting one; only client-side faults "+
			"(isolate-client, pause-client, hold-answers, revoke-lease, expire-lease) can run there, e.g. --scenario client-faults")
	fs.BoolVar(&c.leaseCheckpoint, "lease-checkpoint", false,
		"turn on the members' lease checkpoints and their persistence (etcd 3.5: --experimental-enable-lease-checkpoint[-persist]; "+
			"3.6 and later: --feature-gates=LeaseCheckpoint=true,LeaseCheckpointPersist=true); etcd checkpoints leases with more than 5 minutes left")
}

// validate checks that the flags go together.
func (c *clusterFlags) validate() error {
	switch {
	case c.mode != harness.ModeEmbedded && c.mode != harness.ModeProcess:
		return fmt.Errorf("--mode %q: expected %s or %s", c.mode, harness.ModeEmbedded, harness.ModeProcess)
	case c.endpoints != "" && c.mode == harness.ModeProcess:
		return fmt.Errorf("--endpoints tests an existing cluster; it does not go with --mode process")
	case c.etcdBin != "" && c.mode != harness.ModeProcess:
		return fmt.Errorf("--etcd-bin needs --mode process")
	case c.network != harness.NetworkProxy && c.network != harness.NetworkNetns:
		return fmt.Errorf("--network %q: expected %s or %s", c.network, harness.NetworkProxy, harness.NetworkNetns)
	case c.network == harness.NetworkNetns && (c.mode != harness.ModeProcess || c.endpoints != ""):
		return fmt.Errorf("--network netns needs --mode process")
	case c.leaseCheckpoint && c.endpoints != "":
		return fmt.Errorf("--lease-checkpoint sets the members the harness starts; it does not go with --endpoints")
	}
	return nil
}

func (c *clusterFlags) list() []string {
	if c.endpoints == "" {
		return nil
	}
	var eps []string
	for _, ep := range strings.Split(c.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

func (c *clusterFlags) apply(o *runner.Options) {
	o.Mode, o.EtcdBin, o.Endpoints, o.Network = c.mode, c.etcdBin, c.list(), c.network
	o.LeaseCheckpoint = c.leaseCheckpoint
}
