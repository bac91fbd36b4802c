package harness

import (
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config describes a cluster to start. The zero value is a 3-member cluster
// with a 50 ms heartbeat and a 500 ms election timeout, quiet logs and data in
// a fresh temporary directory.
type Config struct {
	// Members is the cluster size: 1, 3 or 5 (0 means 3).
	Members int
	// TickMs is the heartbeat interval in milliseconds (0 means 50).
	TickMs uint
	// ElectionMs is the election timeout in milliseconds (0 means 500). It
	// must be at least 5 heartbeat intervals.
	ElectionMs uint
	// DataDir is the parent directory of the member data directories
	// (DataDir/m1, DataDir/m2, ...), which must not exist yet; it is kept by
	// Close. Empty means a fresh temporary directory that Close removes;
	// if the process is killed before Close, a later Start removes it.
	DataDir string
	// Verbose makes etcd log at info level instead of error level.
	Verbose bool
	// Logger, if set, receives the logs of members and harness clients
	// (Verbose is then ignored). By default logs go to stderr. Members run
	// as processes log to DataDir/mN/etcd.log instead (and to stderr too if
	// Verbose).
	Logger *zap.Logger
	// Mode selects how members run: ModeEmbedded (the default), ModeProcess
	// or ModeExternal.
	Mode string
	// EtcdBin is the etcd binary that ModeProcess runs; empty means
	// FindEtcd's choice.
	EtcdBin string
	// Endpoints are the client URLs (http://host:port or host:port) of an
	// existing cluster, one per member the harness may talk to; ModeExternal
	// only. Members is then len(Endpoints).
	Endpoints []string
	// Network selects how member links are cut: NetworkProxy (the default)
	// or NetworkNetns (ModeProcess only, needs root).
	Network string
	// LeaseCheckpoint turns on etcd's lease checkpoints and their
	// persistence: the leader sends every lease's remaining TTL to the
	// others, so a leader change does not reset it, and a renewal of a
	// checkpointed lease first proposes a checkpoint through raft, which
	// widens the window etcd PR 20590 closed (a renewal racing a revoke).
	// etcd checkpoints a lease only when it has more than 5 minutes left.
	// Not for ModeExternal.
	LeaseCheckpoint bool
	// StallableDisks serves each member's data directory through a FUSE
	// mount of the harness's, so that StallDisk can hold the member's
	// writes and fsyncs (ModeProcess only, Linux; needs /dev/fuse and root
	// or fusermount3). Every write then takes a trip through the harness,
	// so it is off unless asked for.
	StallableDisks bool
}

// Networks: how member-to-member links are cut.
const (
	// NetworkProxy routes peer traffic through harness proxies that cut
	// and delay links (see the package doc).
	NetworkProxy = "proxy"
	// NetworkNetns runs each member process in a network namespace of its
	// own, connected by a bridge in a hub namespace, with links cut by
	// prohibit routes inside the members' namespaces; needs root
	// (CAP_NET_ADMIN) and ModeProcess. Link latency is not supported and
	// LinkBytes stays 0. Every namespace is deleted by Close.
	NetworkNetns = "netns"
)

// Cluster modes.
const (
	// ModeEmbedded runs every member inside this process (go.etcd.io/etcd
	// embed).
	ModeEmbedded = "embedded"
	// ModeProcess runs every member as an etcd process of its own, which
	// also allows pausing (SIGSTOP) and kill -9.
	ModeProcess = "process"
	// ModeExternal drives a cluster the harness did not start: only client
	// links are the harness's, so only client-side faults work.
	ModeExternal = "external"
)

const (
	defaultMembers    = 3
	defaultTickMs     = 50
	defaultElectionMs = 500
)

// withDefaults returns cfg with zero fields replaced by their defaults, or an
// error if cfg is invalid.
func (cfg Config) withDefaults() (Config, error) {
	if err := cfg.checkNetwork(); err != nil {
		return cfg, err
	}
	if cfg.Network == "" {
		cfg.Network = NetworkProxy
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeEmbedded
	case ModeEmbedded, ModeProcess, ModeExternal:
	default:
		return cfg, fmt.Errorf("invalid config: mode %q (expected %s, %s or %s)", cfg.Mode, ModeEmbedded, ModeProcess, ModeExternal)
	}
	if cfg.StallableDisks && cfg.Mode != ModeProcess {
		// Embedded members would write to a file system served by their
		// own process: a page fault on a mapped file during a garbage
		// collection's stop-the-world can then wait for itself.
		return cfg, fmt.Errorf("invalid config: stallable disks need %s mode, not %s", ModeProcess, cfg.Mode)
	}
	if cfg.Mode == ModeExternal {
		if cfg.LeaseCheckpoint {
			return cfg, fmt.Errorf("invalid config: lease checkpoints are a member setting; an existing cluster's members are not the harness's to set")
		}
		return cfg.externalDefaults()
	}
	if len(cfg.Endpoints) > 0 {
		return cfg, fmt.Errorf("invalid config: endpoints are for %s mode, not %s", ModeExternal, cfg.Mode)
	}
	if cfg.Members == 0 {
		cfg.Members = defaultMembers
	}
	if cfg.TickMs == 0 {
		cfg.TickMs = defaultTickMs
	}
	if cfg.ElectionMs == 0 {
		cfg.ElectionMs = defaultElectionMs
	}
	switch cfg.Members {
	case 1, 3, 5:
	default:
		return cfg, fmt.Errorf("invalid config: members must be 1, 3 or 5, not %d", cfg.Members)
	}
	if cfg.ElectionMs < 5*cfg.TickMs {
		return cfg, fmt.Errorf("invalid config: election timeout %d ms is less than 5 heartbeats of %d ms", cfg.ElectionMs, cfg.TickMs)
	}
	return cfg, nil
}

// checkNetwork validates cfg.Network against the mode.
func (cfg Config) checkNetwork() error {
	switch cfg.Network {
	case "", NetworkProxy:
		return nil
	case NetworkNetns:
		if cfg.Mode != ModeProcess {
			mode := cfg.Mode
			if mode == "" {
				mode = ModeEmbedded
			}
			return fmt.Errorf("invalid config: network %s needs %s mode, not %s", NetworkNetns, ModeProcess, mode)
		}
		return nil
	}
	return fmt.Errorf("invalid config: network %q (expected %s or %s)", cfg.Network, NetworkProxy, NetworkNetns)
}

// logger returns the configured logger or builds the default one: JSON on
// stderr at error level (info if Verbose).
func (cfg Config) logger() (*zap.Logger, error) {
	if cfg.Logger != nil {
		return cfg.Logger, nil
	}
	level := zapcore.ErrorLevel
	if cfg.Verbose {
		level = zapcore.InfoLevel
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	zc.DisableStacktrace = true
	zc.Sampling = nil
	lg, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return lg, nil
}

// dataDir returns the parent directory for member data and whether the
// cluster owns it (and so removes it on Close). A temporary directory is
// marked with its owner, after those of killed runs were removed.
func (cfg Config) dataDir(lg *zap.Logger) (dir string, owned bool, err error) {
	if cfg.DataDir == "" {
		removeStaleDataDirs(os.TempDir(), lg)
		dir, err = os.MkdirTemp("", dataDirPrefix)
		if err != nil {
			return "", false, fmt.Errorf("create data dir: %w", err)
		}
		if err := markOwner(dir); err != nil {
			return "", false, errors.Join(fmt.Errorf("create data dir: %w", err), os.RemoveAll(dir))
		}
		return dir, true, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	return cfg.DataDir, false, nil
}
