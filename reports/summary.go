package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// SummaryFormat is the value of summary.json's "format" field.
const SummaryFormat = "etcdchaos-summary/2"

// Meta is what a run knows beyond the history (all optional).
type Meta struct {
	// Command is the command line that reproduces the run; the history
	// header's command is used when empty.
	Command string
	// Duration is the run's wall-clock duration; the history's last event
	// time is used when zero.
	Duration time.Duration
	// Notes are free-form remarks shown on the report.
	Notes []string
}

// Summary is the schema of summary.json, the machine-readable verdict.
type Summary struct {
	Format      string         `json:"format"`
	Verdict     models.Verdict `json:"verdict"`
	ExitCode    int            `json:"exit_code"`
	Scenario    string         `json:"scenario"`
	Seed        int64          `json:"seed"`
	Workload    string         `json:"workload,omitempty"`
	Backend     string         `json:"backend,omitempty"`
	Mutant      string         `json:"mutant,omitempty"`
	Members     int            `json:"members"`
	Clients     int            `json:"clients,omitempty"`
	EtcdVersion string         `json:"etcd_version"`
	LeaseTTLMs  int64          `json:"lease_ttl_ms,omitempty"`
	StartUnixNs int64          `json:"start_unix_ns,omitempty"`
	Command     string         `json:"command,omitempty"`
	// Duration is a Go duration string ("1m30s"); DurationNs the same in ns.
	Duration   string         `json:"duration"`
	DurationNs int64          `json:"duration_ns"`
	Ops        OpCounts       `json:"ops"`
	Faults     []FaultSummary `json:"faults"`
	Checks     []CheckSummary `json:"checks"`
	Hazard     models.Hazard  `json:"hazard"`
	// Ghosts are the ghost leaders (a figure: see package models/ghost).
	Ghosts []models.GhostLeader `json:"ghost_leaders,omitempty"`
	// HungPort counts the leases lost during hung client ports (a figure:
	// see package models/hungport).
	HungPort *models.HungPortLeases `json:"hung_port_leases,omitempty"`
	// KnownIssues are the findings classified as known etcd bugs (see
	// package models/knownissues), each with its issue: upstream-known or
	// found by etcdchaos, its link or draft report.
	KnownIssues []models.Finding `json:"known_issues"`
	// Findings groups every finding of every check by check, name and
	// issue (or kind), with a count and the first.
	Findings    []models.FindingGroup `json:"findings"`
	ServerTruth bool                  `json:"server_truth"`
	Warnings    []string              `json:"warnings"`
	Notes       []string              `json:"notes,omitempty"`
}

// OpCounts counts operations by outcome and by function and outcome.
// Outcomes are ok, fail, info and pending (no completion recorded).
type OpCounts struct {
	Total     int                       `json:"total"`
	ByOutcome map[string]int            `json:"by_outcome"`
	ByF       map[string]map[string]int `json:"by_f"`
}

// FaultSummary is one fault interval. EndNs is null for a fault still
// active at the end of the history; a one-shot fault has EndNs == StartNs.
type FaultSummary struct {
	Kind    string `json:"kind"`
	Detail  string `json:"detail,omitempty"`
	Member  int    `json:"member,omitempty"`
	Target  int    `json:"target,omitempty"`
	Lease   int64  `json:"lease,omitempty"`
	StartNs int64  `json:"start_ns"`
	EndNs   *int64 `json:"end_ns"`
	Ended   bool   `json:"ended"`
}

// CheckSummary is one check on one lock or election name.
type CheckSummary struct {
	Check     string         `json:"check"`
	Name      string         `json:"name"`
	Verdict   models.Verdict `json:"verdict"`
	Recorded  models.Verdict `json:"recorded"`
	Fails     bool           `json:"fails"`
	Ops       int            `json:"ops"`
	Account   string         `json:"account,omitempty"`
	Evidence  []int64        `json:"evidence,omitempty"`
	AtNs      int64          `json:"at_ns,omitempty"`
	Revisions []int64        `json:"revisions,omitempty"`
	// RecordedAccount is the check's own account of a violation that
	// classification explained; Withdrawn the operations it withdrew.
	RecordedAccount string  `json:"recorded_account,omitempty"`
	Withdrawn       []int64 `json:"withdrawn,omitempty"`
	// Findings lists every finding of the check, each classified;
	// Undecided counts the claims it could not check.
	Findings  []models.Finding `json:"findings,omitempty"`
	Undecided int              `json:"undecided,omitempty"`
	ElapsedNs int64            `json:"elapsed_ns"`
	// Visualization is the path of the Porcupine visualization relative to
	// the run directory, empty when there is none.
	Visualization string `json:"visualization,omitempty"`
}

