package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunClusterFlagsUsage(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "mixed", "--endpoints", "127.0.0.1:1"}, "injects cluster faults (isolate-leader"},
		{[]string{"--scenario", "lock-kill", "--endpoints", "127.0.0.1:1"}, "need an embedded or process cluster"},
		{[]string{"--mode", "vm"}, `--mode "vm"`},
		{[]string{"--mode", "process", "--endpoints", "127.0.0.1:1"}, "does not go with --mode process"},
		{[]string{"--etcd-bin", "/bin/true"}, "--etcd-bin needs --mode process"},
		{[]string{"--lease-checkpoint", "--endpoints", "127.0.0.1:1"}, "--lease-checkpoint sets the members"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run", "--duration", "1s", "--out", out}, tc.args...), &stdout, &stderr)
		require.Equal(t, exitUsage, code, "%v: %s", tc.args, stderr.String())
		require.Contains(t, stderr.String(), tc.want, "%v", tc.args)
	}
}

func TestClusterFlagsReproduce(t *testing.T) {
	t.Parallel()
	f, _, err := parseRunFlags([]string{"--mode", "process", "--etcd-bin", "/opt/etcd"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Contains(t, f.reproCommand(), "--mode process --etcd-bin /opt/etcd")
	o := f.options(&bytes.Buffer{})
	require.Equal(t, "process", o.Mode)
	require.Equal(t, "/opt/etcd", o.EtcdBin)

	f, _, err = parseRunFlags([]string{"--mode", "process", "--lease-checkpoint"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Contains(t, f.reproCommand(), "--mode process --lease-checkpoint")
	require.True(t, f.options(&bytes.Buffer{}).LeaseCheckpoint)

	f, _, err = parseRunFlags([]string{"--endpoints", "http://127.0.0.1:2379, 127.0.0.1:22379"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, []string{"http://127.0.0.1:2379", "127.0.0.1:22379"}, f.options(&bytes.Buffer{}).Endpoints)
}
