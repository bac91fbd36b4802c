package models

import (
	"fmt"
	"sort"
)

// Kinds of findings. A check states what it refuted; the registry of known
// etcd issues reads the operations and the record behind a finding to
// decide whether it shows a registered bug's mechanism.
const (
	// Truth findings (package truth).
	FindingPhantomGrant     = "phantom-grant"
	FindingFencedOutside    = "fenced-write-outside-ownership"
	FindingLostWrite        = "lost-write"
	FindingLostProclaim     = "lost-proclaim"
	FindingNotReleased      = "release-did-not-release"
	FindingUnfencedNotOwner = "unfenced-write-by-non-owner"
	FindingStaleRead        = "stale-read"

	// Lease findings (package lease).
	FindingLeaseTTLOutOfRange   = "lease-ttl-out-of-range"
	FindingLeaseEarlyExpiry     = "lease-early-expiry"
	FindingKeepAliveAfterRevoke = "keepalive-after-revoke"
	FindingAliveAfterKeysGone   = "lease-alive-after-keys-gone"
	FindingLeaseKeysPartlyGone  = "lease-keys-partly-gone"

	// Liveness findings (package liveness).
	FindingStuckWaiter = "stuck-waiter"
	FindingNotAcquired = "not-acquired-after-healing"

	// Ghost findings (package ghost).
	FindingGhostLeader = "ghost-leader"

	// A porcupine model's refusal of an operation (package linear).
	FindingModelRefusal = "model-refusal"
)

// Finding is one claim a check refuted, with the operations, times and
// revisions that prove it, and how classification judged it.
type Finding struct {
	// Check is the check that made the finding; Kind what it refuted.
	Check string `json:"check"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	// F is the refuted operation's function (lock, campaign, write, ...)
	// and Op its id.
	F  string `json:"f"`
	Op int64  `json:"op"`
	// Refusal is why a porcupine model refused Op (model-refusal findings).
	Refusal string `json:"refusal,omitempty"`
	// Key and CreateRev name the key the finding is about, Lease its lease,
	// where there is one.
	Key       string `json:"key,omitempty"`
	CreateRev int64  `json:"create_rev,omitempty"`
	Lease     int64  `json:"lease,omitempty"`
	// Account says in plain words what happened, with the revisions.
	Account   string  `json:"account"`
	Evidence  []int64 `json:"evidence,omitempty"`
	At        int64   `json:"at"`
	Revisions []int64 `json:"revisions,omitempty"`

	// Class is how classification judged the finding: Violation or
	// KnownIssue; Issue names the issue whose mechanism it shows.
	Class Verdict   `json:"class,omitempty"`
	Issue *IssueRef `json:"issue,omitempty"`
}

// IssueRef names a registered etcd bug as a classified finding cites it.
type IssueRef struct {
	// ID is the upstream issue or pull request number for a bug etcd's
	// maintainers know ("19597"), or an id of etcdchaos's own
	// ("etcdchaos-1") for an etcd bug etcdchaos found that is not reported
	// upstream.
	ID       string `json:"id"`
	Upstream bool   `json:"upstream"`
	Title    string `json:"title"`
	// URL is the upstream issue; for etcdchaos's own findings, the draft
	// upstream report (Report) and the change that brought the bug, if
	// known.
	URL    string `json:"url,omitempty"`
	Report string `json:"report,omitempty"`
	// Mechanism is what the finding showed, in the registry's words.
	Mechanism string `json:"mechanism"`
}

// Label is how reports and logs name the issue: "known etcd issue 19597"
// or "etcd bug etcdchaos-1 (found by etcdchaos, not reported upstream)".
func (i IssueRef) Label() string {
	if i.Upstream {
		return "known etcd issue " + i.ID
	}
	return "etcd bug " + i.ID + " (found by etcdchaos, not reported upstream)"
}

// Link is the issue's upstream link, or its draft report.
func (i IssueRef) Link() string {
	if i.Upstream || i.Report == "" {
		return i.URL
	}
	return i.Report
}

// FindingGroup is the findings of one issue (or kind, for violations) on
// one name: reports list groups, not every repeat.
type FindingGroup struct {
	Check string    `json:"check"`
	Name  string    `json:"name"`
	Kind  string    `json:"kind"`
	Class Verdict   `json:"class"`
	Issue *IssueRef `json:"issue,omitempty"`
	Count int       `json:"count"`
	// First is the earliest of them; FirstAt its time.
	First   Finding `json:"first"`
	FirstAt int64   `json:"first_at"`
}

// Summary is one line about the group: what it is (a violation, the
// documented hazard, an upstream-known etcd issue or an etcd bug found by
// etcdchaos), where, how often, the first, and the issue's link or draft
// report.
func (g FindingGroup) Summary() string {
	head, what := string(g.Class), g.Kind
	if g.First.Refusal != "" {
		what += " (" + g.First.Refusal + ")"
	}
	if g.Issue != nil {
		head, what = g.Issue.Label(), g.Issue.Title
	}
	s := fmt.Sprintf("%s: %s, on %s (%s check): %d× (first at %s, op %d)", head, what, g.Name, g.Check, g.Count, Secs(g.FirstAt), g.First.Op)
	if g.Issue != nil && g.Issue.Link() != "" {
		s += "; " + g.Issue.Link()
	}
	return s
}

// GroupFindings groups findings by check, name, class and issue (or kind),
// in order of their first finding.
func GroupFindings(findings []Finding) []FindingGroup {
	type key struct{ check, name, class, what string }
	at := map[key]int{}
	var out []FindingGroup
	for _, f := range findings {
		what := f.Kind
		if f.Issue != nil {
			what = f.Issue.ID
		}
		k := key{f.Check, f.Name, string(f.Class), what}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, FindingGroup{Check: f.Check, Name: f.Name, Kind: f.Kind, Class: f.Class, Issue: f.Issue,
				First: f, FirstAt: f.At})
		}
		g := &out[i]
		g.Count++
		if f.At < g.FirstAt {
			g.First, g.FirstAt = f, f.At
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstAt < out[j].FirstAt })
	return out
}

// IssueCount is how many findings showed one registered bug.
type IssueCount struct {
	Issue IssueRef
	Count int
}

// CountIssues counts the findings of each registered bug, in order of the
// first finding of each.
func CountIssues(findings []Finding) []IssueCount {
	var out []IssueCount
	at := map[string]int{}
	for _, f := range findings {
		if f.Issue == nil {
			continue
		}
		i, ok := at[f.Issue.ID]
		if !ok {
			i = len(out)
			at[f.Issue.ID] = i
			out = append(out, IssueCount{Issue: *f.Issue})
		}
		out[i].Count++
	}
	return out
}
