package reports

import (
	"fmt"
	"strings"
	"time"
)

// Geometry of the findings-over-time plot: one row per bug and etcd, the
// row's label on the left, its times to detect on a shared axis, its share
// of runs on the right.
const (
	detectLabelRight = 250.0
	detectLeft       = 262.0
	detectRight      = 930.0
	detectShareX     = 944.0
	detectRowHeight  = 26.0
	detectTop        = 8.0
	detectAxisRoom   = 42.0
	knownColor       = "#6a1b9a" // --known in report.css
	violationColor   = "#c62828" // --violation
)

// detectionPlot draws each bug x etcd row as a strip of its runs' times to
// detect (one dot per run, its run and seed in the tooltip) over a box from
// the first to the third quartile with the median marked and whiskers to
// the extremes, and the share of runs that found it as text.
func detectionPlot(ds []Detection) string {
	var s svgBuilder
	height := detectTop + float64(len(ds))*detectRowHeight + detectAxisRoom
	s.open("plot-detection", "times to detect per bug and etcd", height)
	end := time.Second
	for _, d := range ds {
		if d.Quantiles != nil {
			end = max(end, d.Quantiles.Max)
		}
	}
	secs := float64(end) / 1e9 * 1.04
	x := func(t time.Duration) float64 {
		return detectLeft + (detectRight-detectLeft)*min(float64(t)/1e9/secs, 1)
	}
	bottom := detectTop + float64(len(ds))*detectRowHeight
	vals, step := ticks(0, secs, 10)
	s.printf(`<g class="grid">`)
	for _, v := range vals {
		xv := x(time.Duration(v * 1e9))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(xv), num(detectTop), num(xv), num(bottom), gridColor)
	}
	s.printf(`</g>`)
	for i, d := range ds {
		top := detectTop + float64(i)*detectRowHeight
		y := top + detectRowHeight/2
		if i > 0 && d.Bug != ds[i-1].Bug {
			s.printf(`<line x1="0" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(top), num(plotWidth), num(top), axisColor)
		}
		color := violationColor
		if d.Issue != "" {
			color = knownColor
		}
		s.printf(`<g class="detect" data-bug="%s" data-etcd="%s">`, esc(d.Bug), esc(d.Etcd))
		s.printf(`<title>%s</title>`, esc(d.Label+" on "+d.Etcd))
		s.text(detectLabelRight, y+4, "end", "lane", d.Bug+" · "+d.Etcd)
		if q := d.Quantiles; q != nil {
			s.printf(`<line class="whisker" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(x(q.Min)), num(y), num(x(q.Max)), num(y), color)
			s.printf(`<rect class="box" x="%s" y="%s" width="%s" height="12" fill="%s" fill-opacity="0.18" stroke="%s"/>`,
				num(x(q.Q1)), num(y-6), num(max(x(q.Q3)-x(q.Q1), 1)), color, color)
			s.printf(`<line class="median" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2.5"><title>median %s</title></line>`,
				num(x(q.Median)), num(y-8), num(x(q.Median)), num(y+8), color, esc(fmtDur(q.Median)))
			for j, t := range d.Detects {
				s.printf(`<circle class="pt" cx="%s" cy="%s" r="3.5" fill="%s" fill-opacity="0.8"><title>%s</title></circle>`,
					num(x(t.At)), num(y+float64(j%5-2)*2), color,
					esc(fmt.Sprintf("%s, seed %d (%s): first at %s", t.Run, t.Seed, t.Scenario, fmtDur(t.At))))
			}
		}
		s.text(detectShareX, y+4, "start", "lane", shareText(d))
		s.printf(`</g>`)
	}
	s.printf(`<g class="axis">`)
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(detectLeft), num(bottom), num(detectRight), num(bottom), axisColor)
	for _, v := range vals {
		xv := x(time.Duration(v * 1e9))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(xv), num(bottom), num(xv), num(bottom+4), axisColor)
		s.text(xv, bottom+16, "middle", "tick", formatTick(v, step))
	}
	s.text((detectLeft+detectRight)/2, bottom+32, "middle", "title", "time to detect: first finding, since the run started (s)")
	s.printf(`</g>`)
	s.close()
	return s.String()
}

// shareText is a row's share of runs: "3/5 runs (60%)".
func shareText(d Detection) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d runs", d.Found, d.Runs)
	if d.Runs > 0 {
		fmt.Fprintf(&b, " (%.0f%%)", 100*d.Share)
	}
	return b.String()
}
