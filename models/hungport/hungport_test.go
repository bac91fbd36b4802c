package hungport

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// Two hangs of 4 s with 2 s leases. During the first, the leader's, client
// 1 learns its lease is lost, and client 2 learns of its own 1.5 s after
// the hang ended (within a TTL): both count, client 1's lease once though
// it is recorded again; client 5's revoke found its lease gone, so it was
// lost, not revoked. Client 3's revoke had no answer (it may have ended
// the lease), and client 4's loss comes 3 s after the hang: neither
// counts. The second hang costs nothing.
func TestLeasesLostDuringHungPorts(t *testing.T) {
	h, err := history.ReadFile(filepath.Join("testdata", "leases-lost-during-hangs.jsonl"))
	require.NoError(t, err)
	got := Find(h, h.Operations())
	require.NotNil(t, got)
	assert.Equal(t, &models.HungPortLeases{Faults: 2, WithLoss: 1, Lost: []models.LostLease{
		{Client: 1, Lease: 100, LastAlive: 900_000_000, At: 3_000_000_000, Member: 2, Leader: true},
		{Client: 5, Lease: 500, LastAlive: 1_200_000_000, At: 4_100_000_000, Member: 2, Leader: true},
		{Client: 2, Lease: 200, LastAlive: 4_400_000_000, At: 6_500_000_000, Member: 2, Leader: true},
	}}, got)

	// Clients of one member each: a client stuck on the hung member is
	// expected to lose its lease, which is not what is measured.
	h.Header.EveryEndpoint = false
	assert.Nil(t, Find(h, h.Operations()))
}
