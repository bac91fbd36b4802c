package harness

// A Cluster never asks which mode it is in: it delegates to two parts,
// chosen here once when it starts.
//
//   - a memberRuntime runs the members: embeddedRuntime in this process,
//     processRuntime as etcd processes (internal/procmember), or
//     externalRuntime for a cluster the harness only attaches to;
//   - a network carries the links between them: proxyNetwork through peer
//     proxies (internal/links), netnsNetwork through network namespaces
//     (internal/netns), or externalNetwork, which cuts nothing.

import (
	"context"
	"fmt"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/netns"
	"github.com/etcdchaos/etcdchaos/harness/internal/procmember"
)

// Start starts a cluster and returns once a leader is elected and every
// member serves linearizable reads. On error everything started is released.
// In ModeExternal it starts nothing but client links: it returns once every
// endpoint answers.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case ModeProcess:
		bin, err := etcdBin(cfg.EtcdBin)
		if err != nil {
			return nil, err
		}
		return startWith(ctx, cfg, &processRuntime{Runner: &procmember.Runner{Bin: bin, Verbose: cfg.Verbose, LogName: LogFile}})
	case ModeExternal:
		return startExternal(ctx, cfg)
	}
	return startWith(ctx, cfg, embeddedRuntime{})
}

// newNetwork creates the network that cfg.Network asks for. With
// NetworkNetns it creates the namespaces and hands them to the process
// runtime, which starts each member inside its own.
func newNetwork(cfg Config, rt memberRuntime, table *links.Table, leases *links.Leases) (network, error) {
	if cfg.Network != NetworkNetns {
		return &proxyNetwork{table: table, leases: leases}, nil
	}
	pr, ok := rt.(*processRuntime)
	if !ok {
		return nil, fmt.Errorf("network %s needs %s mode", NetworkNetns, ModeProcess)
	}
	nn, err := netns.New(cfg.Members)
	if err != nil {
		return nil, err
	}
	pr.Netns = nn
	return &netnsNetwork{table: table, ns: nn}, nil
}
