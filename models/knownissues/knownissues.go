// Package knownissues is the registry of known etcd bugs that etcdchaos can
// find, so that a finding that matches one is reported as "known etcd issue
// N" with its link instead of as something new. An entry names the versions
// it affects; the same finding on a version the entry says is fixed is a
// regression, reported as a plain violation.
package knownissues

import (
	"fmt"
	"strconv"
	"strings"
)

// Facts are what a finding shows, in the terms entries match on.
type Facts struct {
	// Kind is the kind of finding (models.Finding*), e.g. "phantom-grant".
	Kind string
	// F is the operation the finding refutes (lock, campaign, resign, ...).
	F string
	// DeletedWhileWaiting: the granted key was deleted before it could own.
	DeletedWhileWaiting bool
	// Retried: a release retried after an earlier one did not succeed.
	Retried bool
	// AboveGranted: a TTL answer larger than the lease's granted TTL.
	AboveGranted bool
}

// Issue is one known etcd bug.
type Issue struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
	// State is "open" or "fixed".
	State string `json:"state"`
	// Since is the first affected release; Fixed lists the first fixed
	// release of each minor line that has one (empty while open).
	Since string   `json:"since"`
	Fixed []string `json:"fixed,omitempty"`
	// Signature says in words what a finding must show to be this issue.
	Signature string `json:"signature"`
	// InConcurrency: the bug is in the client library's concurrency
	// package, of which there are two copies in a run: the v3lock and
	// v3election services run the server's, and the concurrency backend
	// runs the client library etcdchaos was built with. Whether a finding
	// is affected then depends on the backend (see Versions.For).
	InConcurrency bool `json:"in_concurrency,omitempty"`
	matches       func(Facts) bool
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
	return fmt.Sprintf("known etcd issue %d: %s (%s)", i.ID, i.Title, i.URL)
}

