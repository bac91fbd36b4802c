//go:build linux

package harness

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/netns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// netnsForTest skips the test unless network namespaces can be created
// (root with CAP_NET_ADMIN and a working `ip netns add`); in CI as root it
// fails instead of skipping.
func netnsForTest(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	name := "ecxprobe" + strings.ReplaceAll(t.Name(), "/", "")
	if err := netns.Probe(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("netns tests must run in CI as root: %v", err)
		}
		t.Skipf("cannot create network namespaces: %v", err)
	}
}

// namespacesWith lists the network namespaces whose name starts with prefix.
func namespacesWith(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	require.NoError(t, err)
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// peerReachable reports whether member from's namespace can open a TCP
// connection to member to's peer port.
func peerReachable(c *Cluster, from, to int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	nn := namespacesOf(c)
	conn, err := nn.Dialer(from)(ctx, net.JoinHostPort(nn.Addr(to), netns.PeerPort))
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// namespacesOf is the namespace network of a NetworkNetns cluster.
func namespacesOf(c *Cluster) *netns.Net { return c.net.(*netnsNetwork).ns }

func TestNetnsPartitionHealCutLink(t *testing.T) {
	t.Parallel()
	netnsForTest(t)
	bin := etcdForTest(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	var prefix string
	t.Cleanup(func() {
		assert.Empty(t, etcdProcessesOf(dir), "etcd processes left behind")
		if prefix != "" {
			assert.Empty(t, namespacesWith(t, prefix+"-"), "namespaces left behind")
		}
	})
	c := startCluster(t, Config{Members: 3, Mode: ModeProcess, Network: NetworkNetns, EtcdBin: bin, DataDir: dir})
	prefix = namespacesOf(c).Prefix()
	require.Len(t, namespacesWith(t, prefix+"-"), 4, "three member namespaces and a hub")
	require.Equal(t, "http://"+net.JoinHostPort(namespacesOf(c).Addr(2), netns.PeerPort), c.PeerURL(2))
	require.ErrorIs(t, c.SetLinkLatency(1, 2, time.Millisecond), ErrNotSupported)
	cls := clientsPerMember(t, c)
	require.NoError(t, put(cls[0], "k1", "v1", 5*time.Second))

	// {1} | {2,3}: the majority elects a leader and commits, member 1 cannot.
	require.NoError(t, c.Partition([]int{1}, []int{2, 3}))
	require.False(t, peerReachable(c, 1, 2))
	require.False(t, peerReachable(c, 3, 1))
	require.True(t, peerReachable(c, 2, 3))
	waitLeaderIn(t, c, 10*time.Second, 2, 3)
	require.Eventually(t, func() bool { return put(cls[1], "k2", "v2", time.Second) == nil },
		10*time.Second, 20*time.Millisecond, "majority does not commit")
	require.Error(t, put(cls[0], "k3", "lost", time.Second), "isolated member 1 committed")

	// Heal: routes are gone and every member converges.
	require.NoError(t, c.Heal())
	require.True(t, peerReachable(c, 1, 2))
	waitConverged(t, c, cls)

	// Cutting one pair leaves the leader and the third member working.
	leader := waitLeaderIn(t, c, 10*time.Second, 1, 2, 3)
	f := others(c, leader)
	require.NoError(t, c.CutLink(leader, f[0]))
	require.Equal(t, [][2]int{{min(leader, f[0]), max(leader, f[0])}}, c.CutLinks())
	require.False(t, peerReachable(c, leader, f[0]))
	require.False(t, peerReachable(c, f[0], leader))
	require.True(t, peerReachable(c, leader, f[1]))
	require.True(t, peerReachable(c, f[0], f[1]))
	require.Eventually(t, func() bool {
		return put(cls[leader-1], "k4", "v4", time.Second) == nil && put(cls[f[1]-1], "k5", "v5", time.Second) == nil
	}, 10*time.Second, 20*time.Millisecond, "leader and third member do not commit")
}

// TestNetnsFailedStartLeavesNoNamespace: a start that fails after the
// namespaces were created (the "etcd" exits at once) deletes them all.
func TestNetnsFailedStartLeavesNoNamespace(t *testing.T) {
	t.Parallel()
	netnsForTest(t)
	dir := t.TempDir()
	record := filepath.Join(dir, "ns")
	bin := filepath.Join(dir, "fake-etcd")
	script := "#!/bin/sh\nip netns identify $$ >> " + record + "\nexit 1\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o700))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	logger := zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))
	c, err := Start(ctx, Config{Members: 3, Mode: ModeProcess, Network: NetworkNetns, EtcdBin: bin,
		DataDir: filepath.Join(dir, "cluster"), Logger: logger})
	require.Error(t, err)
	require.Nil(t, c)
	data, err := os.ReadFile(record)
	require.NoError(t, err, "the fake etcd never ran")
	names := strings.Fields(string(data))
	require.NotEmpty(t, names)
	prefix, _, ok := strings.Cut(names[0], "-m")
	require.True(t, ok, "member namespace %q", names[0])
	require.Empty(t, namespacesWith(t, prefix+"-"))
}

func TestNetnsNeedsProcessMode(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Config{Members: 1, Network: NetworkNetns})
	require.ErrorContains(t, err, "network netns needs process mode")
	_, err = Start(context.Background(), Config{Members: 1, Mode: ModeProcess, Network: "vlan"})
	require.ErrorContains(t, err, `invalid config: network "vlan"`)
}
