// Package procmember runs etcd members as processes of their own, each in
// its own process group, optionally inside a network namespace.
package procmember

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"github.com/etcdchaos/etcdchaos/harness/internal/netns"
)

// Runner runs each member as an etcd process of its own. Processes are
// started in their own process group, are killed with the harness
// (parent-death signal, Linux) and are always reaped by Kill.
//
// With Netns set, member i runs in its namespace and listens on its
// namespace address, and the harness dials it from inside that namespace.
type Runner struct {
	// Bin is the etcd binary.
	Bin string
	// Verbose makes etcd log at info level, and to stderr too.
	Verbose bool
	// LogName is the name of each member's log in its data directory.
	LogName string
	// Netns, if set, holds the members' network namespaces.
	Netns *netns.Net

	// The binary's release, read once when a flag depends on it.
	versionOnce sync.Once
	binVersion  string
	versionErr  error
}

// Member is one etcd process.
type Member struct {
	spec       *member.Spec
	cmd        *exec.Cmd
	peer, clnt string
	dial       links.DialFunc // reaches the member's listeners
	log        *os.File
	status     *member.Status
	exited     chan struct{} // closed once the process is reaped
}

// listenWait bounds how long a new process may take to open its client port.
const listenWait = 20 * time.Second

// Start starts the member described by spec and returns once it listens for
// clients (not necessarily ready: see Member.Ready).
func (r *Runner) Start(ctx context.Context, spec *member.Spec) (member.Member, error) {
	if r.Netns != nil {
		host := r.Netns.Addr(spec.Index)
		m, err := r.startProcess(ctx, spec, net.JoinHostPort(host, netns.PeerPort), net.JoinHostPort(host, netns.ClientPort))
		if err != nil {
			return nil, fmt.Errorf("start member %s: %w", spec.Name, err)
		}
		return m, nil
	}
	return member.StartOnFreePorts(ctx, spec, func(peerAddr, clientAddr string) (member.Member, error) {
		return r.startProcess(ctx, spec, peerAddr, clientAddr)
	})
}

// startProcess starts etcd and waits until it listens for clients.
func (r *Runner) startProcess(ctx context.Context, spec *member.Spec, peerAddr, clientAddr string) (*Member, error) {
	if err := os.MkdirAll(spec.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create member dir: %w", err)
	}
	logDir := spec.Dir
	if spec.LogDir != "" {
		logDir = spec.LogDir
	}
	logPath := filepath.Join(logDir, r.LogName)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open member log: %w", err)
	}
	extra, err := r.extraFlags(spec)
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	args := append(r.args(spec, peerAddr, clientAddr), extra...)
	cmd, dial := exec.Command(r.Bin, args...), links.DialFunc(links.DialTCP)
	if r.Netns != nil {
		cmd = r.Netns.Command(spec.Index, r.Bin, args)
		dial = r.Netns.Dialer(spec.Index)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if r.Verbose {
		w := io.MultiWriter(logf, os.Stderr)
		cmd.Stdout, cmd.Stderr = w, w
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("run %s: %w", r.Bin, err)
	}
	m := &Member{spec: spec, cmd: cmd, peer: peerAddr, clnt: clientAddr, dial: dial, log: logf, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitListening(ctx); err != nil {
		m.Kill()
		return nil, errors.Join(err, logError(logPath))
	}
	if m.status, err = member.NewStatus(clientAddr, r.statusDial(dial), spec.Logger); err != nil {
		m.Kill()
		return nil, err
	}
	return m, nil
}

// statusDial is the status client's dialer: dial in a namespace, gRPC's
// own otherwise.
func (r *Runner) statusDial(dial links.DialFunc) links.DialFunc {
	if r.Netns == nil {
		return nil
	}
	return dial
}

func (r *Runner) args(spec *member.Spec, peerAddr, clientAddr string) []string {
	level := "warn"
	if r.Verbose {
		level = "info"
	}
	args := []string{
		"--name=" + spec.Name,
		"--data-dir=" + spec.Dir,
		"--listen-peer-urls=http://" + peerAddr,
		"--initial-advertise-peer-urls=" + spec.PeerURL,
		"--listen-client-urls=http://" + clientAddr,
		"--advertise-client-urls=" + spec.ClientURL,
		"--initial-cluster=" + spec.InitialCluster,
		"--initial-cluster-token=" + spec.Token,
		"--initial-cluster-state=new",
		fmt.Sprintf("--heartbeat-interval=%d", spec.TickMs),
		fmt.Sprintf("--election-timeout=%d", spec.ElectionMs),
		"--enable-grpc-gateway=false",
		"--grpc-keepalive-min-time=1s",
		"--logger=zap",
		"--log-level=" + level,
	}
	if !spec.Fsync {
		args = append(args, "--unsafe-no-fsync")
	}
	return args
}

// waitListening polls the client port until the process accepts a
// connection, exits, or ctx ends.
func (m *Member) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, listenWait)
	defer cancel()
	for {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		c, err := m.dial(dctx, m.clnt)
		cancel()
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-m.exited:
			return fmt.Errorf("etcd exited at start: %s", m.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("etcd did not listen on %s: %w", m.clnt, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logError returns the last error lines of a member log, marked as
// EADDRINUSE when a port was taken, so that Start can retry.
func logError(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	tail := string(bytes.Join(lines[max(0, len(lines)-3):], []byte("\n")))
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w: %s", syscall.EADDRINUSE, tail)
	}
	if tail == "" {
		return nil
	}
	return fmt.Errorf("log %s ends with: %s", path, tail)
}

// PeerAddr is the host:port of the process's peer listener.
func (m *Member) PeerAddr() string { return m.peer }

// ClientAddr is the host:port of the process's client listener.
func (m *Member) ClientAddr() string { return m.clnt }

// Ready is closed once the member answered a Status request.
func (m *Member) Ready() <-chan struct{} { return m.status.Ready() }

// Pid is the process id of the etcd process.
func (m *Member) Pid() int { return m.cmd.Process.Pid }

// ID is the member ID: the one etcd reports, or the one the harness
// computed until etcd answered.
func (m *Member) ID() uint64 {
	if id, _, _ := m.status.View(); id != 0 {
		return id
	}
	return m.spec.ID
}

// Lead is the leader the member last reported (0 if unknown).
func (m *Member) Lead() uint64 {
	_, lead, _ := m.status.View()
	return lead
}

// Term is the raft term the member last reported (0 if unknown).
func (m *Member) Term() uint64 {
	_, _, term := m.status.View()
	return term
}

// Check performs a linearizable read through the member.
func (m *Member) Check(ctx context.Context) error { return m.status.Check(ctx) }

// MoveLeader asks the member (the leader) to hand leadership to to.
func (m *Member) MoveLeader(ctx context.Context, to uint64) error {
	return m.status.MoveLeader(ctx, to)
}

// signal sends sig to the member's process group.
func (m *Member) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-m.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to etcd %d: %w", sig, m.cmd.Process.Pid, err)
	}
	return nil
}

// Pause freezes the process group (SIGSTOP).
func (m *Member) Pause() error { return m.signal(syscall.SIGSTOP) }

// Resume thaws the process group (SIGCONT).
func (m *Member) Resume() error { return m.signal(syscall.SIGCONT) }

// Kill sends SIGKILL to the process group and reaps the process.
func (m *Member) Kill() {
	if m.signal(syscall.SIGKILL) != nil {
		_ = m.cmd.Process.Kill()
	}
	<-m.exited
	if m.status != nil {
		m.status.Close()
	}
	_ = m.log.Close()
}
