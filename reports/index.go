package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

var (
	//go:embed assets/index.html.tmpl
	indexTemplate string
	//go:embed assets/report.css
	reportCSS string
	//go:embed assets/report.js
	reportJS string

	indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{
		"verdictClass": verdictClass,
		"fmtTime":      fmtTime,
	}).Parse(indexTemplate))
)

// maxEvidenceOps bounds the operations listed under one finding.
const maxEvidenceOps = 25

// page is the data of index.html.
type page struct {
	S            Summary
	Title        string
	HistoryFile  string
	Headline     string
	Duration     string
	Started      string
	Hazard       bool
	TruthHazard  bool
	MaxAfterLoss string
	Checks       []checkRow
	Findings     []finding
	Known        []models.FindingGroup // the known-issue findings, grouped
	Counts       []countRow
	Total        countRow
	Faults       []faultRow
	Timeline     template.HTML
	Latency      template.HTML
	LatencyNote  string
	Throughput   template.HTML
	CSS          template.CSS
	JS           template.JS
}

type checkRow struct {
	CheckSummary
	Elapsed string
	Anchor  string
}

type finding struct {
	CheckSummary
	Anchor  string
	At      string
	Ops     []opRow
	More    int
	Missing []int64
	// Keys is the key timeline of the name around a truth finding's
	// revisions: which keys existed, owned and were deleted when.
	Keys []keyRow
}

type keyRow struct {
	Key, Lease, Client, Created, Owned, Deleted string
	// Cited: the finding names one of this key's revisions.
	Cited bool
}

type opRow struct {
	ID                      int64
	Client, Member          int
	F, Name, Outcome        string
	Invoke, Return, Latency string
	Input, Output, Error    string
}

type countRow struct {
	F                       string
	Ok, Fail, Info, Pending int
	Total                   int
	P50, P95, P99, Max      string
}

type faultRow struct {
	Kind, Detail, Target, Start, End, Length string
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v models.Verdict) string {
	switch v {
	case models.Ok, models.Violation, models.Unknown, models.Empty:
		return "v-" + string(v)
	case models.UnsafeWithoutFencing:
		return "v-unsafe"
	case models.KnownIssue:
		return "v-known"
	default:
		return "v-empty"
	}
}

func writeIndex(f *os.File, h *history.History, s Summary) error {
	w := bufferedWriter(f)
	if err := renderIndex(w, h, s); err != nil {
		return err
	}
	return w.Flush()
}

func renderIndex(w io.Writer, h *history.History, s Summary) error {
	ops := h.Operations()
	faults := h.Faults()
	ta := newTimeAxis(max(h.EndTime(), 1))
	p := page{S: s, HistoryFile: HistoryFile, CSS: template.CSS(reportCSS), JS: template.JS(reportJS)}
	p.Title = fmt.Sprintf("%s: %s", orDash(s.Scenario), s.Verdict)
	if s.StartUnixNs > 0 {
		p.Started = time.Unix(0, s.StartUnixNs).UTC().Format("2006-01-02 15:04:05 UTC")
	}
	p.Headline = headline(s)
	p.Duration = fmtDur(time.Duration(s.DurationNs))
	hz := s.Hazard
	p.Hazard = hz.UnfencedWrites+hz.FencedWrites+hz.FencedRejected+hz.Stale > 0
	p.Checks, p.Findings = checkRows(s.Checks, ops)
	for i := range p.Findings {
		p.Findings[i].Keys = keyRows(h, p.Findings[i].CheckSummary)
	}
	p.TruthHazard = hz.Truth && hz.Stale > 0
	for _, g := range s.Findings {
		if g.Class == models.KnownIssue && g.Issue != nil {
			p.Known = append(p.Known, g)
		}
	}
	p.MaxAfterLoss = fmtDur(time.Duration(hz.MaxNsAfterLoss))
	p.Counts, p.Total = countRows(ops)
	p.Faults = faultRows(faults)
	p.Timeline = template.HTML(timelinePlot(faults, ta))
	lat, note := latencyPlot(ops, faults, ta)
	p.Latency, p.LatencyNote = template.HTML(lat), note
	p.Throughput = template.HTML(throughputPlot(ops, faults, ta))
	if err := indexTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render index: %w", err)
	}
	return nil
}

// checkRows lists every check, and a finding for every check whose verdict
// is not plainly ok or empty.
func checkRows(checks []CheckSummary, ops []history.Operation) ([]checkRow, []finding) {
	byID := make(map[int64]*history.Operation, len(ops))
	for i := range ops {
		byID[ops[i].ID] = &ops[i]
	}
	rows := make([]checkRow, 0, len(checks))
	var findings []finding
	for i, c := range checks {
		r := checkRow{CheckSummary: c, Elapsed: fmtDur(time.Duration(c.ElapsedNs))}
		if c.Verdict != models.Ok && c.Verdict != models.Empty || c.Fails {
			r.Anchor = fmt.Sprintf("finding-%d", i+1)
			findings = append(findings, newFinding(c, r.Anchor, byID))
		}
		rows = append(rows, r)
	}
	// Worst first, so that a failing check is never buried in a long table.
	sort.SliceStable(rows, func(i, j int) bool { return severity(rows[i].CheckSummary) > severity(rows[j].CheckSummary) })
	return rows, findings
}

// severity orders checks for the table: failing ones first, then by verdict.
func severity(c CheckSummary) int {
	r := verdict.Rank(c.Verdict)
	if c.Fails {
		r += 10
	}
	return r
}

