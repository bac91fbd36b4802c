package knownissues

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
	"github.com/etcdchaos/etcdchaos/models/lease"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

func TestFixedVersionsAreRegressions(t *testing.T) {
	fixed := Issue{Since: "3.5.0", Fixed: []string{"3.5.13", "3.6.0"}}
	for v, want := range map[string]bool{
		"3.5.12": true, "3.5.13": false, "v3.5.20": false, "3.6.0": false, "3.6.4": false, "3.7.3": false,
		"3.4.30": false, "3.6.0-rc.1": false, "3.5.12-rc.0": true, "garbage": false, "": false, "3.5": false,
	} {
		assert.Equal(t, want, fixed.affects(v), "version %q", v)
	}
	open := Issue{Since: "3.0.0"}
	assert.True(t, open.affects("3.7.3"))
	assert.True(t, open.affects("v4.2.0"))
	assert.False(t, open.affects(""), "an unknown version matches nothing, open issue or not")
	assert.False(t, open.affects("unknown"))
	assert.False(t, open.affects("2.3.8"))
}

func TestEveryEntryIsComplete(t *testing.T) {
	ids := map[string]bool{}
	for _, i := range All() {
		assert.False(t, ids[i.ID], "duplicate id %s", i.ID)
		ids[i.ID] = true
		assert.NotEmpty(t, i.Title, i.ID)
		assert.NotEmpty(t, i.Mechanism, i.ID)
		assert.NotNil(t, i.shows, i.ID)
		assert.Contains(t, []string{"open", "fixed"}, i.State, i.ID)
		assert.Equal(t, i.State == "open", len(i.Fixed) == 0, "issue %s: open means no fixed version", i.ID)
		_, ok := release(i.Since)
		assert.True(t, ok, "issue %s: since %q", i.ID, i.Since)
		if i.Upstream {
			// An upstream entry links the issue or pull request that
			// describes the bug, under its own number.
			assert.Regexp(t, `^https://github.com/etcd-io/etcd/(issues|pull)/[0-9]+$`, i.URL)
			assert.True(t, strings.HasSuffix(i.URL, "/"+i.ID), "issue %s: link %s", i.ID, i.URL)
			assert.Empty(t, i.Report)
			continue
		}
		// A bug etcdchaos found has an id of its own and a draft report
		// ready to file, never a borrowed number.
		assert.Regexp(t, `^etcdchaos-[0-9]+$`, i.ID)
		assert.Equal(t, "docs/upstream/"+i.ID+".md", i.Report)
		assert.FileExists(t, filepath.Join("..", "..", i.Report))
		assert.Contains(t, i.Label(), "found by etcdchaos, not reported upstream")
	}
}

func TestUpstreamLinks(t *testing.T) {
	urls := map[string]string{}
	for _, i := range All() {
		urls[i.ID] = i.URL
	}
	assert.Equal(t, "https://github.com/etcd-io/etcd/issues/19597", urls["19597"])
	assert.Equal(t, "https://github.com/etcd-io/etcd/issues/22123", urls["22123"])
	assert.Equal(t, "https://github.com/etcd-io/etcd/issues/15247", urls["15247"], "17425's canonical issue")
	assert.Equal(t, "https://github.com/etcd-io/etcd/issues/17506", urls["17506"])
	for _, borrowed := range []string{"17425", "17642", "18428", "20590"} {
		_, ok := urls[borrowed]
		assert.False(t, ok, "%s is a pull request, not the bug", borrowed)
	}
}

// A bug in the concurrency package runs in two copies: the server's (the
// v3lock and v3election services, the grpc backend) and the client
// library's (the concurrency backend). Whether a finding is affected is
// judged by the copy that ran.
func TestConcurrencyBugsAreJudgedByTheCopyThatRan(t *testing.T) {
	fixedInLibrary := Issue{IssueRef: models.IssueRef{ID: "1"}, InConcurrency: true, Since: "3.0.0", Fixed: []string{"3.6.2"}}
	server := Issue{IssueRef: models.IssueRef{ID: "2"}, Since: "3.0.0", Fixed: []string{"3.6.2"}}
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
		assert.Equal(t, tc.affected, tc.issue.affects(tc.v.For(tc.issue)), "%+v issue %s", tc.v, tc.issue.ID)
	}
	for _, i := range All() {
		assert.Equal(t, i.ID == "19597" || i.ID == "21128" || i.ID == "22082" || i.ID == "22123", i.InConcurrency, "issue %s", i.ID)
	}
}

func readTestdata(t testing.TB, name string) *history.History { return handwritten.Read(t, name) }

// phantomFinding is the truth finding of known-truth-phantom-campaign, as
// the truth check makes it.
func phantomFinding(t *testing.T, h *history.History) models.Finding {
	t.Helper()
	for _, r := range truth.Check(truth.Build(h), h.Operations()) {
		if len(r.Findings) > 0 {
			return r.Findings[0]
		}
	}
	require.FailNow(t, "no truth finding")
	return models.Finding{}
}

