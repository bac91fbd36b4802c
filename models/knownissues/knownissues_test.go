package knownissues

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatchNeedsSignatureAndAffectedVersion(t *testing.T) {
	phantom := Facts{Kind: "phantom-grant", F: "campaign", DeletedWhileWaiting: true}
	i, ok := Match(phantom, Versions{Server: "3.7.3"})
	assert.True(t, ok)
	assert.Equal(t, 19597, i.ID)
	assert.Contains(t, i.Message(), "known etcd issue 19597")
	assert.Contains(t, i.Message(), "https://github.com/etcd-io/etcd/issues/19597")

	_, ok = Match(Facts{Kind: "phantom-grant", F: "lock", DeletedWhileWaiting: true}, Versions{Server: "3.7.3"})
	assert.False(t, ok, "a phantom lock is not the election bug")
	_, ok = Match(Facts{Kind: "phantom-grant", F: "campaign"}, Versions{Server: "3.7.3"})
	assert.False(t, ok, "a grant of a key the server never had is another finding")

	i, ok = Match(Facts{Kind: "release-did-not-release", F: "resign", Retried: true}, Versions{Server: "v3.5.12"})
	assert.True(t, ok)
	assert.Equal(t, 22123, i.ID)
	_, ok = Match(Facts{Kind: "release-did-not-release", F: "resign"}, Versions{Server: "3.7.3"})
	assert.False(t, ok, "a first resign that did not release is not the retry bug")
}

func TestFixedVersionsAreRegressions(t *testing.T) {
	fixed := Issue{Since: "3.5.0", Fixed: []string{"3.5.13", "3.6.0"}}
	for v, want := range map[string]bool{
		"3.5.12": true, "3.5.13": false, "v3.5.20": false, "3.6.0": false, "3.6.4": false, "3.7.3": false,
		"3.4.30": false, "3.6.0-rc.1": false, "garbage": false, "": false,
	} {
		assert.Equal(t, want, fixed.affects(v), "version %q", v)
	}
	open := Issue{Since: "3.0.0"}
	assert.True(t, open.affects("3.7.3"))
	assert.True(t, open.affects(""), "an open issue affects an unknown version")
	assert.False(t, open.affects("2.3.8"))
}

func TestEveryEntryIsComplete(t *testing.T) {
	for _, i := range All() {
		assert.NotZero(t, i.ID)
		assert.NotEmpty(t, i.Title)
		assert.Regexp(t, `^https://github.com/etcd-io/etcd/(issues|pull)/[0-9]+$`, i.URL)
		assert.True(t, strings.HasSuffix(i.URL, "/"+strconv.Itoa(i.ID)), "issue %d: link %s", i.ID, i.URL)
		assert.Contains(t, []string{"open", "fixed"}, i.State)
		assert.Equal(t, i.State == "open", len(i.Fixed) == 0, "issue %d: open means no fixed version", i.ID)
		assert.NotEmpty(t, i.Signature)
		assert.NotNil(t, i.matches)
		_, ok := parse(i.Since)
		assert.True(t, ok, "issue %d: since %q", i.ID, i.Since)
	}
}