var registry = []Issue{
	{
		ID: 19597, Title: "Campaign returns success after the campaigner's lease expired while it waited",
		URL: "https://github.com/etcd-io/etcd/issues/19597", State: "open", Since: "3.0.0", InConcurrency: true,
		Signature: "a campaign that returned ok for a key the server deleted (its lease died) before every older key was gone: phantom leadership",
		matches: func(f Facts) bool {
			return f.Kind == "phantom-grant" && f.F == "campaign" && f.DeletedWhileWaiting
		},
	},
	{
		ID: 22123, Title: "a failed Resign forgets the leadership, so a retried Resign returns nil while the key stays",
		URL: "https://github.com/etcd-io/etcd/issues/22123", State: "open", Since: "3.0.0", InConcurrency: true,
		Signature: "a resign that returned ok after an earlier resign of the same key by the same client did not succeed, while the key still existed after it returned",
		matches: func(f Facts) bool {
			return f.Kind == "release-did-not-release" && f.F == "resign" && f.Retried
		},
	},
	// The lease bugs below are fixed; older releases still have them, and
	// `make etcd ETCD_VERSION=...` builds those releases for `zoo`. The
	// fixed versions are from etcd's CHANGELOG-3.4, -3.5 and -3.6; every
	// 3.6 release and later has the first two fixes.
	{
		ID: 17425, Title: "a stalled old leader still serves lease renewals and revokes",
		URL: "https://github.com/etcd-io/etcd/pull/17425", State: "fixed", Since: "3.0.0",
		Fixed:     []string{"3.4.31", "3.5.13"},
		Signature: "a lease whose keys were deleted by an expiry before the TTL its last keep-alive renewed it for ran out: an old leader, continued after a stall, revoked a lease the new leader kept alive (or renewed one the new leader then expired)",
		matches:   func(f Facts) bool { return f.Kind == "lease-early-expiry" },
	},
	{
		ID: 17506, Title: "LeaseTimeToLive returns a TTL near 9.2e9 s during a leader change",
		URL: "https://github.com/etcd-io/etcd/issues/17506", State: "fixed", Since: "3.0.0",
		Fixed:     []string{"3.4.32", "3.5.14"},
		Signature: "a LeaseTimeToLive answer whose TTL is larger than the lease's granted TTL (9223372036 s: the expiry of a lessor that is not primary)",
		matches: func(f Facts) bool {
			return f.Kind == "lease-ttl-out-of-range" && f.F == "lease-ttl" && f.AboveGranted
		},
	},
	{
		ID: 20590, Title: "a renew succeeds on a lease that was just revoked",
		URL: "https://github.com/etcd-io/etcd/pull/20590", State: "fixed", Since: "3.0.0",
		Fixed:     []string{"3.4.38", "3.5.23", "3.6.5"},
		Signature: "a keep-alive answered ok after a revoke of the same lease had returned ok",
		matches:   func(f Facts) bool { return f.Kind == "keepalive-after-revoke" },
	},
	// Found by etcdchaos (scenarios stale-leader and member-pause) and
	// proven etcd's with a patched build (harness/etcdpatches); the link is
	// the fix of 17506, whose check after the lookup does not cover a
	// leader that has not yet learned it was deposed.
	{
		ID: 17642, Title: "LeaseTimeToLive answered by a leader continued after a stall, before it learns of the newer term, reads its own stale lessor: TTLs below -1 for leases the new leader keeps alive (found by etcdchaos, not yet reported upstream)",
		URL: "https://github.com/etcd-io/etcd/pull/17642", State: "open", Since: "3.0.0",
		Signature: "a LeaseTimeToLive answer whose TTL is below -1: an expiry the answering lessor counted seconds ago, which a primary lessor would have revoked",
		matches: func(f Facts) bool {
			return f.Kind == "lease-ttl-out-of-range" && f.F == "lease-ttl" && !f.AboveGranted
		},
	},
	// Found by etcdchaos (scenario stale-leader) and proven etcd's with a
	// patched build (harness/etcdpatches); no etcd issue names it yet, so
	// the link is the change that brought it. On 3.5.13 to 3.5.15 the same
	// finding is a regression of 17425. 3.4.34 got the same change; this
	// entry names only the lines tried.
	{
		ID: 18428, Title: "a stale leader revokes and renews leases again: the leadership check of PR 17425 is skipped while the raft loop ticks, as it does at once when a stalled leader continues (found by etcdchaos, not yet reported upstream)",
		URL: "https://github.com/etcd-io/etcd/pull/18428", State: "open", Since: "3.5.16",
		Signature: "as for 17425, on a release with etcd PR 18428: a lease's keys deleted by an expiry before the TTL its last keep-alive renewed it for ran out",
		matches:   func(f Facts) bool { return f.Kind == "lease-early-expiry" },
	},
}

// All returns every registered issue.
func All() []Issue {
	out := make([]Issue, len(registry))
	copy(out, registry)
	return out
}

// Match returns the registered issue whose signature the finding matches,
// if the version that ran its code (Versions.For) is one it affects. A
// version the issue is fixed in does not match: the finding is then a
// regression. An unreadable version matches only an issue that is still
// open.
func Match(f Facts, v Versions) (Issue, bool) {
	for _, i := range registry {
		if i.matches(f) && i.affects(v.For(i)) {
			return i, true
		}
	}
	return Issue{}, false
}

func (i Issue) affects(version string) bool {
	v, ok := parse(version)
	if !ok {
		return len(i.Fixed) == 0
	}
	if since, ok := parse(i.Since); ok && v.less(since) {
		return false
	}
	newest := semver{}
	for _, f := range i.Fixed {
		fv, ok := parse(f)
		if !ok {
			continue
		}
		if fv.major == v.major && fv.minor == v.minor {
			return v.less(fv)
		}
		if newest.less(fv) {
			newest = fv
		}
	}
	// A minor line newer than every fixed line has the fix.
	return len(i.Fixed) == 0 || v.major < newest.major || v.major == newest.major && v.minor < newest.minor
}

type semver struct{ major, minor, patch int }

func (a semver) less(b semver) bool {
	if a.major != b.major {
		return a.major < b.major
	}
	if a.minor != b.minor {
		return a.minor < b.minor
	}
	return a.patch < b.patch
}

// parse reads "3.5.12", "v3.5.12" or "3.6.0-rc.1" (pre-release ignored).
func parse(s string) (semver, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return semver{}, false
		}
		n[i] = x
	}
	return semver{n[0], n[1], n[2]}, true
}