func newFinding(c CheckSummary, anchor string, byID map[int64]*history.Operation) finding {
	fd := finding{CheckSummary: c, Anchor: anchor}
	if c.AtNs > 0 {
		fd.At = fmtTime(c.AtNs)
	}
	for i, id := range c.Evidence {
		if i >= maxEvidenceOps {
			fd.More = len(c.Evidence) - i
			break
		}
		op, ok := byID[id]
		if !ok {
			fd.Missing = append(fd.Missing, id)
			continue
		}
		fd.Ops = append(fd.Ops, newOpRow(*op))
	}
	return fd
}

// keyRows is the key timeline of a truth finding's name, from a little
// before the first revision it cites to the last.
func keyRows(h *history.History, c CheckSummary) []keyRow {
	if c.Check != models.CheckTruth || len(c.Revisions) == 0 {
		return nil
	}
	from, to := slices.Min(c.Revisions), slices.Max(c.Revisions)
	var rows []keyRow
	for _, k := range truth.KeyTimeline(h, c.Name, from, to) {
		r := keyRow{Key: k.Key, Created: fmt.Sprint(k.CreateRev), Owned: "never", Deleted: "not deleted"}
		if k.Lease != 0 {
			r.Lease = fmt.Sprintf("%x", k.Lease)
		}
		if k.Client != 0 {
			r.Client = fmt.Sprint(k.Client)
		}
		if k.OwnerRev != 0 {
			r.Owned = fmt.Sprintf("from %d", k.OwnerRev)
		}
		if k.DeleteRev != 0 {
			r.Deleted = fmt.Sprintf("%d (seen at %s)", k.DeleteRev, fmtTime(k.DeletedNs))
		}
		for _, rev := range c.Revisions {
			r.Cited = r.Cited || rev == k.CreateRev || rev == k.DeleteRev
		}
		rows = append(rows, r)
	}
	return rows
}

func newOpRow(op history.Operation) opRow {
	r := opRow{ID: op.ID, Client: op.Client, Member: op.Member, F: op.F, Name: op.Name,
		Outcome: string(op.Outcome), Invoke: fmtTime(op.Call), Input: valueString(op.Input),
		Output: valueString(op.Output), Error: op.Error}
	switch {
	case op.Return != history.Never:
		r.Return = fmtTime(op.Return)
		r.Latency = fmtDur(time.Duration(op.Return - op.Call))
	case op.Completed > 0:
		r.Return = "never (" + string(op.Outcome) + " at " + fmtTime(op.Completed) + ")"
	default:
		r.Return = "never (pending)"
	}
	return r
}

// valueString prints a value as compact JSON without its empty fields.
func valueString(v history.Value) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "{}" {
		return ""
	}
	return string(b)
}

// countRows counts operations by function and outcome with latency
// percentiles of the operations that returned.
func countRows(ops []history.Operation) ([]countRow, countRow) {
	byF := map[string][]history.Operation{}
	for _, op := range ops {
		byF[op.F] = append(byF[op.F], op)
	}
	var rows []countRow
	for _, f := range functions(ops) {
		rows = append(rows, countRow{F: f})
		fillCounts(&rows[len(rows)-1], byF[f])
	}
	total := countRow{F: "all"}
	fillCounts(&total, ops)
	return rows, total
}

func fillCounts(r *countRow, ops []history.Operation) {
	lat := make([]int64, 0, len(ops))
	for _, op := range ops {
		switch op.Outcome {
		case history.Ok:
			r.Ok++
		case history.Fail:
			r.Fail++
		case history.Info:
			r.Info++
		default:
			r.Pending++
		}
		if op.Return != history.Never {
			lat = append(lat, op.Return-op.Call)
		}
	}
	r.Total = len(ops)
	if len(lat) == 0 {
		r.P50, r.P95, r.P99, r.Max = "–", "–", "–", "–"
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) string { return fmtDur(time.Duration(lat[int(p*float64(len(lat)-1))])) }
	r.P50, r.P95, r.P99, r.Max = q(0.50), q(0.95), q(0.99), q(1)
}

func faultRows(faults []history.Fault) []faultRow {
	rows := make([]faultRow, 0, len(faults))
	for _, f := range faults {
		r := faultRow{Kind: f.Kind, Detail: f.Detail, Start: fmtTime(f.Start)}
		var t []string
		if f.Member > 0 {
			t = append(t, fmt.Sprintf("member %d", f.Member))
		}
		if f.Target > 0 {
			t = append(t, fmt.Sprintf("client %d", f.Target))
		}
		if f.Lease != 0 {
			t = append(t, fmt.Sprintf("lease %x", f.Lease))
		}
		r.Target = strings.Join(t, ", ")
		switch {
		case oneShot(f) && f.End != f.Start:
			r.End, r.Length = "(one-shot, done by "+fmtTime(f.End)+")", ""
		case oneShot(f):
			r.End, r.Length = "(one-shot)", ""
		case f.End == history.Never:
			r.End, r.Length = "still active at the end", ""
		default:
			r.End, r.Length = fmtTime(f.End), fmtDur(time.Duration(f.End-f.Start))
		}
		rows = append(rows, r)
	}
	return rows
}

// headline sums the verdicts up in one line under the big verdict.
func headline(s Summary) string {
	n := map[models.Verdict]int{}
	for _, c := range s.Checks {
		n[c.Verdict]++
	}
	var parts []string
	for _, v := range []models.Verdict{models.Violation, models.Unknown, models.KnownIssue, models.UnsafeWithoutFencing, models.Ok, models.Empty} {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v], v))
		}
	}
	checks := "no checks"
	if len(s.Checks) > 0 {
		checks = fmt.Sprintf("%d check%s: %s", len(s.Checks), plural(len(s.Checks)), strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%s · scenario %s · seed %d · %d operations · %d fault%s",
		checks, orDash(s.Scenario), s.Seed, s.Ops.Total, len(s.Faults), plural(len(s.Faults)))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
