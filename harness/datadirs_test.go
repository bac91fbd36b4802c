package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherProcess starts a process that runs until the test ends and returns
// its owner record.
func otherProcess(t *testing.T) owner {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	o, running := processOf(cmd.Process.Pid)
	require.True(t, running)
	require.NotEmpty(t, o.start, "start time from /proc")
	return o
}

// deadProcess starts a process, kills and reaps it, and returns the owner
// record it had: a PID that no longer runs (or, if reused, runs a process
// started at another time).
func deadProcess(t *testing.T) owner {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	require.NoError(t, cmd.Start())
	o, running := processOf(cmd.Process.Pid)
	require.True(t, running)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	_, running = processOf(o.pid)
	require.False(t, running, "a reaped process is gone")
	return o
}

// TestStartRemovesStaleDataDirs: a start removes the temporary data
// directories whose owner is gone, and only those. It sets TMPDIR, so it
// does not run in parallel.
func TestStartRemovesStaleDataDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	live, dead := otherProcess(t), deadProcess(t)
	reused := live
	reused.start += "0" // the PID now runs another process
	rebooted, _ := processOf(os.Getpid())
	rebooted.boot = "an-earlier-boot"

	dir := func(name, marker string) string {
		d := filepath.Join(tmp, name)
		require.NoError(t, os.MkdirAll(filepath.Join(d, "m1", "member"), 0o700))
		if marker != "" {
			require.NoError(t, os.WriteFile(filepath.Join(d, ownerFile), []byte(marker), 0o600))
		}
		return d
	}
	stale := []string{
		dir("etcdchaos-dead", dead.String()),
		dir("etcdchaos-reused", reused.String()),
		dir("etcdchaos-rebooted", rebooted.String()),
	}
	kept := []string{
		dir("etcdchaos-live", live.String()),
		dir("etcdchaos-unmarked", ""),
		dir("etcdchaos-garbled", "not an owner"),
		dir("other-dead", dead.String()),
	}
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "etcdchaos-file"), []byte(dead.String()), 0o600))
	kept = append(kept, filepath.Join(tmp, "etcdchaos-file"))

	c := startCluster(t, Config{Members: 1})
	for _, d := range stale {
		assert.NoDirExists(t, d, "owner is gone")
	}
	for _, d := range kept {
		_, err := os.Lstat(d)
		assert.NoError(t, err, "%s is not ours to remove", d)
	}

	// The cluster's own directory names this process, and another start
	// leaves it alone.
	own := filepath.Dir(c.DataDir(1))
	data, err := os.ReadFile(filepath.Join(own, ownerFile))
	require.NoError(t, err)
	o, err := parseOwner(string(data))
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), o.pid)
	startCluster(t, Config{Members: 1})
	assert.DirExists(t, c.DataDir(1))
}