// BuildSummary computes the machine-readable verdict of a run.
func BuildSummary(h *history.History, res models.Result, meta Meta) Summary {
	return buildSummary(h, res, meta, vizPaths(res.Checks))
}

func buildSummary(h *history.History, res models.Result, meta Meta, viz []string) Summary {
	hd := h.Header
	s := Summary{
		Format: SummaryFormat, Scenario: hd.Scenario, Seed: hd.Seed,
		Workload: hd.Workload, Backend: hd.Backend, Mutant: hd.Mutant,
		Members: hd.Members, Clients: hd.Clients, EtcdVersion: hd.EtcdVersion,
		LeaseTTLMs: hd.LeaseTTLMs, StartUnixNs: hd.StartUnixNs,
		Command: meta.Command, Ops: countOps(h.Operations()), Faults: summarizeFaults(h.Faults()),
		Hazard: res.Hazard, Ghosts: res.Ghosts, HungPort: res.HungPort, ServerTruth: hd.ServerTruth,
		KnownIssues: append([]models.Finding{}, res.KnownIssues...),
		Warnings:    append([]string{}, h.Warnings...), Notes: meta.Notes,
		Verdict: res.Verdict, ExitCode: res.ExitCode,
	}
	if s.Command == "" {
		s.Command = hd.Command
	}
	d := meta.Duration
	if d == 0 {
		d = time.Duration(h.EndTime())
	}
	s.Duration, s.DurationNs = d.String(), int64(d)
	s.Checks = make([]CheckSummary, 0, len(res.Checks))
	for i, c := range res.Checks {
		s.Checks = append(s.Checks, summarizeCheck(c, viz[i]))
	}
	s.Findings = models.GroupFindings(res.Findings())
	return s
}

func summarizeCheck(c models.CheckResult, viz string) CheckSummary {
	return CheckSummary{
		Check: c.Check, Name: c.Name, Verdict: c.Verdict, Recorded: c.Recorded, Fails: c.Fails, Ops: c.Ops,
		Account: c.Account, Evidence: c.Evidence, AtNs: c.At, Revisions: c.Revisions,
		RecordedAccount: c.RecordedAccount, Withdrawn: c.Withdrawn, Findings: c.Findings, Undecided: c.Undecided,
		ElapsedNs: int64(c.Elapsed), Visualization: viz,
	}
}

func countOps(ops []history.Operation) OpCounts {
	c := OpCounts{Total: len(ops), ByOutcome: map[string]int{}, ByF: map[string]map[string]int{}}
	for _, op := range ops {
		o := string(op.Outcome)
		c.ByOutcome[o]++
		if c.ByF[op.F] == nil {
			c.ByF[op.F] = map[string]int{}
		}
		c.ByF[op.F][o]++
	}
	return c
}

func summarizeFaults(faults []history.Fault) []FaultSummary {
	out := make([]FaultSummary, 0, len(faults))
	for _, f := range faults {
		fs := FaultSummary{Kind: f.Kind, Detail: f.Detail, Member: f.Member, Target: f.Target,
			Lease: f.Lease, StartNs: f.Start, Ended: f.Ended}
		if f.End != history.Never {
			end := f.End
			fs.EndNs = &end
		}
		out = append(out, fs)
	}
	return out
}

// ReadMeta recovers the meta of an earlier report from dir/summary.json, so
// that a regenerated report keeps what only the run knew (command line,
// duration, notes). A missing file yields an empty Meta.
func ReadMeta(dir string) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("read summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Meta{}, fmt.Errorf("parse %s: %w", filepath.Join(dir, "summary.json"), err)
	}
	return Meta{Command: s.Command, Duration: time.Duration(s.DurationNs), Notes: s.Notes}, nil
}
