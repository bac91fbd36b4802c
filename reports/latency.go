package reports

import (
	"fmt"
	"math"
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
)

// Latency plot geometry.
const (
	latTop      = 2 * legendRow // two legend rows above
	infoBand    = 16.0          // band at the top for operations that never returned
	latAreaTop  = latTop + infoBand + 8
	latAreaBot  = latAreaTop + 250
	latHeight   = latAreaBot + 42
	maxPoints   = 20000 // above this, points are merged per 2-unit cell
	downsampleQ = 2.0
)

// outcomeColors colour operations by outcome on every plot.
var outcomeColors = map[history.Outcome]string{
	history.Ok:      "#2f6fbd",
	history.Fail:    "#d7322d",
	history.Info:    "#f0a202",
	history.Pending: "#f0a202",
}

var outcomeOrder = []history.Outcome{history.Ok, history.Fail, history.Info}

// outcomeOf folds pending into info: both never returned.
func outcomeOf(op history.Operation) history.Outcome {
	if op.Outcome == history.Pending {
		return history.Info
	}
	return op.Outcome
}

// shape draws one marker into a path's d attribute; filled shapes are
// drawn with fill, the others with stroke.
type shape struct {
	name   string
	filled bool
	width  float64 // stroke width for stroked shapes
	cap    string
	draw   func(b []byte, x, y float64) []byte
}

func pt(b []byte, cmd byte, x, y float64) []byte {
	b = append(b, cmd)
	b = appendNum(b, x)
	b = append(b, ' ')
	return appendNum(b, y)
}

var (
	shapeCircle = shape{"circle", false, 5, "round", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x, y), "h0"...)
	}}
	shapeSquare = shape{"square", false, 4.4, "square", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x, y), "h0"...)
	}}
	shapeTriangle = shape{"triangle", true, 0, "", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x, y-3.2), "l3 5.4h-6z"...)
	}}
	shapeDiamond = shape{"diamond", true, 0, "", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x, y-3.4), "l3 3.4-3 3.4-3-3.4z"...)
	}}
	shapeTriDown = shape{"triangle-down", true, 0, "", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x, y+3.2), "l3-5.4h-6z"...)
	}}
	shapePlus = shape{"plus", false, 1.6, "butt", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x-3.2, y), "h6.4m-3.2-3.2v6.4"...)
	}}
	shapeCross = shape{"cross", false, 1.6, "butt", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x-2.6, y-2.6), "l5.2 5.2m0-5.2l-5.2 5.2"...)
	}}
	shapeRing = shape{"ring", false, 1.4, "butt", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x-2.6, y), "a2.6 2.6 0 1 0 5.2 0a2.6 2.6 0 1 0-5.2 0"...)
	}}
	shapeBar = shape{"bar", false, 2, "butt", func(b []byte, x, y float64) []byte {
		return append(pt(b, 'M', x-3.2, y), "h6.4"...)
	}}
)

// fShapes gives each operation function its marker; other functions cycle
// through allShapes.
var (
	fShapes = map[string]shape{
		history.FLock: shapeCircle, history.FUnlock: shapeSquare, history.FWrite: shapeTriangle,
		history.FCampaign: shapeDiamond, history.FProclaim: shapeTriDown, history.FResign: shapePlus,
		history.FLeader: shapeCross, history.FObserve: shapeRing, history.FLeaseLost: shapeBar,
		history.FRevoke: shapePlus,
	}
	allShapes = []shape{shapeCircle, shapeSquare, shapeTriangle, shapeDiamond, shapeTriDown, shapePlus, shapeCross, shapeRing, shapeBar}
	fOrder    = []string{history.FLock, history.FWrite, history.FUnlock, history.FCampaign, history.FProclaim,
		history.FResign, history.FLeader, history.FObserve, history.FLeaseLost, history.FRevoke}
)

