package harness

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness/internal/diskstall"
)

// startStallCluster starts a process cluster with stallable disks in a
// fresh directory, or skips where FUSE cannot mount.
func startStallCluster(t *testing.T, members int) *Cluster {
	t.Helper()
	bin := etcdForTest(t)
	if err := diskstall.Probe(t.TempDir()); err != nil {
		// A machine without FUSE (no /dev/fuse, or mounts refused) cannot
		// stall a disk, and nothing a setup script installs gives it one.
		t.Skipf("no FUSE here, so no disk stalls: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() {
		assert.Empty(t, etcdProcessesOf(dir), "etcd processes left behind")
		assert.NoError(t, diskstall.UnmountStale(dir))
	})
	return startCluster(t, Config{Members: members, Mode: ModeProcess, EtcdBin: bin, DataDir: dir, StallableDisks: true})
}

// answersPeers reports whether member i's peer listener answers, through
// its peer link, a request for the cluster's members, which etcd serves
// from memory. (Client requests are no sign: most of them read the
// backend, which a held commit locks.)
func answersPeers(c *Cluster, i int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.PeerURL(i)+"/members", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(body), c.PeerURL(i))
}

// serializableRev is the revision member i has applied, from a serializable
// read it answers alone; ok is false if it does not answer in time.
func serializableRev(cl *Client, key string, timeout time.Duration) (rev int64, found bool, ok bool) {
	r, err := get(cl, key, timeout, clientv3.WithSerializable())
	if err != nil {
		return 0, false, false
	}
	return r.Header.Revision, len(r.Kvs) == 1, true
}

// A follower whose disk stalls stops applying while its links stay up:
// the others commit without it, the leader's messages still reach it, it
// still answers its peers, and it catches up once its disk is back. (It
// sends the leader next to nothing: etcd sends a follower's messages only
// after its raft loop saved what came with them.)
func TestStallDiskFollower(t *testing.T) {
	t.Parallel()
	c := startStallCluster(t, 3)
	cls := clientsPerMember(t, c)
	require.NoError(t, put(cls[0], "before", "v", 5*time.Second))
	leader := waitLeaderIn(t, c, 10*time.Second, 1, 2, 3)
	f := others(c, leader)[0]
	require.Eventually(t, func() bool {
		_, found, ok := serializableRev(cls[f-1], "before", time.Second)
		return ok && found
	}, 10*time.Second, 20*time.Millisecond, "follower %d never applied the first write", f)
	before, _, _ := serializableRev(cls[f-1], "before", time.Second)

	require.NoError(t, c.StallDisk(f))
	require.True(t, c.DiskStalled(f))
	sent := c.LinkBytes(leader, f)
	require.NoError(t, put(cls[leader-1], "during", "v", 5*time.Second), "the leader and the other follower commit")
	// Through several election timeouts: the follower never shows the
	// write (its reads block or answer an older revision), its raft loop
	// is held by its disk, and the leader stays.
	deadline := time.Now().Add(4 * electionTimeout(c))
	for time.Now().Before(deadline) {
		rev, found, ok := serializableRev(cls[f-1], "during", 200*time.Millisecond)
		require.False(t, found, "the stalled follower applied a write (revision %d)", rev)
		if ok {
			require.LessOrEqual(t, rev, before, "the stalled follower's revision advanced")
		}
	}
	require.Positive(t, c.DiskHeld(f), "no write of the follower is held")
	require.Equal(t, leader, c.Leader(), "a stalled follower cannot start an election")
	require.Greater(t, c.LinkBytes(leader, f), sent, "the leader's messages no longer reach the stalled follower")
	require.True(t, answersPeers(c, f), "the stalled follower does not answer its peers")

	require.NoError(t, c.UnstallDisk(f))
	require.False(t, c.DiskStalled(f))
	require.Eventually(t, func() bool {
		_, found, ok := serializableRev(cls[f-1], "during", time.Second)
		return ok && found
	}, 15*time.Second, 50*time.Millisecond, "the follower did not catch up after its disk came back")
}

