package harness

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
	"syscall"
	"time"
)

// LogFile is the name of a process member's log in its data directory.
const LogFile = "etcd.log"

// processRunner runs each member as an etcd process of its own. Processes
// are started in their own process group, are killed with the harness
// (parent-death signal, Linux) and are always reaped by kill.
//
// With netns set, member i runs in its namespace (netns.ns(i)) and listens
// on its namespace address, and the harness dials it from inside that
// namespace.
type processRunner struct {
	bin     string
	verbose bool
	netns   *netnsNet
}

// processMember is one etcd process.
type processMember struct {
	spec       *memberSpec
	cmd        *exec.Cmd
	peer, clnt string
	dial       dialFunc // reaches the member's listeners
	log        *os.File
	status     *statusPoller
	exited     chan struct{} // closed once the process is reaped
}

// listenWait bounds how long a new process may take to open its client port.
const listenWait = 20 * time.Second

// Fixed member ports inside a member's own network namespace.
const (
	netnsPeerPort   = "2380"
	netnsClientPort = "2379"
)

func (r *processRunner) start(ctx context.Context, spec *memberSpec) (member, error) {
	if r.netns != nil {
		host := r.netns.addr(spec.index)
		m, err := r.startProcess(ctx, spec, net.JoinHostPort(host, netnsPeerPort), net.JoinHostPort(host, netnsClientPort))
		if err != nil {
			return nil, fmt.Errorf("start member %s: %w", spec.name, err)
		}
		return m, nil
	}
	var lastErr error
	for attempt := 0; attempt < maxBindAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m, err := r.startProcess(ctx, spec, ports[0], ports[1])
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("start member %s: %w", spec.name, lastErr)
}

// startProcess starts etcd and waits until it listens for clients.
func (r *processRunner) startProcess(ctx context.Context, spec *memberSpec, peerAddr, clientAddr string) (*processMember, error) {
	if err := os.MkdirAll(spec.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create member dir: %w", err)
	}
	logPath := filepath.Join(spec.dir, LogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open member log: %w", err)
	}
	cmd, dial := exec.Command(r.bin, r.args(spec, peerAddr, clientAddr)...), dialFunc(dialTCP)
	if r.netns != nil {
		cmd = r.netns.command(spec.index, r.bin, r.args(spec, peerAddr, clientAddr))
		dial = r.netns.dialer(spec.index)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if r.verbose {
		w := io.MultiWriter(logf, os.Stderr)
		cmd.Stdout, cmd.Stderr = w, w
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("run %s: %w", r.bin, err)
	}
	m := &processMember{spec: spec, cmd: cmd, peer: peerAddr, clnt: clientAddr, dial: dial, log: logf, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitListening(ctx); err != nil {
		m.kill()
		return nil, errors.Join(err, logError(logPath))
	}
	if m.status, err = newStatusPoller(clientAddr, r.statusDial(dial), spec.logger); err != nil {
		m.kill()
		return nil, err
	}
	return m, nil
}

// statusDial is the status client's dialer: dial in a namespace, gRPC's
// own otherwise.
func (r *processRunner) statusDial(dial dialFunc) dialFunc {
	if r.netns == nil {
		return nil
	}
	return dial
}

func (r *processRunner) args(spec *memberSpec, peerAddr, clientAddr string) []string {
	level := "warn"
	if r.verbose {
		level = "info"
	}
	return []string{
		"--name=" + spec.name,
		"--data-dir=" + spec.dir,
		"--listen-peer-urls=http://" + peerAddr,
		"--initial-advertise-peer-urls=" + spec.peerURL,
		"--listen-client-urls=http://" + clientAddr,
		"--advertise-client-urls=" + spec.clientURL,
		"--initial-cluster=" + spec.initialCluster,
		"--initial-cluster-token=" + spec.token,
		"--initial-cluster-state=new",
		fmt.Sprintf("--heartbeat-interval=%d", spec.tickMs),
		fmt.Sprintf("--election-timeout=%d", spec.electionMs),
		"--unsafe-no-fsync",
		"--enable-grpc-gateway=false",
		"--grpc-keepalive-min-time=1s",
		"--logger=zap",
		"--log-level=" + level,
	}
}

// waitListening polls the client port until the process accepts a
// connection, exits, or ctx ends.
func (m *processMember) waitListening(ctx context.Context) error {
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
// EADDRINUSE when a port was taken, so that start can retry.
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

func (m *processMember) peerAddr() string       { return m.peer }
func (m *processMember) clientAddr() string     { return m.clnt }
func (m *processMember) ready() <-chan struct{} { return m.status.ready() }

// id is the member ID: the one etcd reports, or the one the harness
// computed until etcd answered.
func (m *processMember) id() uint64 {
	if id, _, _ := m.status.view(); id != 0 {
		return id
	}
	return m.spec.id
}

func (m *processMember) lead() uint64 {
	_, lead, _ := m.status.view()
	return lead
}

func (m *processMember) term() uint64 {
	_, _, term := m.status.view()
	return term
}

func (m *processMember) check(ctx context.Context) error { return m.status.check(ctx) }

func (m *processMember) moveLeader(ctx context.Context, to uint64) error {
	return m.status.moveLeader(ctx, to)
}

// signal sends sig to the member's process group.
func (m *processMember) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-m.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to etcd %d: %w", sig, m.cmd.Process.Pid, err)
	}
	return nil
}

func (m *processMember) pause() error  { return m.signal(syscall.SIGSTOP) }
func (m *processMember) resume() error { return m.signal(syscall.SIGCONT) }

// kill sends SIGKILL to the process group and reaps the process.
func (m *processMember) kill() {
	if m.signal(syscall.SIGKILL) != nil {
		_ = m.cmd.Process.Kill()
	}
	<-m.exited
	if m.status != nil {
		m.status.close()
	}
	_ = m.log.Close()
}
