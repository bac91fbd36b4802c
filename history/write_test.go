package history

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// Write must reproduce what the recorder wrote, byte for byte.
func TestWriteRoundTrip(t *testing.T) {
	var rec bytes.Buffer
	r, err := New(&rec, Header{Scenario: "w", Seed: 3, Members: 3})
	require.NoError(t, err)
	op, err := r.Invoke(1, FLock, "l0", &Value{Lease: 7})
	require.NoError(t, err)
	_, err = r.Fault(FaultEvent{Fault: "partition", Phase: PhaseStart, Detail: "{1} | {2,3}"})
	require.NoError(t, err)
	require.NoError(t, r.Ok(op, &Value{Key: "l0/7", Rev: 3, Lease: 7}))
	_, err = r.Invoke(2, FWrite, "l0", &Value{Key: "l0/7", Rev: 3, Fenced: Bool(true), Data: "a\"\n"})
	require.NoError(t, err)
	require.NoError(t, r.Close())

	h, err := Read(bytes.NewReader(rec.Bytes()), "rec")
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Write(&out, h))
	require.Equal(t, rec.String(), out.String())

	h2, err := Read(&out, "out")
	require.NoError(t, err)
	require.Equal(t, h.Events, h2.Events)
	require.Equal(t, h.Header, h2.Header)
}

func TestWriteFillsHeaderType(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Write(&out, &History{Header: Header{Scenario: "x"}}))
	h, err := Read(&out, "out")
	require.NoError(t, err)
	require.Equal(t, "x", h.Header.Scenario)
	require.Empty(t, h.Events)
}
