package lease

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

func readTestdata(t testing.TB, name string) *history.History { return handwritten.Read(t, name) }

// leaseResult is the lease check's result on h (not classified), and
// whether it ran.
func leaseResult(t *testing.T, h *history.History) (models.CheckResult, bool) {
	t.Helper()
	return Check(h, h.Operations(), truth.Build(h))
}

// withLines is a hand-written history with extra lines merged in by time.
func withLines(t *testing.T, file string, extra ...string) *history.History {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(handwritten.Dir(), file+".jsonl"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	events := append(lines[1:], extra...)
	timeOf := func(line string) int64 {
		var e struct{ Time int64 }
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		return e.Time
	}
	sort.SliceStable(events, func(i, j int) bool { return timeOf(events[i]) < timeOf(events[j]) })
	h, err := history.Read(bytes.NewBufferString(lines[0]+"\n"+strings.Join(events, "\n")+"\n"), file)
	require.NoError(t, err)
	return h
}

func TestLeaseFindings(t *testing.T) {
	cases := []struct {
		file    string
		kind    string
		op      int64
		account []string
	}{
		{"illegal-lease-ttl-out-of-range", models.FindingLeaseTTLOutOfRange, 1, []string{
			"client 1's keepalive of lease 64 (op 1) returned ok at 0.11 s with TTL 3s, outside [-1, 2s]",
		}},
		{"illegal-lease-early-expiry", models.FindingLeaseEarlyExpiry, 3, []string{
			"lease 64's key /x/lock/l0/64 (created at revision 10) was deleted at revision 11, seen at 1.50 s, with no unlock, resign or revoke that explains it",
			"client 1's keep-alive (op 3), invoked at 1.20 s, had renewed the lease for 2s, until 3.20 s at the earliest"}},
		{"illegal-lease-keepalive-after-revoke", models.FindingKeepAliveAfterRevoke, 4, []string{
			"client 1's keep-alive of lease 64 (op 4), invoked at 1.20 s, returned ok with TTL 2s, but client 1's revoke (op 3), done at 1.10 s, had revoked the lease before"}},
		{"illegal-lease-keepalive-after-revoke-fault", models.FindingKeepAliveAfterRevoke, 3, []string{
			"but a revoke-lease fault at 1.00 s, done by 1.05 s, had revoked the lease before"}},
		{"illegal-lease-keys-partly-gone-no-revoke-v3.7.4", models.FindingLeaseKeysPartlyGone, 4, []string{
			"client 1's lease-ttl of lease 64 (op 4), invoked at 1.00 s, found the lease (TTL 2s) but listed 400 of the 1000 keys attached to it (op 1, done at 0.20 s), from index 600"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			h := readTestdata(t, tc.file)
			r, ok := leaseResult(t, h)
			require.True(t, ok)
			require.NotEmpty(t, r.Findings)
			f := r.Findings[0]
			assert.Equal(t, tc.kind, f.Kind)
			assert.Equal(t, tc.op, f.Op)
			assert.Contains(t, f.Evidence, tc.op)
			assert.Equal(t, models.CheckLease, f.Check)
			assert.Equal(t, models.LeaseCheckName, r.Name)
			assert.True(t, r.Fails)
			for _, want := range tc.account {
				assert.Contains(t, r.Account, want)
			}
		})
	}
}

// Whatever else may have deleted the key is no expiry, and an answer that
// still found the lease after the deletion shows it was none: the early
// deletion of illegal-lease-early-expiry is then no finding.
func TestLeaseEarlyExpiryIsConservative(t *testing.T) {
	cases := map[string][]string{
		"an unlock of the key in flight": {
			`{"type":"invoke","op":7,"client":1,"f":"unlock","name":"l0","time":1400000000,"value":{"key":"/x/lock/l0/64"}}`,
			`{"type":"info","op":7,"time":1450000000,"error":"context deadline exceeded"}`},
		"a lock with the lease that did not succeed": {
			`{"type":"invoke","op":7,"client":1,"f":"lock","name":"l1","time":1400000000,"value":{"lease":100}}`,
			`{"type":"info","op":7,"time":1450000000,"error":"context deadline exceeded"}`},
		"a revoke-lease fault without an end": {
			`{"type":"fault","fault":"revoke-lease","phase":"start","time":1400000000,"target":1,"lease":100}`},
		"a keep-alive after the deletion that succeeded": {
			`{"type":"invoke","op":7,"client":100001,"f":"keepalive","time":1550000000,"value":{"lease":100,"granted_ttl":2}}`,
			`{"type":"ok","op":7,"time":1560000000,"value":{"lease":100,"ttl":2}}`},
		"a TimeToLive after the deletion that found the lease": {
			`{"type":"invoke","op":7,"client":2,"f":"lease-ttl","time":1550000000,"value":{"lease":100}}`,
			`{"type":"ok","op":7,"time":1560000000,"value":{"lease":100,"ttl":0,"granted_ttl":2}}`},
		"another key of the lease outlived the deletion": {
			`{"type":"server","name":"l1","time":300000000,"lease":100,"value":"","role":"lock","event":"put","key":"/x/lock/l1/64","rev":5,"create_rev":5}`},
	}
	for why, extra := range cases {
		t.Run(why, func(t *testing.T) {
			r, ok := leaseResult(t, withLines(t, "illegal-lease-early-expiry", extra...))
			require.True(t, ok)
			assert.Equal(t, models.Ok, r.Verdict, r.Account)
		})
	}
	explainNothing := map[string][]string{
		"an unlock invoked after the deletion was seen": {
			`{"type":"invoke","op":7,"client":2,"f":"unlock","name":"l0","time":1550000000,"value":{"key":"/x/lock/l0/64"}}`,
			`{"type":"ok","op":7,"time":1560000000,"value":{}}`},
		"an earlier cycle's unlock of the same key, and a lock that failed before the key's grant": {
			`{"type":"invoke","op":7,"client":1,"f":"lock","name":"l1","time":20000000,"value":{"lease":100}}`,
			`{"type":"fail","op":7,"time":30000000,"value":{},"error":"lock held"}`,
			`{"type":"invoke","op":8,"client":1,"f":"unlock","name":"l0","time":50000000,"value":{"key":"/x/lock/l0/64"}}`,
			`{"type":"ok","op":8,"time":60000000,"value":{}}`},
		"an expire-lease fault, which only stops renewals": {
			`{"type":"fault","fault":"expire-lease","phase":"start","time":1300000000,"target":1,"lease":100}`},
	}
	for why, extra := range explainNothing {
		t.Run(why, func(t *testing.T) {
			r, ok := leaseResult(t, withLines(t, "illegal-lease-early-expiry", extra...))
			require.True(t, ok)
			assert.Equal(t, models.Violation, r.Verdict, "%s explains nothing", why)
		})
	}
}

// A lock or campaign of unknown outcome explains a deletion of its lease's
// keys only until its lease ends, not for the rest of the run: an info lock
// invoked before the key's grant explains its early deletion while the
// lease lives on, but not once a loss of the lease was recorded before the
// key was even made (any key of the lease after that is already wrong).
func TestUnknownGrantExplainsUntilItsLeaseEnds(t *testing.T) {
	info := []string{
		`{"type":"invoke","op":7,"client":1,"f":"lock","name":"l1","time":50000000,"value":{"lease":100}}`,
		`{"type":"info","op":7,"time":60000000,"error":"context deadline exceeded"}`}
	r, ok := leaseResult(t, withLines(t, "illegal-lease-early-expiry", info...))
	require.True(t, ok)
	assert.Equal(t, models.Ok, r.Verdict, "the info lock may still delete its key: %s", r.Account)

	ended := append(info,
		`{"type":"invoke","op":8,"client":1,"f":"lease-lost","name":"l1","time":70000000,"value":{"lease":100,"last_alive":40000000}}`,
		`{"type":"ok","op":8,"time":70000000,"value":{}}`)
	r, ok = leaseResult(t, withLines(t, "illegal-lease-early-expiry", ended...))
	require.True(t, ok)
	assert.Equal(t, models.Violation, r.Verdict, r.Account)
	assert.Equal(t, models.FindingLeaseEarlyExpiry, r.Findings[0].Kind)
}

// A TimeToLive answer is held to the grant the client recorded, not to the
// granted TTL the same answer reports.
func TestTTLHeldToTheRecordedGrant(t *testing.T) {
	h := withLines(t, "legal-lease-ttl-in-range",
		`{"type":"invoke","op":90,"client":100009,"f":"lease-ttl","time":900000000,"value":{"lease":100,"granted_ttl":2}}`,
		`{"type":"ok","op":90,"time":910000000,"value":{"lease":100,"ttl":30,"granted_ttl":60}}`)
	r, ok := leaseResult(t, h)
	require.True(t, ok)
	assert.Equal(t, models.Violation, r.Verdict, r.Account)
	assert.Contains(t, r.Account, "outside [-1, 2s]")
}

// A lease is alive after its keys are gone only when its death deleted
// them: an unlock of the last key, or a lock with the lease that did not
// succeed (its backend deletes its key), may have deleted it instead, and
// the lease lives on.
func TestAliveAfterKeysGoneNeedsTheLeasesDeath(t *testing.T) {
	r, ok := leaseResult(t, readTestdata(t, "illegal-lease-alive-after-keys-gone"))
	require.True(t, ok)
	require.Equal(t, models.Violation, r.Verdict)
	assert.Equal(t, models.FindingAliveAfterKeysGone, r.Findings[0].Kind)
	assert.Equal(t, []int64{11, 11}, r.Findings[0].Revisions)
	for why, extra := range map[string][]string{
		"an unlock of the key": {
			`{"type":"invoke","op":7,"client":1,"f":"unlock","name":"l0","time":900000000,"value":{"key":"/x/lock/l0/64"}}`,
			`{"type":"info","op":7,"time":950000000,"error":"context deadline exceeded"}`},
		"a lock with the lease that did not succeed": {
			`{"type":"invoke","op":7,"client":1,"f":"lock","name":"l1","time":900000000,"value":{"lease":100}}`,
			`{"type":"info","op":7,"time":950000000,"error":"context deadline exceeded"}`},
	} {
		t.Run(why, func(t *testing.T) {
			r, ok := leaseResult(t, withLines(t, "illegal-lease-alive-after-keys-gone", extra...))
			require.True(t, ok)
			for _, f := range r.Findings {
				assert.NotEqual(t, models.FindingAliveAfterKeysGone, f.Kind, "%s may have deleted the key: %s", why, f.Account)
			}
		})
	}
}

// An answer lists the keys attached before it was asked: one asked while
// the attach was under way may list fewer, and one that did not find the
// lease lists none.
func TestKeysListedAfterTheirAttach(t *testing.T) {
	r, ok := leaseResult(t, readTestdata(t, "legal-lease-keys-listed-while-attaching"))
	require.True(t, ok)
	assert.Equal(t, models.Ok, r.Verdict, r.Account)
	for _, file := range []string{"known-lease-keys-partly-gone-14758-v3.7.4", "illegal-lease-keys-partly-gone-head-v3.7.4"} {
		r, ok := leaseResult(t, readTestdata(t, file))
		require.True(t, ok)
		require.Len(t, r.Findings, 1, file)
		assert.Equal(t, models.FindingLeaseKeysPartlyGone, r.Findings[0].Kind, file)
		assert.Equal(t, []int64{4, 1}, r.Findings[0].Evidence, "the answer and the attach it is held to")
	}
}
