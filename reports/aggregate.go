package reports

import (
	_ "embed"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/knownissues"
)

// Files of an aggregate directory (a batch of runs such as the nightly
// matrix), next to one directory per run.
const (
	AggregateIndexFile   = "index.html"
	AggregateJUnitFile   = "junit.xml"
	AggregateSummaryFile = "aggregate.json"
)

// AggregateRun is one run of a batch.
type AggregateRun struct {
	// ID names the run's directory, relative to the aggregate directory.
	ID string `json:"id"`
	// PlanIndex is the run's 1-based position in the whole plan, also in
	// a shard's aggregate, so that a merge restores the plan's order; 0 in
	// files written before it existed.
	PlanIndex int           `json:"plan_index,omitempty"`
	Scenario  string        `json:"scenario"`
	Backend   string        `json:"backend,omitempty"`
	Mode      string        `json:"mode,omitempty"`
	Members   int           `json:"members"`
	Seed      int64         `json:"seed"`
	Planned   time.Duration `json:"planned_ns"`
	Command   string        `json:"command,omitempty"`
	// Summary is the run's summary.json, nil if it wrote none.
	Summary *Summary `json:"summary,omitempty"`
	// Error says why the run could not be carried out; Skipped why it did
	// not start (the budget ran out).
	Error   string `json:"error,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	// Etcd labels the etcd the run tested when the batch compares several
	// (a release such as v3.5.12); empty otherwise.
	Etcd string `json:"etcd,omitempty"`
}

// Aggregate is a batch of runs and its overall verdict.
type Aggregate struct {
	Name    string         `json:"name"`
	Started time.Time      `json:"started"`
	Elapsed time.Duration  `json:"elapsed_ns"`
	Budget  time.Duration  `json:"budget_ns,omitempty"`
	Runs    []AggregateRun `json:"runs"`
	// Shard is set when the batch ran one slice of its plan (--shard I/N);
	// PlanRuns counts the runs of the whole, unsharded plan.
	Shard    *ShardInfo `json:"shard,omitempty"`
	PlanRuns int        `json:"plan_runs,omitempty"`
	// MissingShards lists the shards a merge did not get: the batch is
	// incomplete, so it is never ok (see ExitCode).
	MissingShards []ShardInfo `json:"missing_shards,omitempty"`
}

// ShardInfo names one slice of a batch's plan: shard Index (1-based) of
// Count.
type ShardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

func (s ShardInfo) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Verdict of a run within the batch: its summary's, unknown for a run that
// could not be carried out, empty for a skipped one.
func (r AggregateRun) Verdict() models.Verdict {
	switch {
	case r.Summary != nil:
		return r.Summary.Verdict
	case r.Skipped != "":
		return models.Empty
	default:
		return models.Unknown
	}
}

// ExitCode of the batch: 1 if any run found a violation, else 3 if any run
// is unknown or could not be carried out (fully), or shards are missing
// from a merge, else 0. Skipped runs count as nothing.
func (a Aggregate) ExitCode() int {
	code := models.ExitOk
	if len(a.MissingShards) > 0 {
		code = models.ExitUnknown
	}
	for _, r := range a.Runs {
		switch {
		case r.Skipped != "":
		case r.Summary != nil && (r.Summary.ExitCode == models.ExitViolation || r.Summary.Verdict == models.Violation):
			return models.ExitViolation
		case r.Summary == nil || r.Error != "" || r.Summary.ExitCode != models.ExitOk:
			code = models.ExitUnknown
		}
	}
	return code
}

// ReadSummary reads a run directory's summary.json.
func ReadSummary(dir string) (*Summary, error) {
	data, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read summary %s: %w", dir, err)
	}
	return &s, nil
}

// WriteAggregate writes the batch's junit.xml (a <testsuite> per run with
// a <testcase> per check), index.html (every run with its verdict and a
// link to its report) and aggregate.json into dir.
func WriteAggregate(dir string, a Aggregate) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write aggregate: %w", err)
	}
	files := map[string]func(io.Writer) error{
		AggregateJUnitFile: func(w io.Writer) error { return writeAggregateJUnit(w, a) },
		AggregateIndexFile: func(w io.Writer) error { return writeAggregateIndex(w, a) },
		AggregateSummaryFile: func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(aggregateFile{Aggregate: a, Matrix: a.Matrix(), Detections: a.Detections()})
		},
	}
	for name, write := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), func(f *os.File) error { return write(f) }); err != nil {
			return fmt.Errorf("write aggregate: %w", err)
		}
	}
	return nil
}

// aggregateFile is the schema of aggregate.json: the batch, the etcd x
// scenario matrix of a batch that compares several etcds, and the findings
// over time (derived from the runs, so a merge recomputes them).
type aggregateFile struct {
	Aggregate
	Matrix     *Matrix     `json:"matrix,omitempty"`
	Detections []Detection `json:"detections,omitempty"`
}

// aggregateSuite is one run's <testsuite>.
func aggregateSuite(r AggregateRun) junitSuite {
	name := "etcdchaos." + r.ID
	var suite junitSuite
	switch {
	case r.Summary != nil:
		suite = junitFor(*r.Summary).Suites[0]
	case r.Skipped != "":
		suite = junitSuite{Cases: []junitCase{{ClassName: "run", Name: r.ID, Time: seconds(0),
			Skipped: &junitSkipped{Message: r.Skipped}}}, Skipped: 1, Tests: 1}
	default:
		suite = junitSuite{Cases: []junitCase{{ClassName: "run", Name: r.ID, Time: seconds(0),
			Failure: &junitFailure{Message: r.Error, Type: "error", Body: r.Error}}}, Errors: 1, Tests: 1}
	}
	suite.Name = name
	suite.Properties = append(suite.Properties, junitProperty{"run_dir", r.ID})
	if r.Summary == nil {
		suite.Properties = append(suite.Properties, junitProperty{"scenario", r.Scenario},
			junitProperty{"seed", fmt.Sprint(r.Seed)}, junitProperty{"members", fmt.Sprint(r.Members)})
	}
	if r.Mode != "" {
		suite.Properties = append(suite.Properties, junitProperty{"mode", r.Mode})
	}
	if r.Etcd != "" {
		suite.Properties = append(suite.Properties, junitProperty{"etcd", r.Etcd})
	}
	return suite
}

func writeAggregateJUnit(w io.Writer, a Aggregate) error {
	all := junitSuites{Name: a.Name, Time: seconds(a.Elapsed)}
	for _, r := range a.Runs {
		s := aggregateSuite(r)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, s)
	}
	for _, m := range a.MissingShards {
		msg := fmt.Sprintf("shard %s is missing from the merge: its runs were not judged", m)
		all.Tests++
		all.Errors++
		all.Suites = append(all.Suites, junitSuite{Name: fmt.Sprintf("etcdchaos.shard-%d-of-%d", m.Index, m.Count), Tests: 1, Errors: 1, Time: seconds(0),
			Cases: []junitCase{{ClassName: "merge", Name: "shard " + m.String(), Time: seconds(0),
				Failure: &junitFailure{Message: msg, Type: "error", Body: msg}}}})
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

var (
	//go:embed assets/aggregate.html.tmpl
	aggregateTemplate string

	aggregateTmpl = template.Must(template.New("aggregate").Funcs(template.FuncMap{
		"verdictClass": verdictClass,
		"issueLabel":   issueLabel,
		"dur":          func(d time.Duration) string { return d.Round(time.Second).String() },
		"fmtDur":       fmtDur,
		"share":        shareText,
		"ms":           func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"failed": func(s *Summary) int {
			n := 0
			for _, c := range s.Checks {
				if failsJUnit(c) {
					n++
				}
			}
			return n
		},
	}).Parse(aggregateTemplate))
)

type aggregatePage struct {
	A        Aggregate
	Verdict  models.Verdict
	Counts   map[models.Verdict]int
	Started  string
	CSS      template.CSS
	ExitCode int
	// Matrix is the etcd x scenario table of a batch that compares etcds.
	Matrix *Matrix
	// Detections are the findings over time, DetectionPlot their plot.
	Detections    []Detection
	DetectionPlot template.HTML
}

func writeAggregateIndex(w io.Writer, a Aggregate) error {
	p := aggregatePage{A: a, Counts: map[models.Verdict]int{}, CSS: template.CSS(reportCSS),
		Started: a.Started.UTC().Format("2006-01-02 15:04:05 UTC"), ExitCode: a.ExitCode(), Matrix: a.Matrix(),
		Detections: a.Detections()}
	if len(p.Detections) > 0 {
		p.DetectionPlot = template.HTML(detectionPlot(p.Detections)) // built by svgBuilder, every datum escaped
	}
	for _, r := range a.Runs {
		p.Counts[r.Verdict()]++
	}
	switch p.ExitCode {
	case models.ExitOk:
		p.Verdict = models.Ok
	case models.ExitViolation:
		p.Verdict = models.Violation
	default:
		p.Verdict = models.Unknown
	}
	if err := aggregateTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render aggregate index: %w", err)
	}
	return nil
}

// issueLabel names a registered issue by its id, saying whether upstream
// knows it ("known etcd issue 19597") or etcdchaos found it.
func issueLabel(id string) string {
	if i, ok := knownissues.ByID(id); ok {
		return i.Label()
	}
	return "known etcd issue " + id
}