// functions lists the functions present, known ones first in fOrder.
func functions(ops []history.Operation) []string {
	present := map[string]bool{}
	for _, op := range ops {
		present[op.F] = true
	}
	var fs []string
	for _, f := range fOrder {
		if present[f] {
			fs = append(fs, f)
			delete(present, f)
		}
	}
	rest := make([]string, 0, len(present))
	for f := range present {
		rest = append(rest, f)
	}
	sort.Strings(rest)
	return append(fs, rest...)
}

func shapeFor(f string, i int) shape {
	if s, ok := fShapes[f]; ok {
		return s
	}
	return allShapes[i%len(allShapes)]
}

// logAxis maps a latency (ns) to y on a log scale over whole decades.
type logAxis struct{ lo, hi float64 } // log10 of ns

func newLogAxis(ops []history.Operation) logAxis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, op := range ops {
		if op.Return == history.Never {
			continue
		}
		l := math.Log10(float64(max(op.Return-op.Call, 1000)))
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	if math.IsInf(lo, 1) {
		return logAxis{lo: 6, hi: 9} // 1 ms .. 1 s
	}
	a := logAxis{lo: math.Floor(lo), hi: math.Ceil(hi)}
	if a.hi-a.lo < 2 {
		a.hi = a.lo + 2
	}
	return a
}

func (a logAxis) y(ns int64) float64 {
	l := math.Log10(float64(max(ns, 1000)))
	return latAreaBot - (latAreaBot-latAreaTop)*(l-a.lo)/(a.hi-a.lo)
}

// decadeLabel prints 10^e nanoseconds as a duration.
func decadeLabel(e int) string {
	units := []string{"ns", "µs", "ms", "s"}
	u := min(max(e, 0)/3, len(units)-1)
	return fmt.Sprintf("%.0f %s", math.Pow(10, float64(e-3*u)), units[u])
}

func (s *svgBuilder) drawLogAxis(a logAxis) {
	s.printf(`<g class="grid">`)
	for e := int(a.lo); e <= int(a.hi); e++ {
		for m := 2; m <= 9 && e < int(a.hi) && a.hi-a.lo <= 6; m++ {
			y := a.y(int64(float64(m) * math.Pow(10, float64(e))))
			s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(y), num(plotRight), num(y), minorColor)
		}
		y := a.y(int64(math.Pow(10, float64(e))))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(y), num(plotRight), num(y), gridColor)
	}
	s.printf(`</g><g class="axis">`)
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(latAreaTop), num(plotLeft), num(latAreaBot), axisColor)
	for e := int(a.lo); e <= int(a.hi); e++ {
		y := a.y(int64(math.Pow(10, float64(e))))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft-4), num(y), num(plotLeft), num(y), axisColor)
		s.text(plotLeft-7, y+4, "end", "tick", decadeLabel(e))
	}
	s.printf(`<text class="title" transform="translate(%s %s) rotate(-90)" text-anchor="middle">latency (log scale)</text>`,
		num(plotLeft-62), num((latAreaTop+latAreaBot)/2))
	s.text(plotLeft-7, latTop+infoBand/2+4, "end", "tick", "info / timeout")
	s.printf(`</g>`)
}

// seriesKey identifies one series of points: a function and an outcome.
type seriesKey struct {
	f string
	o history.Outcome
}

// latencyPoints places each operation: x at its invoke, y at its latency,
// or in the top band when it never returned (jittered by id to spread).
func latencyPoints(ops []history.Operation, ta timeAxis, la logAxis) map[seriesKey][][2]float64 {
	pts := map[seriesKey][][2]float64{}
	for _, op := range ops {
		o := outcomeOf(op)
		var y float64
		if op.Return == history.Never {
			y = latTop + infoBand/2 + float64(op.ID%7-3)*1.6
		} else {
			y = la.y(op.Return - op.Call)
		}
		k := seriesKey{op.F, o}
		pts[k] = append(pts[k], [2]float64{ta.x(op.Call), y})
	}
	return pts
}