// A mechanism is matched on the evidence, not the symptom: the same
// finding stops matching when a part of the mechanism is taken away.
func TestCampaignMechanismNeedsEveryPart(t *testing.T) {
	h := readTestdata(t, "known-truth-phantom-campaign")
	f := phantomFinding(t, h)
	match := func(h *history.History) (string, bool) {
		i, claims, ok := Match(f, NewEvidence(h, h.Operations(), truth.Build(h)))
		if ok {
			assert.Equal(t, []int64{f.Op}, claims)
		}
		return i.ID, ok
	}
	id, ok := match(h)
	require.True(t, ok)
	assert.Equal(t, "19597", id)

	fixed := *h
	fixed.Header.Fixes = []int{19597}
	_, ok = match(&fixed)
	assert.False(t, ok, "the clients ran 19597's client-side fix: it cannot be 19597")

	noDeath := &history.History{Header: h.Header}
	for _, e := range h.Events {
		if e.F != history.FLeaseLost {
			noDeath.Events = append(noDeath.Events, e)
		}
	}
	_, ok = match(noDeath)
	assert.False(t, ok, "nothing on record says the campaign's lease died")

	released := *h
	released.Events = append([]history.Event{}, h.Events...)
	for i, e := range released.Events {
		if e.Type == history.TypeServer && e.ServerFields.Action == history.ServerDelete && e.ServerFields.CreateRev == 11 {
			// The client resigned its own key before it was deleted.
			resign := []history.Event{
				{Type: history.TypeInvoke, Op: 50, Client: 2, F: history.FResign, Name: "e0", Time: e.Time - 20, Value: &history.Value{Key: "/x/election/e0/c8", Rev: 11}},
				{Type: history.TypeInfo, Op: 50, Time: e.Time - 10, Error: "timeout"},
			}
			released.Events = append(released.Events[:i], append(resign, released.Events[i:]...)...)
			break
		}
	}
	_, ok = match(&released)
	assert.False(t, ok, "its own client released the key")
}

// leaseFindingOf is the lease check's finding of kind in h.
func leaseFindingOf(t *testing.T, h *history.History, kind string) models.Finding {
	t.Helper()
	r, ok := lease.Check(h, h.Operations(), truth.Build(h))
	require.True(t, ok)
	for _, f := range r.Findings {
		if f.Kind == kind {
			return f
		}
	}
	require.FailNow(t, "no "+kind+" finding")
	return models.Finding{}
}

// 14758 is named only for a TimeToLive that found the lease alive with a
// tail of its keys, in key order, while a revoke of it that completed was
// in flight: the same symptom without any one part stays a violation.
func TestHalfRevokedLeaseNeedsEveryPart(t *testing.T) {
	for file, want := range map[string]bool{
		"known-lease-keys-partly-gone-14758-v3.7.4":          true,
		"known-lease-keys-all-gone-14758-v3.7.4":             true,
		"illegal-lease-keys-partly-gone-no-revoke-v3.7.4":    false,
		"illegal-lease-keys-partly-gone-head-v3.7.4":         false,
		"illegal-lease-keys-partly-gone-holes-v3.7.4":        false,
		"illegal-lease-keys-partly-gone-expired-v3.7.4":      false,
		"illegal-lease-keys-partly-gone-after-revoke-v3.7.4": false,
	} {
		h := readTestdata(t, file)
		f := leaseFindingOf(t, h, models.FindingLeaseKeysPartlyGone)
		i, claims, ok := Match(f, NewEvidence(h, h.Operations(), truth.Build(h)))
		assert.Equal(t, want, ok, "%s: %s", file, i.ID)
		if ok {
			assert.Equal(t, "14758", i.ID, file)
			assert.Empty(t, claims, "a lease answer's claim misleads no other check")
		}
	}
	// The same answer, carrying a revision at or after the revoke's: a
	// TimeToLive's header is filled after the lessor answered, so that
	// proves nothing more; its keys name the mechanism.
	h := readTestdata(t, "known-lease-alive-after-keys-gone-14758-v3.7.4")
	i, _, ok := Match(leaseFindingOf(t, h, models.FindingLeaseKeysPartlyGone), NewEvidence(h, h.Operations(), truth.Build(h)))
	assert.True(t, ok)
	assert.Equal(t, "14758", i.ID)
	r, _ := lease.Check(h, h.Operations(), truth.Build(h))
	for _, f := range r.Findings {
		assert.NotEqual(t, models.FindingAliveAfterKeysGone, f.Kind, "a TimeToLive's revision proves nothing of when its lessor looked")
	}
	// Without the keys an answer lists, nothing shows where the lessor was.
	h = readTestdata(t, "illegal-lease-alive-after-keys-gone")
	h.Header.EtcdVersion = "3.7.4"
	_, _, ok = Match(leaseFindingOf(t, h, models.FindingAliveAfterKeysGone), NewEvidence(h, h.Operations(), truth.Build(h)))
	assert.False(t, ok, "a keep-alive lists no keys")

	h = readTestdata(t, "known-lease-keys-partly-gone-14758-v3.7.4")
	h.Header.EtcdVersion = "unknown"
	f := leaseFindingOf(t, h, models.FindingLeaseKeysPartlyGone)
	_, _, ok = Match(f, NewEvidence(h, h.Operations(), truth.Build(h)))
	assert.False(t, ok, "a version that cannot be read matches nothing")
}
