package harness

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/procmember"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// etcdForTest returns the etcd binary for process-mode tests. Without one
// the test is skipped, except in CI (CI set), where it fails.
func etcdForTest(t *testing.T) string {
	t.Helper()
	bin, err := FindEtcd()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("process-mode tests need an etcd binary in CI: %v", err)
		}
		t.Skipf("no etcd binary: %v", err)
	}
	return bin
}

// etcdProcessesOf lists the pids of live processes whose command line
// mentions dir (zombies have an empty command line).
func etcdProcessesOf(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startProcessCluster starts a process-mode cluster in a fresh directory
// and checks, after it is closed, even if the test failed, that none of its
// processes is left.
func startProcessCluster(t *testing.T, members int) (*Cluster, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() {
		assert.Empty(t, etcdProcessesOf(dir), "etcd processes left behind")
	})
	return startCluster(t, Config{Members: members, Mode: ModeProcess, EtcdBin: etcdForTest(t), DataDir: dir}), dir
}

func pidOf(t *testing.T, c *Cluster, i int) int {
	t.Helper()
	m, ok := c.running(i).(*procmember.Member)
	require.True(t, ok, "member %d is not a running process", i)
	return m.Pid()
}

func TestProcessPauseLeaderAndKill(t *testing.T) {
	t.Parallel()
	c, dir := startProcessCluster(t, 3)
	require.Len(t, etcdProcessesOf(dir), 3)
	require.FileExists(t, filepath.Join(c.DataDir(1), LogFile))
	cls := clientsPerMember(t, c)
	require.NoError(t, put(cls[0], "k1", "v1", 5*time.Second))

	// SIGSTOP the leader: the others elect a new one and keep committing.
	old := waitLeaderIn(t, c, 10*time.Second, 1, 2, 3)
	require.NoError(t, c.PauseMember(old))
	require.True(t, c.IsPaused(old))
	require.Error(t, c.PauseMember(old), "already paused")
	next := waitLeaderIn(t, c, 15*time.Second, others(c, old)...)
	require.NoError(t, put(cls[next-1], "k2", "v2", 5*time.Second))
	require.Error(t, put(cls[old-1], "k3", "lost", time.Second), "a paused member answers nothing")

	// SIGCONT: the old leader rejoins as a follower and serves the write it
	// missed.
	require.NoError(t, c.ResumeMember(old))
	require.False(t, c.IsPaused(old))
	require.Eventually(t, func() bool {
		r, err := get(cls[old-1], "k2", time.Second)
		return err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == "v2"
	}, 15*time.Second, 50*time.Millisecond, "paused member did not rejoin")
	require.Eventually(t, func() bool {
		m := c.running(old)
		return m != nil && m.Lead() != 0 && m.Lead() != m.ID()
	}, 10*time.Second, 20*time.Millisecond, "old leader does not follow")

	// kill -9 a member: its process is gone and reaped; two of three commit.
	victim := others(c, waitLeaderIn(t, c, 10*time.Second, 1, 2, 3))[0]
	pid := pidOf(t, c, victim)
	require.NoError(t, c.Kill(victim))
	require.NoDirExists(t, filepath.Join("/proc", strconv.Itoa(pid)), "killed etcd not reaped")
	require.Len(t, etcdProcessesOf(dir), 2)
	writer := others(c, victim)[0]
	require.NoError(t, put(cls[writer-1], "k4", "v4", 5*time.Second))
	require.NoError(t, c.Restart(victim))
	require.Eventually(t, func() bool {
		r, err := get(cls[victim-1], "k4", time.Second)
		return err == nil && len(r.Kvs) == 1
	}, 15*time.Second, 50*time.Millisecond, "restarted member did not catch up")
}

func TestPauseMemberNeedsProcesses(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 1})
	require.ErrorIs(t, c.PauseMember(1), ErrNotSupported)
	require.ErrorIs(t, c.ResumeMember(1), ErrNotSupported)
}

// helperEnv selects what TestProcessHelper does in a child test process.
const helperEnv = "ETCDCHAOS_PROCESS_HELPER"

// TestProcessHelper is run by other tests in a child process: it starts a
// process-mode cluster in $ETCDCHAOS_PROCESS_HELPER_DIR, says "ready", then
// either fails (mode "fail") or waits to be killed (mode "hang"; mode
// "hang-stalled": one member with a stallable disk, in a temporary data
// directory, stalled while it writes).
func TestProcessHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("run by TestProcessMembersDieWithTheHarness")
	}
	cfg := Config{Members: 3, Mode: ModeProcess, DataDir: os.Getenv(helperEnv + "_DIR"),
		Logger: zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))}
	if mode == "hang-stalled" {
		cfg.Members, cfg.DataDir, cfg.StallableDisks = 1, "", true
	}
	c, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	if mode == "hang-stalled" {
		cl, err := c.NewClient(1)
		require.NoError(t, err)
		require.NoError(t, c.StallDisk(1))
		require.Error(t, put(cl, "k", "v", 500*time.Millisecond))
		require.Positive(t, c.DiskHeld(1))
	}
	os.Stdout.WriteString("ready\n")
	if mode == "hang" || mode == "hang-stalled" {
		time.Sleep(time.Minute)
	}
	t.Fatal("deliberate failure")
}

// runHelper starts this test binary as TestProcessHelper in mode and waits
// until its cluster is up.
func runHelper(t *testing.T, mode, dir, bin string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperEnv+"_DIR="+dir, EtcdBinEnv+"="+bin)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("helper cluster did not start")
	}
	return cmd
}

// TestProcessMembersDieWithTheHarness: members go away when the test that
// started them fails, and when the harness process itself is killed.
func TestProcessMembersDieWithTheHarness(t *testing.T) {
	t.Parallel()
	bin := etcdForTest(t)
	t.Run("failing test", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		cmd := runHelper(t, "fail", dir, bin)
		err := cmd.Wait()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "the helper test should fail")
		require.Empty(t, etcdProcessesOf(dir))
	})
	t.Run("killed harness", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		cmd := runHelper(t, "hang", dir, bin)
		require.Len(t, etcdProcessesOf(dir), 3)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		require.Eventually(t, func() bool { return len(etcdProcessesOf(dir)) == 0 },
			10*time.Second, 20*time.Millisecond, "members outlived the killed harness")
	})
}
