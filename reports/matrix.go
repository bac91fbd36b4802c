package reports

import (
	"maps"
	"slices"
	"time"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

// Matrix sets the runs of a batch that compares several etcds (etcdchaos
// zoo) side by side: one row per etcd, one cell per scenario.
type Matrix struct {
	Scenarios []string    `json:"scenarios"`
	Rows      []MatrixRow `json:"rows"`
}

// MatrixRow is one etcd's cells, in the order of Matrix.Scenarios.
type MatrixRow struct {
	Etcd  string       `json:"etcd"`
	Cells []MatrixCell `json:"cells"`
}

// MatrixCell sums up the runs of one etcd and one scenario.
type MatrixCell struct {
	Etcd     string `json:"etcd"`
	Scenario string `json:"scenario"`
	// Runs counts the runs carried out (skipped ones are not).
	Runs     int                    `json:"runs"`
	Verdicts map[models.Verdict]int `json:"verdicts"`
	// Worst is the worst verdict of the cell's runs.
	Worst models.Verdict `json:"worst"`
	// KnownIssues counts the known etcd issues found, by issue id.
	KnownIssues map[string]int `json:"known_issues,omitempty"`
	// Detected counts the runs that found a known issue or a violation.
	// The first of them, in run order, is FirstRun (with its seed); its
	// first such finding happened TimeToDetect into the run.
	Detected     int           `json:"detected"`
	FirstRun     string        `json:"first_run,omitempty"`
	FirstSeed    int64         `json:"first_seed,omitempty"`
	TimeToDetect time.Duration `json:"time_to_detect_ns,omitempty"`
}

// KnownIssueIDs are the cell's known issue ids in order.
func (c MatrixCell) KnownIssueIDs() []string {
	return slices.Sorted(maps.Keys(c.KnownIssues))
}

// Detected is the history time of the run's first finding that is a known
// etcd issue or a violation, and whether it has one.
func (r AggregateRun) Detected() (time.Duration, bool) {
	if r.Summary == nil {
		return 0, false
	}
	first, found := int64(0), false
	note := func(at int64) {
		if !found || at < first {
			first, found = at, true
		}
	}
	for _, k := range r.Summary.KnownIssues {
		note(k.At)
	}
	for _, c := range r.Summary.Checks {
		if c.Verdict == models.Violation || c.Verdict == models.KnownIssue {
			note(c.AtNs)
		}
	}
	return time.Duration(first), found
}

// Matrix returns the batch as etcd x scenario, nil when its runs do not
// name their etcd. Etcds and scenarios keep the order of their first run.
func (a Aggregate) Matrix() *Matrix {
	var m Matrix
	var etcds []string
	cells := map[[2]string]*MatrixCell{}
	for _, r := range a.Runs {
		if r.Etcd == "" {
			continue
		}
		if !slices.Contains(etcds, r.Etcd) {
			etcds = append(etcds, r.Etcd)
		}
		if !slices.Contains(m.Scenarios, r.Scenario) {
			m.Scenarios = append(m.Scenarios, r.Scenario)
		}
		key := [2]string{r.Etcd, r.Scenario}
		c := cells[key]
		if c == nil {
			c = &MatrixCell{Etcd: r.Etcd, Scenario: r.Scenario, Verdicts: map[models.Verdict]int{}}
			cells[key] = c
		}
		c.add(r)
	}
	if len(etcds) == 0 {
		return nil
	}
	for _, e := range etcds {
		row := MatrixRow{Etcd: e}
		for _, sc := range m.Scenarios {
			c := cells[[2]string{e, sc}]
			if c == nil {
				c = &MatrixCell{Etcd: e, Scenario: sc, Verdicts: map[models.Verdict]int{}}
			}
			row.Cells = append(row.Cells, *c)
		}
		m.Rows = append(m.Rows, row)
	}
	return &m
}

// add counts one run into the cell.
func (c *MatrixCell) add(r AggregateRun) {
	if r.Skipped != "" {
		return
	}
	c.Runs++
	v := r.Verdict()
	c.Verdicts[v]++
	if c.Worst == "" || verdict.Rank(v) > verdict.Rank(c.Worst) {
		c.Worst = v
	}
	if r.Summary != nil {
		for _, k := range r.Summary.KnownIssues {
			if c.KnownIssues == nil {
				c.KnownIssues = map[string]int{}
			}
			if k.Issue != nil {
				c.KnownIssues[k.Issue.ID]++
			}
		}
	}
	if at, ok := r.Detected(); ok {
		c.Detected++
		if c.Detected == 1 {
			c.FirstRun, c.FirstSeed, c.TimeToDetect = r.ID, r.Seed, at
		}
	}
}
