package reports

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

func TestTicksAreNice(t *testing.T) {
	vals, step := ticks(0, 97, 10)
	assert.Equal(t, 10.0, step)
	assert.Equal(t, []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, vals)
	_, step = ticks(0, 3.2, 12)
	assert.Equal(t, 0.5, step)
	assert.Equal(t, "1.5", formatTick(1.5, 0.5))
	assert.Equal(t, "20", formatTick(20, 10))
	assert.Equal(t, 2.0, niceStep(13, 10))
}

func TestFmtDur(t *testing.T) {
	assert.Equal(t, "2.50 ms", fmtDur(2500*time.Microsecond))
	assert.Equal(t, "150 ms", fmtDur(150*time.Millisecond))
	assert.Equal(t, "1.00 s", fmtDur(time.Second))
	assert.Equal(t, "10.0 µs", fmtDur(10*time.Microsecond))
}

func TestBucketWidth(t *testing.T) {
	assert.Equal(t, time.Second, bucketWidth(int64(30*time.Second)))
	assert.Equal(t, 5*time.Second, bucketWidth(int64(15*time.Minute)))
	assert.Equal(t, 200*time.Millisecond, bucketWidth(int64(5*time.Second)))
}

func TestRatesCountCompletionsPerSecond(t *testing.T) {
	ops := []history.Operation{
		{Outcome: history.Ok, Call: 0, Return: int64(100 * time.Millisecond), Completed: int64(100 * time.Millisecond)},
		{Outcome: history.Ok, Call: 0, Return: int64(900 * time.Millisecond), Completed: int64(900 * time.Millisecond)},
		{Outcome: history.Info, Call: 0, Return: history.Never, Completed: int64(1500 * time.Millisecond)},
		{Outcome: history.Pending, Call: 0, Return: history.Never},
	}
	r := rates(ops, int64(2*time.Second), time.Second)
	assert.Equal(t, []float64{2, 0}, r[history.Ok])
	assert.Equal(t, []float64{0, 1}, r[history.Info])
}

// A short last bucket joins the one before it instead of reading as a burst.
func TestRatesFoldAShortLastBucket(t *testing.T) {
	ops := []history.Operation{
		{Outcome: history.Ok, Completed: int64(1500 * time.Millisecond)},
		{Outcome: history.Ok, Completed: int64(2100 * time.Millisecond)},
		{Outcome: history.Ok, Completed: int64(2150 * time.Millisecond)},
	}
	r := rates(ops, int64(2200*time.Millisecond), time.Second)
	require.Len(t, r[history.Ok], 2)
	assert.InDelta(t, 3/1.2, r[history.Ok][1], 1e-9)
	r = rates(ops, int64(2700*time.Millisecond), time.Second)
	require.Len(t, r[history.Ok], 3)
	assert.InDelta(t, 2/0.7, r[history.Ok][2], 1e-9)
}

func TestLatencyPlotPutsInfoInTheTopBand(t *testing.T) {
	ops := []history.Operation{
		{ID: 1, F: history.FLock, Outcome: history.Ok, Call: 0, Return: int64(5 * time.Millisecond)},
		{ID: 2, F: history.FLock, Outcome: history.Info, Call: int64(time.Second), Return: history.Never},
	}
	svg, note := latencyPlot(ops, nil, newTimeAxis(int64(2*time.Second)))
	assert.Empty(t, note)
	assert.Contains(t, svg, `data-f="lock" data-o="ok"`)
	assert.Contains(t, svg, `data-f="lock" data-o="info"`)
	// The info point is drawn inside the band at the top.
	i := strings.Index(svg, `data-o="info"`)
	require.Positive(t, i)
	d := svg[i:]
	d = d[strings.Index(d, `d="M`)+4:]
	var x, y float64
	_, err := fmt.Sscanf(d, "%g %g", &x, &y)
	require.NoError(t, err)
	assert.InDelta(t, latTop+infoBand/2, y, infoBand/2)
	assert.InDelta(t, (plotLeft+plotRight)/2, x, 1)
}

func TestTimelineOneLanePerKindAndOverlapsStacked(t *testing.T) {
	ta := newTimeAxis(int64(10 * time.Second))
	s := int64(time.Second)
	faults := []history.Fault{
		{Kind: "partition", Start: 1 * s, End: 3 * s, Ended: true},
		{Kind: "partition", Start: 5 * s, End: 6 * s, Ended: true},
		{Kind: "pause-client", Target: 1, Start: 2 * s, End: 4 * s, Ended: true},
		{Kind: "pause-client", Target: 2, Start: 3 * s, End: history.Never},
		{Kind: "move-leader", Start: 7 * s, End: 7 * s},
	}
	kinds, _ := faultPalette(faults)
	lanes := packLanes(kinds, faults, ta)
	require.Len(t, lanes, 4)
	assert.Len(t, lanes[0].faults, 2, "non-overlapping partitions share a lane")
	assert.Equal(t, "pause-client", lanes[1].kind)
	assert.Equal(t, "pause-client", lanes[2].kind)
	svg := timelinePlot(faults, ta)
	assert.Equal(t, 1, strings.Count(svg, `class="lane">pause-client<`), "a kind is labelled once")
	assert.Contains(t, svg, "still active at the end")
	assert.Contains(t, svg, "client 1")
}

func TestDownsampleMergesPointsPerCell(t *testing.T) {
	pts := [][2]float64{{0.1, 0.1}, {0.5, 1.9}, {1.9, 0.2}, {2.1, 0.1}, {100, 100}}
	assert.Len(t, downsample(pts, 2), 3)
}

func TestDecadeLabels(t *testing.T) {
	assert.Equal(t, "100 µs", decadeLabel(5))
	assert.Equal(t, "1 ms", decadeLabel(6))
	assert.Equal(t, "10 s", decadeLabel(10))
	assert.Equal(t, "1000 s", decadeLabel(12))
}

func TestTicksHaveNoNegativeZero(t *testing.T) {
	vals, step := ticks(0, 27, 12)
	assert.Equal(t, "0", formatTick(vals[0], step))
}

func TestLegendWrapsAndPushesThePlotDown(t *testing.T) {
	var many []legendItem
	for i := 0; i < 30; i++ {
		many = append(many, legendItem{key: "f", val: "x", label: "a-long-legend-label", swatch: lineSwatch("#000")})
	}
	_, rows := legendMarkup(many[:2])
	assert.Equal(t, 1, rows)
	_, rows = legendMarkup(many[:2], many[:2])
	assert.Equal(t, 2, rows, "each block starts a row")
	_, rows = legendMarkup(many)
	assert.Greater(t, rows, 4, "a long block wraps")

	var s svgBuilder
	s.openWithLegend("p", "p", 100, 1, many)
	s.closeShifted()
	assert.Contains(t, s.String(), `<g transform="translate(0 `+num(float64(rows-1)*legendRow)+`)">`)
	assert.NotContains(t, s.String(), `viewBox="0 0 1100 100"`, "the plot grew")
}
