package reports

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/etcdchaos/etcdchaos/models"
)

// PinnedEtcd labels the runs of a batch that tested the pinned etcd (runs
// whose Etcd is empty) in the findings over time.
const PinnedEtcd = "pinned"

// Detection is how often and how soon the runs on one etcd found one bug:
// a known etcd issue, or violations of one check.
type Detection struct {
	// Bug is short ("19597", "etcdchaos-1", "violation: lock"), Label says
	// it in full.
	Bug   string `json:"bug"`
	Label string `json:"label"`
	Issue string `json:"issue,omitempty"`
	Check string `json:"check,omitempty"`
	Etcd  string `json:"etcd"`
	// Runs counts the runs on Etcd that were checked (have a summary),
	// Found those that found the bug; Share is Found/Runs.
	Runs  int     `json:"runs"`
	Found int     `json:"found"`
	Share float64 `json:"share"`
	// Detects are the runs that found it, each with its time to detect
	// (how far into the run its first finding of the bug happened), in
	// run order.
	Detects []Detect `json:"detects,omitempty"`
	// Quantiles of the times to detect, absent when nothing was found.
	Quantiles *TimeQuantiles `json:"quantiles,omitempty"`
	// Scenarios are the scenarios of the runs that found it.
	Scenarios []string `json:"scenarios,omitempty"`
}

// Detect is one run's first finding of a bug.
type Detect struct {
	Run      string        `json:"run"`
	Scenario string        `json:"scenario"`
	Seed     int64         `json:"seed"`
	At       time.Duration `json:"at_ns"`
}

// TimeQuantiles summarise times to detect: minimum, quartiles, maximum.
type TimeQuantiles struct {
	Min    time.Duration `json:"min_ns"`
	Q1     time.Duration `json:"q1_ns"`
	Median time.Duration `json:"median_ns"`
	Q3     time.Duration `json:"q3_ns"`
	Max    time.Duration `json:"max_ns"`
}

// bugKey names a bug: a known issue by id, or violations by check.
type bugKey struct{ issue, check string }

func (k bugKey) short() string {
	if k.issue != "" {
		return k.issue
	}
	return "violation: " + k.check
}

func (k bugKey) label() string {
	if k.issue != "" {
		return issueLabel(k.issue)
	}
	return "violation of the " + k.check + " check"
}

// firstFindings returns, for each bug a run found, how far into the run
// it first found it (history time), with the bugs in the order of their
// first finding. Known issues come from the summary's known issues,
// violations from the findings classified as violations and the time of
// each check whose verdict is a violation, whichever is earlier.
func firstFindings(s *Summary) ([]bugKey, map[bugKey]time.Duration) {
	at := map[bugKey]time.Duration{}
	note := func(k bugKey, t int64) {
		if cur, ok := at[k]; !ok || time.Duration(t) < cur {
			at[k] = time.Duration(t)
		}
	}
	for _, f := range s.KnownIssues {
		if f.Issue != nil {
			note(bugKey{issue: f.Issue.ID}, f.At)
		}
	}
	for _, g := range s.Findings {
		if g.Class == models.Violation {
			note(bugKey{check: g.Check}, g.FirstAt)
		}
	}
	for _, c := range s.Checks {
		k := bugKey{check: c.Check}
		if _, seen := at[k]; c.Verdict == models.Violation && (c.AtNs > 0 || !seen) {
			note(k, c.AtNs) // a check without a time of its own says 0
		}
	}
	keys := make([]bugKey, 0, len(at))
	for k := range at {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b bugKey) int {
		return cmp.Or(cmp.Compare(at[a], at[b]), cmp.Compare(a.short(), b.short()))
	})
	return keys, at
}

// Detections are the batch's findings over time: for every bug found in
// any run and every etcd the batch tested, the share of that etcd's
// checked runs that found it and their times to detect. Bugs keep the
// order in which the runs first found them, etcds the order of their
// first run, so the same runs in the same order give the same table.
func (a Aggregate) Detections() []Detection {
	var etcds []string
	var bugs []bugKey
	runs := map[string]int{}
	found := map[bugKey]map[string][]Detect{}
	for _, r := range a.Runs {
		etcd := r.Etcd
		if etcd == "" {
			etcd = PinnedEtcd
		}
		if r.Skipped == "" && !slices.Contains(etcds, etcd) {
			etcds = append(etcds, etcd)
		}
		if r.Summary == nil {
			continue
		}
		runs[etcd]++
		keys, at := firstFindings(r.Summary)
		for _, k := range keys {
			if found[k] == nil {
				found[k] = map[string][]Detect{}
				bugs = append(bugs, k)
			}
			found[k][etcd] = append(found[k][etcd], Detect{Run: r.ID, Scenario: r.Scenario, Seed: r.Seed, At: at[k]})
		}
	}
	var out []Detection
	for _, k := range bugs {
		for _, e := range etcds {
			d := Detection{Bug: k.short(), Label: k.label(), Issue: k.issue, Check: k.check, Etcd: e,
				Runs: runs[e], Detects: found[k][e]}
			d.Found = len(d.Detects)
			if d.Runs > 0 {
				d.Share = float64(d.Found) / float64(d.Runs)
			}
			if d.Found > 0 {
				times := make([]time.Duration, 0, d.Found)
				for _, t := range d.Detects {
					times = append(times, t.At)
					if !slices.Contains(d.Scenarios, t.Scenario) {
						d.Scenarios = append(d.Scenarios, t.Scenario)
					}
				}
				d.Quantiles = quantiles(times)
			}
			out = append(out, d)
		}
	}
	return out
}

// quantiles of times (not empty), each by linear interpolation between
// the closest ranks (R's and numpy's default), so a median of an even
// count is the mean of the middle two.
func quantiles(times []time.Duration) *TimeQuantiles {
	s := slices.Clone(times)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		h := p * float64(len(s)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(s)-1)
		return s[lo] + time.Duration(math.Round((h-float64(lo))*float64(s[hi]-s[lo])))
	}
	return &TimeQuantiles{Min: s[0], Q1: q(0.25), Median: q(0.5), Q3: q(0.75), Max: s[len(s)-1]}
}
