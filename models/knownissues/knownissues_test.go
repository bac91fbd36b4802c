package knownissues

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatchNeedsSignatureAndAffectedVersion(t *testing.T) {
	phantom := Facts{Kind: "phantom-grant", F: "campaign", DeletedWhileWaiting: true}
	i, ok := Match(phantom, "3.7.3")
	assert.True(t, ok)
	assert.Equal(t, 19597, i.ID)
	assert.Contains(t, i.Message(), "known etcd issue 19597")
	assert.Contains(t, i.Message(), "https://github.com/etcd-io/etcd/issues/19597")

	_, ok = Match(Facts{Kind: "phantom-grant", F: "lock", DeletedWhileWaiting: true}, "3.7.3")
	assert.False(t, ok, "a phantom lock is not the election bug")
	_, ok = Match(Facts{Kind: "phantom-grant", F: "campaign"}, "3.7.3")
	assert.False(t, ok, "a grant of a key the server never had is another finding")

	i, ok = Match(Facts{Kind: "release-did-not-release", F: "resign", Retried: true}, "v3.5.12")
	assert.True(t, ok)
	assert.Equal(t, 22123, i.ID)
	_, ok = Match(Facts{Kind: "release-did-not-release", F: "resign"}, "3.7.3")
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
		assert.Contains(t, i.URL, "github.com/etcd-io/etcd/")
		assert.Contains(t, []string{"open", "fixed"}, i.State)
		assert.Equal(t, i.State == "open", len(i.Fixed) == 0, "issue %d: open means no fixed version", i.ID)
		assert.NotEmpty(t, i.Signature)
		assert.NotNil(t, i.matches)
		_, ok := parse(i.Since)
		assert.True(t, ok, "issue %d: since %q", i.ID, i.Since)
	}
}
