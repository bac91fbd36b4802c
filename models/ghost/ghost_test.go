package ghost

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

func find(t *testing.T, name string) []ghostView {
	t.Helper()
	h, err := history.ReadFile(filepath.Join("testdata", name+".jsonl"))
	require.NoError(t, err)
	var out []ghostView
	for _, g := range Find(truth.Build(h), h.Operations()) {
		out = append(out, ghostView{g.Op, g.Key, g.OwnerRev, g.Span(), g.Ended, g.Compacted})
	}
	return out
}

type ghostView struct {
	op        int64
	key       string
	owner     int64
	span      time.Duration
	ended     string
	compacted bool
}

func TestGhostLeaders(t *testing.T) {
	// A campaign that returned a compaction error while it waited left its
	// key: it led from the older key's resign until its lease expired.
	assert.Equal(t, []ghostView{{2, "/x/election/e0/c8", 12, 2995 * time.Millisecond, "deleted at revision 13", true}},
		find(t, "compacted-campaign-left-its-key"))
	// Its client campaigned again with the same lease, found its key and
	// led knowingly from then on.
	assert.Equal(t, []ghostView{{2, "/x/election/e0/c8", 12, 505 * time.Millisecond, "claimed by op 4", true}},
		find(t, "ghost-claimed-by-next-campaign"))
	// A key that went before every older key never led: no ghost.
	assert.Empty(t, find(t, "gave-up-key-never-led"))
}
