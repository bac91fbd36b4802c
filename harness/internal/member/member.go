// Package member is what the harness knows of one etcd member, however it
// runs: its identity (Spec), the view of a running member (Member), the
// Status poller that observes members outside this process, and the free
// ports a new member listens on.
package member

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"go.uber.org/zap"
)

// Spec is the identity of one member, stable across restarts: name, data
// dir, advertised URLs (the harness proxies) and cluster settings. The
// addresses of the member's real listeners are private to whoever runs it.
type Spec struct {
	Index          int
	Name           string
	ID             uint64 // the member ID etcd derives from name, URL and token
	Dir            string
	PeerURL        string // advertised peer URL: the member's peer proxy
	ClientURL      string // advertised client URL: the member's front door
	InitialCluster string
	Token          string
	TickMs         uint
	ElectionMs     uint
	// LeaseCheckpoint turns on lease checkpoints and their persistence.
	LeaseCheckpoint bool
	Logger          *zap.Logger
	// LogDir is where a member run as a process logs; empty means Dir.
	// (With a stallable disk, Dir is a mount the harness serves, and the
	// harness must keep no file open on it.)
	LogDir string
	// Fsync makes a member run as a process fsync as etcd does by default
	// (members run with unsafe-no-fsync otherwise). A stallable disk
	// needs it: its stall bites at the member's next fsync, as a real
	// disk's does, and the harness serves that fsync without syncing the
	// backing disk, so it costs a round trip, not a disk flush.
	Fsync bool
}

// LeaseCheckpointGates are the feature gates (etcd 3.6 and later) that
// turn on lease checkpoints and their persistence.
const LeaseCheckpointGates = "LeaseCheckpoint=true,LeaseCheckpointPersist=true"

// Member is one running etcd member.
type Member interface {
	// PeerAddr and ClientAddr are the host:port of the real listeners.
	PeerAddr() string
	ClientAddr() string
	// Ready is closed once the member has joined the cluster.
	Ready() <-chan struct{}
	// ID, Lead and Term report the member's raft view.
	ID() uint64
	Lead() uint64
	Term() uint64
	// Check performs a linearizable read through the member.
	Check(ctx context.Context) error
	// MoveLeader asks the member (the leader) to hand leadership to id.
	MoveLeader(ctx context.Context, to uint64) error
	// Kill stops the member at once: no leadership transfer, no goodbye.
	Kill()
}

// Pauser is a member that can be frozen and thawed (a process: SIGSTOP and
// SIGCONT).
type Pauser interface {
	Pause() error
	Resume() error
}

// maxBindAttempts bounds the retries when a freshly picked port was taken by
// someone else between picking and binding.
const maxBindAttempts = 5

// StartOnFreePorts starts member spec with start on a fresh pair of free
// ports (peer, client), again on new ports while the start fails because a
// port was taken meanwhile (EADDRINUSE).
func StartOnFreePorts(ctx context.Context, spec *Spec, start func(peerAddr, clientAddr string) (Member, error)) (Member, error) {
	var lastErr error
	for attempt := 0; attempt < maxBindAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ports, err := FreePorts(2)
		if err != nil {
			return nil, err
		}
		m, err := start(ports[0], ports[1])
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("start member %s: %w", spec.Name, lastErr)
}
