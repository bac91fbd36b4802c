package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Throughput plot geometry.
const (
	tpTop     = legendRow + 6
	tpAreaBot = tpTop + 190
	tpHeight  = tpAreaBot + 42
	// maxBuckets bounds the number of points per throughput line.
	maxBuckets = 200
)

var bucketWidths = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
}

// bucketWidth picks the rate's averaging window: one second when that gives
// at most maxBuckets points, finer for short runs (at least ~20 buckets),
// coarser for long ones.
func bucketWidth(end int64) time.Duration {
	span := time.Duration(end)
	for _, w := range bucketWidths {
		if span/w > maxBuckets {
			continue
		}
		if w < time.Second && span/w > 40 {
			continue
		}
		return w
	}
	return bucketWidths[len(bucketWidths)-1]
}

// completion is when an operation's outcome became known, or -1 if never.
func completion(op history.Operation) int64 {
	if op.Outcome == history.Pending {
		return -1
	}
	return op.Completed
}

// rates counts completions per outcome per bucket and turns them into
// operations per second, each bucket over its real width. A last partial
// bucket shorter than half a window joins the one before it, so a few
// operations at the very end do not read as a burst.
func rates(ops []history.Operation, end int64, w time.Duration) map[history.Outcome][]float64 {
	n := int(end/int64(w)) + 1
	if n > 1 && end-int64(n-1)*int64(w) < int64(w)/2 {
		n--
	}
	counts := map[history.Outcome][]float64{}
	for _, o := range outcomeOrder {
		counts[o] = make([]float64, n)
	}
	for _, op := range ops {
		t := completion(op)
		if t < 0 {
			continue
		}
		counts[outcomeOf(op)][min(int(t/int64(w)), n-1)]++
	}
	for _, c := range counts {
		for i := range c {
			width := int64(w)
			if i == n-1 {
				width = end - int64(i)*int64(w)
			}
			if width <= 0 {
				width = int64(w)
			}
			c[i] /= float64(width) / 1e9
		}
	}
	return counts
}

// throughputPlot draws completed operations per second per outcome.
func throughputPlot(ops []history.Operation, faults []history.Fault, ta timeAxis) string {
	w := bucketWidth(ta.end)
	r := rates(ops, ta.end, w)
	peak := 1.0
	for _, c := range r {
		for _, v := range c {
			peak = math.Max(peak, v)
		}
	}
	yvals, ystep := ticks(0, peak, 5)
	top := yvals[len(yvals)-1]
	if top < peak {
		top += ystep
		yvals = append(yvals, top)
	}
	y := func(v float64) float64 { return tpAreaBot - (tpAreaBot-tpTop)*v/top }
	kinds, colors := faultPalette(faults)

	items := make([]legendItem, 0, len(outcomeOrder)+len(kinds))
	for _, o := range outcomeOrder {
		items = append(items, legendItem{key: "o", val: string(o), label: string(o), swatch: lineSwatch(outcomeColors[o])})
	}
	var s svgBuilder
	s.openWithLegend("plot-throughput", "completed operations per second over time", tpHeight, 1,
		append(items, faultLegend(kinds, colors)...))
	s.drawFaultShading(ta, faults, colors, tpTop, tpAreaBot)
	s.printf(`<g class="grid">`)
	for _, v := range yvals {
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(y(v)), num(plotRight), num(y(v)), gridColor)
	}
	s.printf(`</g><g class="axis">`)
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(tpTop), num(plotLeft), num(tpAreaBot), axisColor)
	for _, v := range yvals {
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft-4), num(y(v)), num(plotLeft), num(y(v)), axisColor)
		s.text(plotLeft-7, y(v)+4, "end", "tick", formatTick(v, ystep))
	}
	s.printf(`<text class="title" transform="translate(%s %s) rotate(-90)" text-anchor="middle">ops/s (%s window)</text>`,
		num(plotLeft-62), num((tpTop+tpAreaBot)/2), esc(w.String()))
	s.printf(`</g>`)
	s.drawTimeAxis(ta, tpTop, tpAreaBot, true)
	s.printf(`<g class="lines">`)
	for _, o := range outcomeOrder {
		b := make([]byte, 0, len(r[o])*12)
		for i, v := range r[o] {
			mid := min(int64(i)*int64(w)+int64(w)/2, ta.end)
			cmd := byte('L')
			if i == 0 {
				cmd = 'M'
			}
			b = pt(b, cmd, ta.x(mid), y(v))
		}
		s.printf(`<path class="series" data-o="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round" d="%s"/>`,
			esc(string(o)), outcomeColors[o], b)
	}
	s.printf(`</g>`)
	s.closeShifted()
	return s.String()
}

