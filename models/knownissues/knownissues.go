// Package knownissues is the registry of etcd bugs that etcdchaos can find:
// those etcd's maintainers know (an upstream issue or pull request that
// describes the bug) and those etcdchaos found that are not reported
// upstream (an id of etcdchaos's own and a draft report under
// docs/upstream).
//
// An entry is a claim about mechanism, not symptom. Its Mechanism says in
// words what a finding must show, and its code reads the operations, the
// faults and the server truth behind a finding to see whether they show
// exactly that; a finding that only looks like the bug is not it. An entry
// also names the releases it affects: the same mechanism on a release the
// entry says is fixed is a regression, and a version that cannot be read
// matches nothing.
package knownissues

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/coreos/go-semver/semver"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Issue is one registered etcd bug.
type Issue struct {
	models.IssueRef
	// State is "open" or "fixed".
	State string `json:"state"`
	// Since is the first affected release; Fixed lists the first fixed
	// release of each minor line that has one (empty while open).
	Since string   `json:"since"`
	Fixed []string `json:"fixed,omitempty"`
	// InConcurrency: the bug is in the client library's concurrency
	// package, of which there are two copies in a run: the v3lock and
	// v3election services run the server's, and the concurrency backend
	// runs the client library etcdchaos was built with. Whether a finding
	// is affected then depends on the backend (see Versions.For).
	InConcurrency bool `json:"in_concurrency,omitempty"`
	// ClientFix is the issue whose client-side fix (run --fix) fixes this
	// one too, when it is not the issue's own number.
	ClientFix int `json:"client_fix,omitempty"`
	// shows reports whether finding f, read against ev, shows the bug's
	// mechanism, and which operations' claims the bug made false (the
	// ones classification may withdraw).
	shows func(f models.Finding, ev *Evidence) ([]int64, bool)
}

// Versions are what ran in a history: the etcd server's version (from its
// Status), the etcd client library's (from the recording binary; empty in
// older histories) and the workloads' backend.
type Versions struct {
	Server, Client, Backend string
}

// For is the version whose code a finding of issue i ran: the client
// library's for a concurrency-package bug on the concurrency backend (when
// known), the server's otherwise.
func (v Versions) For(i Issue) string {
	if i.InConcurrency && v.Backend == "concurrency" && v.Client != "" {
		return v.Client
	}
	return v.Server
}

// Affected describes the affected versions in words.
func (i Issue) Affected() string {
	if len(i.Fixed) == 0 {
		return fmt.Sprintf(">= %s (open)", i.Since)
	}
	return fmt.Sprintf(">= %s, fixed in %s", i.Since, strings.Join(i.Fixed, ", "))
}

// Message is how a matching finding is reported.
func (i Issue) Message() string {
	return fmt.Sprintf("%s: %s (%s)", i.Label(), i.Title, i.Link())
}

// All returns every registered issue.
func All() []Issue { return slices.Clone(registry) }

// ByID returns the registered issue with id.
func ByID(id string) (Issue, bool) {
	for _, i := range registry {
		if i.ID == id {
			return i, true
		}
	}
	return Issue{}, false
}

// Match returns the registered issue whose mechanism finding f shows, if
// the version that ran its code (Versions.For) is one it affects and the
// clients did not apply the issue's client-side fix; claims are the
// operations whose claims the bug made false.
func Match(f models.Finding, ev *Evidence) (issue Issue, claims []int64, ok bool) {
	hd := ev.Header
	v := Versions{Server: hd.EtcdVersion, Client: hd.ClientVersion, Backend: hd.Backend}
	for _, i := range registry {
		if !i.affects(v.For(i)) || i.fixedByClient(hd.Fixes) {
			continue
		}
		if claims, ok := i.shows(f, ev); ok {
			return i, claims, true
		}
	}
	return Issue{}, nil, false
}

// Shows reports whether finding f shows issue i's mechanism, for a finding
// of a history that Match already found i in (the versions and fixes are
// not read again), and which operations' claims it made false.
func Shows(i Issue, f models.Finding, ev *Evidence) ([]int64, bool) {
	for _, r := range registry {
		if r.ID == i.ID {
			return r.shows(f, ev)
		}
	}
	return nil, false
}

