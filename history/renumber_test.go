package history

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Renumber numbers ops and clients from 1 in order of appearance, fault
// targets included; a completion (which names only its op) follows its
// invoke.
func TestRenumber(t *testing.T) {
	h := &History{Events: []Event{
		{Type: TypeInvoke, Op: 40, Client: 7, F: FLock, Name: "l0", Time: 1},
		{Type: TypeInvoke, Op: 12, Client: 3, F: FLock, Name: "l0", Time: 2},
		{Type: TypeFault, Fault: "pause-client", Phase: PhaseStart, Target: 3, Time: 3},
		{Type: TypeOk, Op: 12, Time: 4},
		{Type: TypeFault, Fault: "pause-client", Phase: PhaseEnd, Target: 9, Time: 5},
		{Type: TypeInfo, Op: 40, Time: 6},
		{Type: TypeFault, Fault: "partition", Phase: PhaseStart, Time: 7},
	}}
	Renumber(h)
	var got [][3]int64
	for _, e := range h.Events {
		got = append(got, [3]int64{e.Op, int64(e.Client), int64(e.Target)})
	}
	assert.Equal(t, [][3]int64{{1, 1, 0}, {2, 2, 0}, {0, 0, 2}, {2, 0, 0}, {0, 0, 3}, {1, 0, 0}, {0, 0, 0}}, got)

	// The result is still a well-formed history.
	var b bytes.Buffer
	require.NoError(t, Write(&b, h))
	back, err := Read(&b, "renumbered")
	require.NoError(t, err)
	assert.Len(t, back.Operations(), 2)
}
