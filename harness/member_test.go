package harness

import (
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestPortClashIsDetected checks that a member whose picked port was taken
// meanwhile fails with EADDRINUSE, which the runner retries with new ports,
// and that etcd's report of it is not logged as an error.
func TestPortClashIsDetected(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	free, err := member.FreePorts(1)
	require.NoError(t, err)
	spec := &member.Spec{
		Index:          1,
		Name:           "m1",
		Dir:            filepath.Join(t.TempDir(), "m1"),
		PeerURL:        "http://" + taken.Addr().String(),
		ClientURL:      "http://" + free[0],
		InitialCluster: "m1=http://" + taken.Addr().String(),
		Token:          "clash",
		TickMs:         defaultTickMs,
		ElectionMs:     defaultElectionMs,
	}
	core, logs := observer.New(zapcore.WarnLevel)
	spec.Logger = zap.New(core)
	_, err = startEmbedded(spec, taken.Addr().String(), free[0])
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.EADDRINUSE), "got %v", err)
	require.Empty(t, logs.FilterLevelExact(zapcore.ErrorLevel).All())
	require.NotEmpty(t, logs.FilterMessage("creating peer listener failed").All())
}