// fixedByClient reports whether the header says the clients ran the
// issue's client-side fix (run --fix): the finding cannot be that bug.
func (i Issue) fixedByClient(fixes []int) bool {
	if i.ClientFix != 0 {
		return slices.Contains(fixes, i.ClientFix)
	}
	n, err := strconv.Atoi(i.ID)
	return err == nil && slices.Contains(fixes, n)
}

// affects reports whether version is one the issue affects. A version that
// does not parse affects nothing.
func (i Issue) affects(version string) bool {
	v, ok := release(version)
	if !ok {
		return false
	}
	if since, ok := release(i.Since); !ok || v.LessThan(since) {
		return false
	}
	var newest *semver.Version
	for _, f := range i.Fixed {
		fv, ok := release(f)
		if !ok {
			return false
		}
		if fv.Major == v.Major && fv.Minor == v.Minor {
			return v.LessThan(fv)
		}
		if newest == nil || newest.LessThan(fv) {
			newest = &fv
		}
	}
	// A minor line newer than every fixed line has the fix.
	return newest == nil || v.Major < newest.Major || v.Major == newest.Major && v.Minor < newest.Minor
}

// release reads "3.5.12", "v3.5.12" or "3.6.0-rc.1" as the release it
// belongs to (a pre-release counts as its release).
func release(s string) (semver.Version, bool) {
	v, err := semver.NewVersion(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	if err != nil {
		return semver.Version{}, false
	}
	v.PreRelease, v.Metadata = "", ""
	return *v, true
}

// Evidence is what a mechanism may read behind a finding: the history's
// header, timing, operations and faults, and its server truth (nil when
// not recorded).
type Evidence struct {
	Header history.Header
	Timing models.Timing
	Ops    []history.Operation
	Faults []history.Fault
	Record *truth.Record
	byID   map[int64]*history.Operation
	// seen are the operations' response revisions by return time, with
	// the highest revision seen by each return time (see
	// revisionSeenBefore).
	seen []seenRevision
	// staleUnlocks are the stale unlocks by name, once found (see
	// staleUnlocksOn).
	staleUnlocks map[string][]staleUnlock
}

// seenRevision: by time at, an operation's response had shown revision
// rev (the highest so far).
type seenRevision struct{ at, rev int64 }

// NewEvidence gathers the evidence of h; ops are its operations and rec its
// server truth.
func NewEvidence(h *history.History, ops []history.Operation, rec *truth.Record) *Evidence {
	ev := &Evidence{Header: h.Header, Timing: models.TimingOf(h.Header), Ops: ops, Faults: h.Faults(), Record: rec,
		byID: make(map[int64]*history.Operation, len(ops))}
	for i := range ops {
		op := &ops[i]
		ev.byID[op.ID] = op
		if rev := ev.responseRevision(op); rev > 0 {
			ev.seen = append(ev.seen, seenRevision{op.Return, rev})
		}
	}
	slices.SortFunc(ev.seen, func(a, b seenRevision) int { return cmp.Compare(a.at, b.at) })
	for i := 1; i < len(ev.seen); i++ {
		ev.seen[i].rev = max(ev.seen[i].rev, ev.seen[i-1].rev)
	}
	return ev
}

// responseRevision is a revision an operation's response showed to have
// been committed: its header's, a write's own, or, for a read of an
// election's leader (leader, observe), the revision from which the server
// record says that key led (its older keys were all gone by then, or the
// read could not have returned it); 0 when it shows none.
func (ev *Evidence) responseRevision(op *history.Operation) int64 {
	if op.Outcome != history.Ok {
		return 0
	}
	rev := op.Output.HeaderRev
	switch {
	case op.F == history.FWrite:
		rev = max(rev, op.Output.Rev)
	case (op.F == history.FLeader || op.F == history.FObserve) && ev.Record != nil && op.Output.Key != "":
		if k := ev.Record.Queue(op.Name).Key(op.Output.Key, op.Output.Rev); k != nil && k.Owned() {
			rev = max(rev, k.Owner)
		}
	}
	return rev
}

// revisionSeenBefore reports whether an operation that returned before t
// had seen revision rev or a later one: rev was committed before t.
func (ev *Evidence) revisionSeenBefore(rev, t int64) bool {
	i := sort.Search(len(ev.seen), func(i int) bool { return ev.seen[i].at >= t })
	return i > 0 && ev.seen[i-1].rev >= rev
}

// Op is the operation with id, nil if none.
func (ev *Evidence) Op(id int64) *history.Operation { return ev.byID[id] }