// Fault timeline geometry.
const (
	laneHeight = 18.0
	laneGap    = 5.0
	tlTop      = 8.0
)

// lane is one row of the fault timeline: a fault kind, and the faults of
// that kind packed so that overlapping ones go on separate rows.
type lane struct {
	kind   string
	faults []history.Fault
}

func packLanes(kinds []string, faults []history.Fault, ta timeAxis) []lane {
	var lanes []lane
	for _, k := range kinds {
		var rows []lane
		var ends []float64
		for _, f := range faults {
			if f.Kind != k {
				continue
			}
			x0 := ta.x(f.Start)
			placed := false
			for i := range rows {
				if ends[i]+2 <= x0 {
					rows[i].faults = append(rows[i].faults, f)
					ends[i] = math.Max(ta.x(faultEnd(f, ta)), x0+4)
					placed = true
					break
				}
			}
			if !placed {
				rows = append(rows, lane{kind: k, faults: []history.Fault{f}})
				ends = append(ends, math.Max(ta.x(faultEnd(f, ta)), x0+4))
			}
		}
		lanes = append(lanes, rows...)
	}
	return lanes
}

// timelinePlot draws each fault as a bar over the run's time axis, one
// lane per fault kind (more when faults of a kind overlap).
func timelinePlot(faults []history.Fault, ta timeAxis) string {
	kinds, colors := faultPalette(faults)
	lanes := packLanes(kinds, faults, ta)
	bottom := tlTop + float64(max(len(lanes), 1))*(laneHeight+laneGap)
	var s svgBuilder
	s.open("plot-faults", "fault timeline", bottom+42)
	s.drawTimeAxis(ta, tlTop, bottom, true)
	if len(lanes) == 0 {
		s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="#f5f6f8"/>`, num(plotLeft), num(tlTop+laneGap/2), num(plotRight-plotLeft), num(laneHeight))
		s.text((plotLeft+plotRight)/2, tlTop+laneHeight-4, "middle", "empty", "no faults were injected")
	}
	for i, l := range lanes {
		y := tlTop + float64(i)*(laneHeight+laneGap) + laneGap/2
		s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="#f5f6f8"/>`, num(plotLeft), num(y), num(plotRight-plotLeft), num(laneHeight))
		if i == 0 || lanes[i-1].kind != l.kind {
			s.text(plotLeft-8, y+laneHeight/2+4, "end", "lane", l.kind)
		}
		for _, f := range l.faults {
			s.drawFaultBar(f, ta, y, colors[f.Kind])
		}
	}
	s.close()
	return s.String()
}

func (s *svgBuilder) drawFaultBar(f history.Fault, ta timeAxis, y float64, color string) {
	x0, x1 := ta.x(f.Start), ta.x(faultEnd(f, ta))
	title := esc(faultTitle(f))
	if oneShot(f) {
		s.printf(`<path class="bar" d="M%s %sl4 %s-4 %s-4-%sz" fill="%s"><title>%s</title></path>`,
			num(x0), num(y), num(laneHeight/2), num(laneHeight/2), num(laneHeight/2), color, title)
		return
	}
	w := math.Max(x1-x0, 2)
	s.printf(`<rect class="bar" x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s" fill-opacity="0.85"><title>%s</title></rect>`,
		num(x0), num(y), num(w), num(laneHeight), color, title)
	if f.End == history.Never {
		s.printf(`<path d="M%s %sl6 %s-6 %sz" fill="%s"/>`, num(x0+w), num(y), num(laneHeight/2), num(laneHeight/2), color)
	}
	label := f.Detail
	if label == "" && f.Member > 0 {
		label = fmt.Sprintf("member %d", f.Member)
	}
	if label == "" && f.Target > 0 {
		label = fmt.Sprintf("client %d", f.Target)
	}
	if label != "" && float64(len(label))*charWidth*0.92+8 < w {
		s.printf(`<text x="%s" y="%s" class="barlabel">%s</text>`, num(x0+4), num(y+laneHeight/2+4), esc(label))
	}
}