// A leader whose disk stalls stops its raft loop at the first write it
// must persist: its heartbeats stop, so the others elect a new leader
// within a few election timeouts and commit without it, while the old
// leader answers nothing that needs its disk. Once its disk is back it
// follows the new leader and has the writes it missed.
func TestStallDiskLeader(t *testing.T) {
	t.Parallel()
	c := startStallCluster(t, 3)
	cls := clientsPerMember(t, c)
	require.NoError(t, put(cls[0], "before", "v", 5*time.Second))
	old := waitLeaderIn(t, c, 10*time.Second, 1, 2, 3)

	require.NoError(t, c.StallDisk(old))
	// A write through the stalled leader is what makes it persist
	// something; it cannot answer while its disk is held.
	require.Error(t, put(cls[old-1], "through-old", "v", time.Second), "the stalled leader answered a write")
	require.Positive(t, c.DiskHeld(old), "no write of the leader is held")
	next := waitLeaderIn(t, c, 20*electionTimeout(c), others(c, old)...)
	require.NoError(t, put(cls[next-1], "after", "v", 5*time.Second), "the new leader commits without the old one")
	require.True(t, answersPeers(c, old), "the stalled leader does not answer its peers")
	_, found, _ := serializableRev(cls[old-1], "after", 200*time.Millisecond)
	require.False(t, found, "the stalled old leader applied a write of the new leader")

	require.NoError(t, c.UnstallDisk(old))
	require.Eventually(t, func() bool {
		_, found, ok := serializableRev(cls[old-1], "after", time.Second)
		return ok && found
	}, 15*time.Second, 50*time.Millisecond, "the old leader did not catch up after its disk came back")
	waitFollows(t, c, old, c.Leader(), 10*time.Second)
	require.NotEqual(t, old, c.Leader())
}

// Heal releases a stalled disk, and Close ends a cluster whose member's
// disk is stalled without waiting for anyone, unmounts every disk and
// leaves the data where it was.
func TestHealAndCloseReleaseStalledDisks(t *testing.T) {
	t.Parallel()
	c := startStallCluster(t, 1)
	cl, err := c.NewClient(1)
	require.NoError(t, err)
	require.NoError(t, c.StallDisk(1))
	require.Error(t, put(cl, "k", "v", 500*time.Millisecond))
	require.NoError(t, c.Heal())
	require.False(t, c.DiskStalled(1))
	require.NoError(t, put(cl, "k", "v", 5*time.Second))

	require.NoError(t, c.StallDisk(1))
	require.Error(t, put(cl, "k2", "v", 500*time.Millisecond))
	dir := c.DataDir(1)
	start := time.Now()
	require.NoError(t, c.Close())
	require.Less(t, time.Since(start), 10*time.Second)
	ok, err := mountinfo.Mounted(dir)
	require.NoError(t, err)
	require.False(t, ok, "a disk is still mounted")
	require.DirExists(t, filepath.Join(dir, "member", "wal"), "the member's data is in its data directory")
	require.FileExists(t, filepath.Join(dir, LogFile))
	require.ErrorIs(t, c.StallDisk(1), ErrClosed)
}

// Without stallable disks, or with embedded members, StallDisk says it is
// not supported.
func TestStallDiskNeedsStallableDisks(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Members: 1})
	require.ErrorIs(t, c.CanStallDisks(), ErrNotSupported)
	require.ErrorIs(t, c.StallDisk(1), ErrNotSupported)
	require.False(t, c.DiskStalled(1))
	_, err := Start(context.Background(), Config{Members: 1, StallableDisks: true})
	require.ErrorContains(t, err, "stallable disks need process mode")
}

// A harness killed while a member's disk is stalled takes its members with
// it, and leaves a dead mount that the next start unmounts with the run's
// data directory. It sets TMPDIR, so it does not run in parallel.
func TestKilledHarnessLeavesNoDisk(t *testing.T) {
	bin := etcdForTest(t)
	startStallCluster(t, 1).Close() // skips without FUSE
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cmd := runHelper(t, "hang-stalled", "", bin)
	require.Len(t, etcdProcessesOf(tmp), 1)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return len(etcdProcessesOf(tmp)) == 0 },
		10*time.Second, 20*time.Millisecond, "a member outlived the killed harness")
	left, err := mountinfo.GetMounts(mountinfo.PrefixFilter(tmp))
	require.NoError(t, err)
	require.Len(t, left, 1, "the killed harness's disk is still in the mount table")

	own := filepath.Base(filepath.Dir(startCluster(t, Config{Members: 1}).DataDir(1)))
	left, err = mountinfo.GetMounts(mountinfo.PrefixFilter(tmp))
	require.NoError(t, err)
	require.Empty(t, left, "a start leaves the dead mount of a killed run")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), dataDirPrefix) && e.Name() != own,
			"the killed run's data directory %s is still there", e.Name())
	}
}
