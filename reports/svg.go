package reports

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Geometry shared by the plots (SVG user units; the SVG scales to the page
// width). All time plots share the x axis so they line up on the page.
const (
	plotWidth   = 1100.0
	plotLeft    = 118.0 // room for fault kind and axis labels
	plotRight   = 1080.0
	legendRow   = 18.0
	charWidth   = 6.6 // average width of a 12px sans-serif character
	fontSize    = 12
	maxXTicks   = 12
	axisColor   = "#444"
	gridColor   = "#e3e3e3"
	minorColor  = "#f1f1f1"
	neutralMark = "#555"
)

// svgBuilder accumulates SVG markup. Every piece of text that comes from
// data goes through esc.
type svgBuilder struct{ strings.Builder }

func (s *svgBuilder) printf(format string, args ...any) { fmt.Fprintf(s, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate with at most one decimal.
func num(v float64) string {
	r := math.Round(v*10) / 10
	if r == math.Trunc(r) {
		return strconv.FormatInt(int64(r), 10)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// appendNum is num for hot loops.
func appendNum(b []byte, v float64) []byte {
	r := math.Round(v*10) / 10
	if r == math.Trunc(r) {
		return strconv.AppendInt(b, int64(r), 10)
	}
	return strconv.AppendFloat(b, r, 'f', 1, 64)
}

func (s *svgBuilder) open(id, label string, height float64) {
	s.printf(`<svg id="%s" class="plot" viewBox="0 0 %s %s" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" font-size="%d">`,
		esc(id), num(plotWidth), num(height), esc(label), fontSize)
}

func (s *svgBuilder) close() { s.WriteString("</svg>") }

func (s *svgBuilder) text(x, y float64, anchor, class, body string) {
	s.printf(`<text x="%s" y="%s" text-anchor="%s" class="%s">%s</text>`, num(x), num(y), anchor, class, esc(body))
}

// timeAxis maps history time (ns since the run started) to x.
type timeAxis struct{ end int64 }

func newTimeAxis(end int64) timeAxis {
	if end <= 0 {
		end = 1
	}
	return timeAxis{end: end}
}

func (a timeAxis) x(t int64) float64 {
	t = min(max(t, 0), a.end)
	return plotLeft + (plotRight-plotLeft)*float64(t)/float64(a.end)
}

// niceStep is the smallest 1, 2 or 5 times a power of ten that splits span
// into at most n steps.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// ticks are the multiples of a nice step within [lo, hi].
func ticks(lo, hi float64, n int) (vals []float64, step float64) {
	step = niceStep(hi-lo, n)
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9 && len(vals) < 4*n+2; i++ {
		vals = append(vals, i*step+0) // +0 turns -0 into 0
	}
	return vals, step
}

// formatTick prints v with as many decimals as step needs.
func formatTick(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// drawTimeAxis draws vertical grid lines, tick labels below bottom and the
// axis title.
func (s *svgBuilder) drawTimeAxis(a timeAxis, top, bottom float64, title bool) {
	secs := float64(a.end) / 1e9
	vals, step := ticks(0, secs, maxXTicks)
	s.printf(`<g class="grid">`)
	for _, v := range vals {
		x := a.x(int64(v * 1e9))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(x), num(top), num(x), num(bottom), gridColor)
	}
	s.printf(`</g><g class="axis">`)
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(plotLeft), num(bottom), num(plotRight), num(bottom), axisColor)
	for _, v := range vals {
		x := a.x(int64(v * 1e9))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(x), num(bottom), num(x), num(bottom+4), axisColor)
		s.text(x, bottom+16, "middle", "tick", formatTick(v, step))
	}
	if title {
		s.text((plotLeft+plotRight)/2, bottom+32, "middle", "title", "time since the run started (s)")
	}
	s.printf(`</g>`)
}

// classShades are the colours of each fault class on every plot: the kinds
// of a class take its shades in the order of history's kinds table, so
// every known kind has its own colour and a new kind needs none here.
var classShades = map[history.FaultClass][]string{
	history.ClassNetwork: {"#7e57c2", "#78909c", "#5c6bc0", "#26c6da"},
	history.ClassMember:  {"#455a64", "#43a047", "#6d4c41", "#c0ca33", "#1565c0"},
	history.ClassClient:  {"#ff7043", "#8d6e63", "#f9a825", "#00897b"},
	history.ClassLease:   {"#d81b60", "#ab47bc", "#e57373", "#f06292"},
}

// neutralColor is the colour of a fault kind this version does not know.
const neutralColor = "#9e9e9e"

// kindColors gives every known fault kind its shade of its class.
var kindColors = func() map[string]string {
	colors := map[string]string{}
	used := map[history.FaultClass]int{}
	for _, k := range history.FaultKinds() {
		shades := classShades[k.Class]
		if len(shades) == 0 {
			continue
		}
		colors[k.Name] = shades[used[k.Class]%len(shades)]
		used[k.Class]++
	}
	return colors
}()

// faultColor is the colour of a fault kind.
func faultColor(kind string) string {
	if c, ok := kindColors[kind]; ok {
		return c
	}
	return neutralColor
}

// faultPalette lists every fault kind present, in a stable order (first
// appearance), with its colour.
func faultPalette(faults []history.Fault) (kinds []string, colors map[string]string) {
	colors = map[string]string{}
	for _, f := range faults {
		if _, ok := colors[f.Kind]; ok {
			continue
		}
		kinds = append(kinds, f.Kind)
		colors[f.Kind] = faultColor(f.Kind)
	}
	return kinds, colors
}

// faultEnd is where a fault's bar ends on the axis.
func faultEnd(f history.Fault, a timeAxis) int64 {
	if f.End == history.Never {
		return a.end
	}
	return f.End
}

// oneShot reports whether f happened at an instant (its end, if any, only
// says when its action returned).
func oneShot(f history.Fault) bool {
	return f.End == f.Start || history.FaultKindOf(f.Kind).OneShot
}

// faultTitle describes a fault for tooltips.
func faultTitle(f history.Fault) string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Detail != "" {
		b.WriteString(" " + f.Detail)
	}
	if f.Member > 0 {
		fmt.Fprintf(&b, " member %d", f.Member)
	}
	if f.Target > 0 {
		fmt.Fprintf(&b, " client %d", f.Target)
	}
	if f.Lease != 0 {
		fmt.Fprintf(&b, " lease %x", f.Lease)
	}
	switch {
	case oneShot(f) && f.End != f.Start:
		fmt.Fprintf(&b, " at %s, done by %s", fmtTime(f.Start), fmtTime(f.End))
	case oneShot(f):
		fmt.Fprintf(&b, " at %s", fmtTime(f.Start))
	case f.End == history.Never:
		fmt.Fprintf(&b, " from %s, still active at the end", fmtTime(f.Start))
	default:
		fmt.Fprintf(&b, " from %s to %s (%s)", fmtTime(f.Start), fmtTime(f.End), fmtDur(time.Duration(f.End-f.Start)))
	}
	return b.String()
}

// drawFaultShading shades each fault interval between top and bottom; a
// one-shot fault is a dashed vertical line.
func (s *svgBuilder) drawFaultShading(a timeAxis, faults []history.Fault, colors map[string]string, top, bottom float64) {
	s.printf(`<g class="faults">`)
	for _, f := range faults {
		c := colors[f.Kind]
		x0, x1 := a.x(f.Start), a.x(faultEnd(f, a))
		if oneShot(f) {
			s.printf(`<line class="series" data-fault="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="4 3" stroke-opacity="0.7"><title>%s</title></line>`,
				esc(f.Kind), num(x0), num(top), num(x0), num(bottom), c, esc(faultTitle(f)))
			continue
		}
		s.printf(`<rect class="series" data-fault="%s" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.11"><title>%s</title></rect>`,
			esc(f.Kind), num(x0), num(top), num(max(x1-x0, 1)), num(bottom-top), c, esc(faultTitle(f)))
	}
	s.printf(`</g>`)
}

// legendItem is one clickable legend entry; it toggles the plot elements
// whose data attribute (data-<key>) has its value.
type legendItem struct {
	key, val, label string
	swatch          func(s *svgBuilder, x, y float64)
}

// legendMarkup lays out blocks of legend items above a plot: each block
// starts a new row and wraps at the plot's right edge. It returns the
// markup and the number of rows used (at least one).
func legendMarkup(blocks ...[]legendItem) (string, int) {
	var s svgBuilder
	rows := 0
	for _, items := range blocks {
		if len(items) == 0 {
			continue
		}
		rows++
		x := plotLeft
		for _, it := range items {
			w := 16 + float64(len(it.label))*charWidth
			if x > plotLeft && x+w > plotRight {
				x = plotLeft
				rows++
			}
			y := 13 + float64(rows-1)*legendRow
			s.printf(`<g class="lg" data-k="%s" data-v="%s" role="button" tabindex="0">`, esc(it.key), esc(it.val))
			it.swatch(&s, x+6, y-4)
			s.text(x+16, y, "start", "legend", it.label)
			s.printf(`</g>`)
			x += w + 18
		}
	}
	return s.String(), max(rows, 1)
}

// openWithLegend opens a plot whose layout assumes baseRows legend rows;
// extra rows push the plot down. Close the returned group with closeShifted.
func (s *svgBuilder) openWithLegend(id, label string, height float64, baseRows int, blocks ...[]legendItem) {
	leg, rows := legendMarkup(blocks...)
	dy := float64(max(rows-baseRows, 0)) * legendRow
	s.open(id, label, height+dy)
	s.WriteString(leg)
	s.printf(`<g transform="translate(0 %s)">`, num(dy))
}

func (s *svgBuilder) closeShifted() { s.WriteString("</g></svg>") }

func rectSwatch(color string, opacity float64) func(s *svgBuilder, x, y float64) {
	return func(s *svgBuilder, x, y float64) {
		s.printf(`<rect x="%s" y="%s" width="12" height="10" rx="2" fill="%s" fill-opacity="%s"/>`, num(x-6), num(y-5), color, num(opacity))
	}
}

func lineSwatch(color string) func(s *svgBuilder, x, y float64) {
	return func(s *svgBuilder, x, y float64) {
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2.5"/>`, num(x-7), num(y), num(x+7), num(y), color)
	}
}

func faultLegend(kinds []string, colors map[string]string) []legendItem {
	items := make([]legendItem, 0, len(kinds))
	for _, k := range kinds {
		items = append(items, legendItem{key: "fault", val: k, label: k, swatch: rectSwatch(colors[k], 0.35)})
	}
	return items
}

// fmtTime prints a history time as seconds since the start.
func fmtTime(t int64) string {
	if t == history.Never {
		return "never"
	}
	return strconv.FormatFloat(float64(t)/1e9, 'f', 3, 64) + " s"
}

// fmtDur prints a duration compactly with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", int64(d))
	case d < time.Millisecond:
		return trimFloat(float64(d)/1e3) + " µs"
	case d < time.Second:
		return trimFloat(float64(d)/1e6) + " ms"
	case d < time.Minute:
		return trimFloat(d.Seconds()) + " s"
	default:
		return d.Round(time.Second).String()
	}
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