// TestLeaseIssuesByVersion holds each lease bug to the releases etcd's
// changelogs name: affected before its fix on each line, fixed from it on,
// and fixed on every line newer than the newest fixed one.
func TestLeaseIssuesByVersion(t *testing.T) {
	for _, tc := range []struct {
		facts    Facts
		id       int
		affected []string
		fixed    []string
	}{
		{Facts{Kind: "lease-early-expiry", F: "keepalive"}, 17425,
			[]string{"3.5.12", "v3.5.0", "3.4.30"},
			[]string{"3.5.13", "v3.5.15", "3.4.31"}},
		{Facts{Kind: "lease-ttl-out-of-range", F: "lease-ttl", AboveGranted: true}, 17506,
			[]string{"3.5.13", "3.5.12", "3.4.31"},
			[]string{"3.5.14", "3.4.32", "3.6.0", "3.7.3"}},
		{Facts{Kind: "keepalive-after-revoke", F: "keepalive"}, 20590,
			[]string{"3.5.22", "3.5.12", "3.6.4", "3.4.37"},
			[]string{"3.5.23", "3.6.5", "3.4.38", "3.7.0", "3.7.3"}},
	} {
		f := tc.facts
		for _, v := range tc.affected {
			i, ok := Match(f, Versions{Server: v})
			if assert.True(t, ok, "%s on %s", tc.facts.Kind, v) {
				assert.Equal(t, tc.id, i.ID, "%s on %s", tc.facts.Kind, v)
				assert.Contains(t, i.Message(), "known etcd issue "+strconv.Itoa(tc.id))
			}
		}
		for _, v := range tc.fixed {
			_, ok := Match(f, Versions{Server: v})
			assert.False(t, ok, "%s on %s is a regression, not issue %d", tc.facts.Kind, v, tc.id)
		}
		if i, ok := Match(f, Versions{Server: ""}); ok {
			assert.Equal(t, "open", i.State, "a fixed issue does not match an unknown version")
		}
	}
	// Early expiry came back with etcd PR 18428 (3.5.16, every 3.6 and 3.7
	// release): there it is that change's bug, not a regression.
	for _, v := range []string{"3.5.16", "v3.5.21", "3.5.23", "3.6.0", "3.7.3", ""} {
		i, ok := Match(Facts{Kind: "lease-early-expiry", F: "keepalive"}, Versions{Server: v})
		if assert.True(t, ok, "lease-early-expiry on %q", v) {
			assert.Equal(t, 18428, i.ID)
			assert.Contains(t, i.Message(), "not yet reported upstream")
		}
	}
	_, ok := Match(Facts{Kind: "lease-gone-early"}, Versions{Server: "3.5.12"})
	assert.False(t, ok, "another kind of lease finding is none of them")
	// 17506 is a TimeToLive answer above the grant; one below -1, or a
	// keep-alive's, is another bug.
	i, ok := Match(Facts{Kind: "lease-ttl-out-of-range", F: "lease-ttl"}, Versions{Server: "3.5.13"})
	if assert.True(t, ok) {
		assert.Equal(t, 17642, i.ID, "a TTL below -1 is not issue 17506 but a stale leader's answer")
	}
	_, ok = Match(Facts{Kind: "lease-ttl-out-of-range", F: "keepalive", AboveGranted: true}, Versions{Server: "3.5.13"})
	assert.False(t, ok, "a keep-alive's TTL is not issue 17506")
}

func TestLeaseIssueLinks(t *testing.T) {
	urls := map[int]string{}
	for _, i := range All() {
		urls[i.ID] = i.URL
	}
	assert.Equal(t, "https://github.com/etcd-io/etcd/pull/17425", urls[17425])
	assert.Equal(t, "https://github.com/etcd-io/etcd/issues/17506", urls[17506])
	assert.Equal(t, "https://github.com/etcd-io/etcd/pull/20590", urls[20590])
	assert.Equal(t, "https://github.com/etcd-io/etcd/pull/18428", urls[18428])
	assert.Equal(t, "https://github.com/etcd-io/etcd/pull/17642", urls[17642])
}

// A bug in the concurrency package runs in two copies: the server's (the
// v3lock and v3election services, the grpc backend) and the client
// library's (the concurrency backend). Whether a finding is affected is
// judged by the copy that ran.
func TestConcurrencyBugsAreJudgedByTheCopyThatRan(t *testing.T) {
	fixedInLibrary := Issue{ID: 1, InConcurrency: true, Since: "3.0.0", Fixed: []string{"3.6.2"}}
	server := Issue{ID: 2, Since: "3.0.0", Fixed: []string{"3.6.2"}}
	for _, tc := range []struct {
		v        Versions
		issue    Issue
		affected bool
	}{
		{Versions{Server: "3.5.12", Client: "3.7.3", Backend: "concurrency"}, fixedInLibrary, false},
		{Versions{Server: "3.5.12", Client: "3.7.3", Backend: "grpc"}, fixedInLibrary, true},
		{Versions{Server: "3.7.3", Client: "3.6.1", Backend: "concurrency"}, fixedInLibrary, true},
		{Versions{Server: "3.5.12", Backend: "concurrency"}, fixedInLibrary, true}, // an older history: the server's
		{Versions{Server: "3.5.12", Client: "3.7.3", Backend: "concurrency"}, server, true},
	} {
		assert.Equal(t, tc.affected, tc.issue.affects(tc.v.For(tc.issue)), "%+v issue %d", tc.v, tc.issue.ID)
	}
	for _, i := range All() {
		assert.Equal(t, i.ID == 19597 || i.ID == 22123, i.InConcurrency, "issue %d", i.ID)
	}
}