// downsample keeps one point per q×q cell of a series, which is invisible
// at the plot's resolution and bounds the size of the SVG.
func downsample(pts [][2]float64, q float64) [][2]float64 {
	seen := make(map[[2]int32]bool, len(pts)/4)
	out := pts[:0:0]
	for _, p := range pts {
		c := [2]int32{int32(p[0] / q), int32(p[1] / q)}
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, [2]float64{(float64(c[0]) + 0.5) * q, (float64(c[1]) + 0.5) * q})
	}
	return out
}

// latencyPlot draws every operation's latency over time, with fault
// intervals shaded. It returns the SVG and a note when points were merged.
func latencyPlot(ops []history.Operation, faults []history.Fault, ta timeAxis) (string, string) {
	la := newLogAxis(ops)
	kinds, colors := faultPalette(faults)
	fs := functions(ops)
	pts := latencyPoints(ops, ta, la)
	note := ""
	if len(ops) > maxPoints {
		drawn := 0
		for k, p := range pts {
			pts[k] = downsample(p, downsampleQ)
			drawn += len(pts[k])
		}
		note = fmt.Sprintf("%d operations drawn as %d points: operations closer than a pixel in the same series are merged.", len(ops), drawn)
	}
	var s svgBuilder
	s.openWithLegend("plot-latency", "latency of every operation over time", latHeight, 2,
		append(outcomeLegend(ops), shapeLegend(fs)...), faultLegend(kinds, colors))
	s.drawFaultShading(ta, faults, colors, latTop, latAreaBot)
	s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="#fff7e6" fill-opacity="0.6"/>`,
		num(plotLeft), num(latTop), num(plotRight-plotLeft), num(infoBand))
	s.drawLogAxis(la)
	s.drawTimeAxis(ta, latTop, latAreaBot, true)
	s.printf(`<g class="points">`)
	for _, o := range outcomeOrder {
		for i, f := range fs {
			if p := pts[seriesKey{f, o}]; len(p) > 0 {
				s.drawSeries(shapeFor(f, i), f, o, p)
			}
		}
	}
	s.printf(`</g>`)
	s.closeShifted()
	return s.String(), note
}

// drawSeries draws a series as one path of markers.
func (s *svgBuilder) drawSeries(sh shape, f string, o history.Outcome, pts [][2]float64) {
	b := make([]byte, 0, len(pts)*16)
	for _, p := range pts {
		b = sh.draw(b, p[0], p[1])
	}
	c := outcomeColors[o]
	style := fmt.Sprintf(`fill="none" stroke="%s" stroke-width="%s" stroke-linecap="%s"`, c, num(sh.width), sh.cap)
	if sh.filled {
		style = fmt.Sprintf(`fill="%s"`, c)
	}
	s.printf(`<path class="series" data-f="%s" data-o="%s" %s fill-opacity="0.75" stroke-opacity="0.75" d="%s"/>`,
		esc(f), esc(string(o)), style, b)
}

func outcomeLegend(ops []history.Operation) []legendItem {
	n := map[history.Outcome]int{}
	for _, op := range ops {
		n[outcomeOf(op)]++
	}
	items := make([]legendItem, 0, len(outcomeOrder))
	for _, o := range outcomeOrder {
		c := outcomeColors[o]
		items = append(items, legendItem{key: "o", val: string(o), label: fmt.Sprintf("%s (%d)", o, n[o]),
			swatch: func(s *svgBuilder, x, y float64) {
				s.printf(`<circle cx="%s" cy="%s" r="4.5" fill="%s"/>`, num(x), num(y), c)
			}})
	}
	return items
}

func shapeLegend(fs []string) []legendItem {
	items := make([]legendItem, 0, len(fs))
	for i, f := range fs {
		sh := shapeFor(f, i)
		items = append(items, legendItem{key: "f", val: f, label: f, swatch: func(s *svgBuilder, x, y float64) {
			style := fmt.Sprintf(`fill="none" stroke="%s" stroke-width="%s" stroke-linecap="%s"`, neutralMark, num(sh.width), sh.cap)
			if sh.filled {
				style = fmt.Sprintf(`fill="%s"`, neutralMark)
			}
			s.printf(`<path %s d="%s"/>`, style, sh.draw(nil, x, y))
		}})
	}
	return items
}
