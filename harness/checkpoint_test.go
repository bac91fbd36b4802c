package harness

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness/internal/procmember"
)

// Each release line is given the flags it knows: 3.5 the experimental
// ones, 3.6 and later the feature gates (3.7 refuses the experimental
// flags, so a wrong choice would not start).
func TestLeaseCheckpointFlags(t *testing.T) {
	experimental := []string{"--experimental-enable-lease-checkpoint=true", "--experimental-enable-lease-checkpoint-persist=true"}
	gates := []string{"--feature-gates=LeaseCheckpoint=true,LeaseCheckpointPersist=true"}
	for version, want := range map[string][]string{
		"3.5.0": experimental, "3.5.22": experimental, "v3.5.23": experimental,
		"3.6.0": gates, "3.6.17": gates, "3.7.4": gates,
	} {
		got, err := procmember.LeaseCheckpointFlags(version)
		require.NoError(t, err, version)
		assert.Equal(t, want, got, version)
	}
	for _, bad := range []string{"", "3", "x.y.z", "4.0.0"} {
		_, err := procmember.LeaseCheckpointFlags(bad)
		assert.Error(t, err, "%q", bad)
	}
	_, err := (Config{Mode: ModeExternal, Endpoints: []string{"127.0.0.1:2379"}, LeaseCheckpoint: true}).withDefaults()
	assert.ErrorContains(t, err, "lease checkpoints")
}

// A cluster started with LeaseCheckpoint runs with both features on, as
// the members themselves report them (etcd_server_feature_enabled), as
// processes and embedded; without it, with both off.
func TestLeaseCheckpointReachesTheMembers(t *testing.T) {
	for _, tc := range []struct {
		mode string
		on   bool
	}{{ModeProcess, true}, {ModeEmbedded, true}, {ModeEmbedded, false}} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := Config{Members: 1, Mode: tc.mode, LeaseCheckpoint: tc.on}
			if tc.mode == ModeProcess {
				cfg.EtcdBin = etcdForTest(t)
			}
			c := startCluster(t, cfg)
			metrics := fetchMetrics(t, c.Endpoints()[0])
			want := "0"
			if tc.on {
				want = "1"
			}
			for _, gate := range []string{"LeaseCheckpoint", "LeaseCheckpointPersist"} {
				assert.Contains(t, metrics, `etcd_server_feature_enabled{name="`+gate+`",stage="ALPHA"} `+want, gate)
			}
		})
	}
}

// fetchMetrics reads a member's /metrics through its front door.
func fetchMetrics(t *testing.T, endpoint string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/metrics", nil)
	require.NoError(t, err)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}
