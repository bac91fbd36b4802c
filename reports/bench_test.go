package reports

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxIndexBytes is the bound on index.html for a 100k-operation history.
const maxIndexBytes = 2 << 20

func TestIndexOf100kOperationsStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 100k-operation history")
	}
	h := genHistory(100_000, 11)
	dir := t.TempDir()
	require.NoError(t, Write(dir, h, violatingResult(h), Meta{}))
	fi, err := os.Stat(filepath.Join(dir, IndexFile))
	require.NoError(t, err)
	assert.Less(t, fi.Size(), int64(maxIndexBytes), "index.html is %d bytes", fi.Size())
	html := readFile(t, filepath.Join(dir, IndexFile))
	assertHas(t, html, "operations drawn as", "the latency plot says it merged points")
}

// BenchmarkReport100k writes the report of a 100k-operation history with
// faults; the target is < 5 s per report and index.html < 2 MB.
func BenchmarkReport100k(b *testing.B) {
	h := genHistory(100_000, 12)
	res := violatingResult(h)
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if err := Write(dir, h, res, Meta{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, err := os.Stat(filepath.Join(dir, IndexFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "index-bytes")
	b.ReportMetric(float64(len(h.Operations())), "ops")
}
