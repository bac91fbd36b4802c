package workloads

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnfencedZeroMeansNone: Unfenced is a plain fraction, as in
// faults.Scenario: the zero value fences every write, 1 fences none, and
// anything outside [0, 1] is refused.
func TestUnfencedZeroMeansNone(t *testing.T) {
	for _, tc := range []struct {
		unfenced float64
		fenced   bool
	}{{0, true}, {1, false}} {
		plan, err := Plan(Config{Kind: KindLock, Seed: 1, Unfenced: tc.unfenced}, 1, 100)
		require.NoError(t, err)
		for _, in := range plan {
			for _, fenced := range in.Fenced {
				require.Equal(t, tc.fenced, fenced, "unfenced %v", tc.unfenced)
			}
		}
	}
	for _, bad := range []float64{-1, -0.1, 1.5} {
		_, err := Plan(Config{Kind: KindLock, Unfenced: bad}, 1, 1)
		require.Error(t, err, "unfenced %v", bad)
	}
}

func TestBackendNames(t *testing.T) {
	for _, b := range []Backend{BackendGRPC, BackendConcurrency} {
		require.NoError(t, b.Validate())
	}
	require.ErrorContains(t, Backend("zk").Validate(), `backend "zk" (expected grpc or concurrency)`)
	_, err := New(nil, nil, Config{Kind: KindLock, Backend: "zk"})
	require.ErrorContains(t, err, `backend "zk"`)
}

// The client library version is the one go.mod pins, in the form etcd
// reports its own ("3.7.3").
func TestClientVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`go\.etcd\.io/etcd/client/v3 v(\S+)`).FindSubmatch(mod)
	require.NotNil(t, m, "go.mod requires the client library")
	require.Equal(t, string(m[1]), ClientVersion())
}

// TestLeaseKeysBounds: LeaseKeys is a count from 0 to MaxLeaseKeys.
func TestLeaseKeysBounds(t *testing.T) {
	for _, n := range []int{0, 1, MaxLeaseKeys} {
		_, err := Config{Kind: KindLock, LeaseKeys: n}.withDefaults()
		require.NoError(t, err, "%d keys", n)
	}
	for _, n := range []int{-1, MaxLeaseKeys + 1} {
		_, err := Config{Kind: KindLock, LeaseKeys: n}.withDefaults()
		require.ErrorContains(t, err, "lease keys", "%d keys", n)
	}
}
