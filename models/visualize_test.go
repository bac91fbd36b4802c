package models

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

func TestWriteVisualizationWithFaults(t *testing.T) {
	h := readTestdata(t, "unsafe-unfenced-pause")
	res, err := Check(context.Background(), h, Options{Visualize: true})
	require.NoError(t, err)
	c, ok := findCheck(res, CheckUnfenced)
	require.True(t, ok)
	require.NotNil(t, c.Info, "Visualize keeps porcupine's linearization info")

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
	data := generate(genConfig{seed: 5, names: 1, clients: 5, ops: 9000})
	h, err := history.Read(bytes.NewReader(data), "generated")
	require.NoError(t, err)
	res, err := Check(context.Background(), h, Options{Timeout: 20 * time.Second})
	require.NoError(t, err)
	c, ok := findCheck(res, CheckFenced)
	require.True(t, ok)
	require.Greater(t, c.Ops, VisualizeLimit)
	require.Nil(t, c.Info, "no info without Visualize: the visualization computes its own")

	var b bytes.Buffer
	require.NoError(t, WriteVisualization(&b, c, []history.Fault{{Kind: "partition", Start: 1, End: history.Never}}))
	assert.Contains(t, b.String(), `"Tag":"note"`)
	assert.Contains(t, b.String(), "showing operations 1 to 5000 of")
}

func TestWriteVisualizationObserveHasNone(t *testing.T) {
	res, err := Check(context.Background(), readTestdata(t, "legal-observe-handover"), Options{Visualize: true})
	require.NoError(t, err)
	c, _ := findCheck(res, CheckObserve)
	assert.ErrorIs(t, WriteVisualization(&bytes.Buffer{}, c, nil), ErrNoVisualization)
}
