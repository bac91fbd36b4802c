package linear

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/gen"
)

func TestWriteVisualizationWithFaults(t *testing.T) {
	h := readTestdata(t, "unsafe-unfenced-pause")
	c, ok := findCheck(check(t, h, Options{Visualize: true}), models.CheckUnfenced)
	require.True(t, ok)
	require.NotNil(t, c.Porcupine.Info, "Visualize keeps porcupine's linearization info")

	var b bytes.Buffer
	require.NoError(t, WriteVisualization(&b, c, h.Faults()))
	page := b.String()
	assert.Contains(t, page, `"Tag":"faults"`)
	assert.Contains(t, page, `"Description":"pause-client"`)
	assert.Contains(t, page, `"Tag":"violation"`)
	assert.NotContains(t, page, `"Tag":"note"`, "a small check is shown whole")

	// Writing twice does not pile up annotations on the shared info.
	var again bytes.Buffer
	require.NoError(t, WriteVisualization(&again, c, h.Faults()))
	assert.Equal(t, b.Len(), again.Len())
}

func TestWriteVisualizationWindow(t *testing.T) {
	data := gen.Generate(gen.Config{Seed: 5, Names: 1, Clients: 5, Ops: 9000})
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(t, err)
	c, ok := findCheck(check(t, h, Options{Timeout: 20 * time.Second}), models.CheckFenced)
	require.True(t, ok)
	require.Greater(t, c.Ops, VisualizeLimit)
	require.Nil(t, c.Porcupine.Info, "no info without Visualize: the visualization computes its own")

	var b bytes.Buffer
	require.NoError(t, WriteVisualization(&b, c, []history.Fault{{Kind: "partition", Start: 1, End: history.Never}}))
	assert.Contains(t, b.String(), `"Tag":"note"`)
	assert.Contains(t, b.String(), "showing operations 1 to 5000 of")
}

func TestWriteVisualizationObserveHasNone(t *testing.T) {
	c, _ := findCheck(check(t, readTestdata(t, "legal-observe-handover"), Options{Visualize: true}), models.CheckObserve)
	assert.ErrorIs(t, WriteVisualization(&bytes.Buffer{}, c, nil), ErrNoVisualization)
}
