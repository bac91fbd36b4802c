//go:build linux

package diskstall

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// mount mounts a Disk on a fresh directory, or skips where FUSE cannot be
// mounted (never in CI, which must be able to).
func mount(t *testing.T) (d *Disk, backing string) {
	t.Helper()
	if err := Probe(t.TempDir()); err != nil {
		// A machine without FUSE (no /dev/fuse, or mounts refused) cannot
		// stall a disk, and nothing a setup script installs gives it one.
		t.Skipf("no FUSE here, so no disk stalls: %v", err)
	}
	root := t.TempDir()
	dir, backing := filepath.Join(root, "mnt"), filepath.Join(root, "backing")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Mkdir(backing, 0o700))
	d, err := Mount(dir, backing)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d, backing
}

func mounted(t *testing.T, dir string) bool {
	t.Helper()
	ok, err := mountinfo.Mounted(dir)
	require.NoError(t, err)
	return ok
}

// appendLine appends to path and syncs it, as a WAL does, and reports the
// outcome on done.
func appendLine(path, line string, done chan<- error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.WriteString(line)
		if err == nil {
			err = f.Sync()
		}
		err = errors.Join(err, f.Close())
	}
	done <- err
}

// While a disk is stalled a write through it blocks, reads and writes
// beside the mount go on, and the write lands once the disk is released.
func TestStalledWritesWaitForRelease(t *testing.T) {
	d, backing := mount(t)
	wal, snap := filepath.Join(d.Dir(), "wal"), filepath.Join(d.Dir(), "snap")
	require.NoError(t, os.WriteFile(wal, []byte("one\n"), 0o600))
	require.NoError(t, os.WriteFile(snap, []byte("snapshot\n"), 0o600))

	require.NoError(t, d.Stall())
	require.True(t, d.Stalled())
	done := make(chan error, 1)
	go appendLine(wal, "two\n", done)
	require.Eventually(t, func() bool { return d.Held() > 0 }, 5*time.Second, 10*time.Millisecond, "the write never reached the disk")
	select {
	case err := <-done:
		t.Fatalf("a write went through a stalled disk (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	// (Not of the page being written: the kernel locks it until the write
	// is answered.)
	data, err := os.ReadFile(snap)
	require.NoError(t, err, "reads go on while writes are held")
	require.Equal(t, "snapshot\n", string(data))
	require.NoError(t, os.WriteFile(filepath.Join(backing, "log"), []byte("still logging\n"), 0o600), "the backing directory is written")

	d.Unstall()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the held write was not released")
	}
	require.False(t, d.Stalled())
	require.Zero(t, d.Held())
	data, err = os.ReadFile(filepath.Join(backing, "wal"))
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\n", string(data), "the write landed in the backing directory")
}

// Creating, renaming and removing files changes the disk too: held while
// stalled.
func TestStalledTreeChangesWait(t *testing.T) {
	d, backing := mount(t)
	require.NoError(t, d.Stall())
	done := make(chan error, 1)
	go func() { done <- os.Mkdir(filepath.Join(d.Dir(), "snap"), 0o700) }()
	select {
	case err := <-done:
		t.Fatalf("a mkdir went through a stalled disk (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.Positive(t, d.Held())
	d.Unstall()
	require.NoError(t, <-done)
	require.DirExists(t, filepath.Join(backing, "snap"))
}

// Close releases held writes and unmounts; the data stays in the backing
// directory.
func TestCloseReleasesAndUnmounts(t *testing.T) {
	d, backing := mount(t)
	require.True(t, mounted(t, d.Dir()))
	require.NoError(t, d.Stall())
	done := make(chan error, 1)
	go appendLine(filepath.Join(d.Dir(), "wal"), "x\n", done)
	require.Eventually(t, func() bool { return d.Held() > 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, d.Close())
	require.NoError(t, <-done)
	require.False(t, mounted(t, d.Dir()))
	require.FileExists(t, filepath.Join(backing, "wal"))
	require.Error(t, d.Stall(), "an unmounted disk cannot stall")
	require.NoError(t, d.Close(), "Close is idempotent")
}

// A mount of ours under a directory is found and detached; others are not
// ours to touch.
func TestUnmountStale(t *testing.T) {
	d, _ := mount(t)
	parent := filepath.Dir(d.Dir())
	require.NoError(t, UnmountStale(filepath.Join(parent, "elsewhere")))
	require.True(t, mounted(t, d.Dir()), "a mount outside the directory is left alone")
	require.NoError(t, UnmountStale(parent))
	require.False(t, mounted(t, d.Dir()))
}
