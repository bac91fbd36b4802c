package models

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

// leaseResult is the lease check's result on h, and whether it ran.
func leaseResult(t *testing.T, h *history.History) (CheckResult, bool) {
	t.Helper()
	res, err := Check(context.Background(), h, Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	return findCheck(res, CheckLease)
}

// withLines is a hand-written history with extra lines merged in by time.
func withLines(t *testing.T, file string, extra ...string) *history.History {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file+".jsonl"))
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
		{"illegal-lease-ttl-out-of-range", FindingLeaseTTLOutOfRange, 1, []string{
			"client 1's keepalive of lease 64 (op 1) returned ok at 0.11 s with TTL 3s, outside [-1, 2s]",
			"(2 findings in all)"}},
		{"illegal-lease-early-expiry", FindingLeaseEarlyExpiry, 3, []string{
			"lease 64's key /x/lock/l0/64 (created at revision 10) was deleted at revision 11, seen at 1.50 s, with no unlock, resign or revoke that explains it",
			"client 1's keep-alive (op 3), invoked at 1.20 s, had renewed the lease for 2s, until 3.20 s at the earliest"}},
		{"illegal-lease-keepalive-after-revoke", FindingKeepAliveAfterRevoke, 4, []string{
			"client 1's keep-alive of lease 64 (op 4), invoked at 1.20 s, returned ok with TTL 2s, but client 1's revoke (op 3), done at 1.10 s, had revoked the lease before"}},
		{"illegal-lease-keepalive-after-revoke-fault", FindingKeepAliveAfterRevoke, 3, []string{
			"but a revoke-lease fault at 1.00 s, done by 1.05 s, had revoked the lease before"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			h := readTestdata(t, tc.file)
			l := checkLeases(h, h.Operations())
			require.NotNil(t, l)
			require.NotEmpty(t, l.findings)
			f := l.findings[0]
			assert.Equal(t, tc.kind, f.Kind)
			assert.Equal(t, tc.op, f.Op)
			assert.Contains(t, f.Evidence, tc.op)
			r, ok := leaseResult(t, h)
			require.True(t, ok)
			assert.Equal(t, LeaseCheckName, r.Name)
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
			assert.Equal(t, Ok, r.Verdict, r.Account)
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
			assert.Equal(t, Violation, r.Verdict, "%s explains nothing", why)
		})
	}
}

// Keep-alives and TimeToLive answers belong to no family: the lock and
// election models never see them, so they are never proof that a lease is
// alive; and a history without them has no lease check, so no existing
// verdict changes.
func TestLeaseOperationsBelongToNoFamily(t *testing.T) {
	for _, f := range []string{history.FKeepAlive, history.FLeaseTTL} {
		fam, kind := familyOf(f)
		assert.Nil(t, fam, f)
		assert.Zero(t, kind, f)
		assert.Zero(t, kindOf(f), f)
		assert.False(t, leaseDeath(f), f)
	}
	h := readTestdata(t, "legal-lease-revoke-and-unlock")
	for _, p := range splitByName(h.Operations(), h.Faults(), nil) {
		for _, m := range p.mops {
			assert.NotContains(t, []string{history.FKeepAlive, history.FLeaseTTL}, m.op.F)
		}
	}
	for _, tc := range handWritten {
		if strings.Contains(tc.file, "-lease-") && !strings.Contains(tc.file, "lease-lost") {
			continue
		}
		_, ok := leaseResult(t, readTestdata(t, tc.file))
		assert.False(t, ok, "%s has no lease answers: no lease check", tc.file)
	}
}

// A lease finding fails the run and can be shrunk like any other.
func TestLeaseFindingShrinks(t *testing.T) {
	h := readTestdata(t, "illegal-lease-keepalive-after-revoke")
	res, err := Shrink(context.Background(), h, ShrinkOptions{Check: CheckLease, MaxTime: 20 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, Violation, res.Final.Verdict)
	assert.Equal(t, CheckLease, res.Final.Check)
	assert.LessOrEqual(t, res.OpsAfter, res.OpsBefore)
}

// TestRecordedLeaseBugs holds the lease check to histories older etcd
// releases recorded: known etcd issue N on the version that has it, a
// violation (a regression) on the release that fixed it.
//   - 17506 on v3.5.13, scenario lease-ttl seed 1: an excerpt of one lease
//     keeper's answers around the moment;
//   - 17425 on v3.5.12, scenario stale-leader seed 1, shrunk (with the
//     leader pause that ended just before the deletion put back);
//   - 18428 on v3.7.3, scenario stale-leader seed 2, shrunk (with the
//     leader pauses around it put back); v3.5.15 has 17425's fix and not
//     18428's shortcut, so there it is a regression.
func TestRecordedLeaseBugs(t *testing.T) {
	for _, tc := range []struct {
		file, recorded, fixed string
		issue                 string
		evidence              []int64
		account               string
	}{
		{"known-lease-ttl-17506-v3.5.13", "3.5.13", "3.5.14", "known etcd issue 17506", []int64{10211},
			"client 3's lease-ttl of lease 74a7a2353e14ff1d (op 10211) returned ok at 36.36 s with TTL 9223372036s, outside [-1, 2s]"},
		{"known-lease-early-expiry-18428-v3.7.3", "3.7.3", "3.5.15", "known etcd issue 18428", []int64{1},
			"lease 34d7a2355b39555a's key /etcdchaos/election/e1/34d7a2355b39555a (created at revision 1788) was deleted at revision 1848, seen at 36.15 s, with no unlock, resign or revoke that explains it: an expiry, but client 1's keep-alive (op 1), invoked at 35.69 s, had renewed the lease for 2s, until 37.69 s at the earliest"},
		{"known-lease-early-expiry-17425-v3.5.12", "3.5.12", "3.5.13", "known etcd issue 17425", []int64{3},
			"lease 5de8a2354f7e68fa's key /etcdchaos/election/e0/5de8a2354f7e68fa (created at revision 1835) was deleted at revision 1867, seen at 24.28 s, with no unlock, resign or revoke that explains it: an expiry, but client 2's keep-alive (op 3), invoked at 24.11 s, had renewed the lease for 2s, until 26.11 s at the earliest"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file+".jsonl"))
		require.NoError(t, err)
		for _, v := range []struct {
			version string
			verdict Verdict
		}{{tc.recorded, KnownIssue}, {tc.fixed, Violation}} {
			t.Run(tc.file+"/"+v.version, func(t *testing.T) {
				text := strings.Replace(string(data), `"etcd_version":"`+tc.recorded+`"`, `"etcd_version":"`+v.version+`"`, 1)
				h, err := history.Read(strings.NewReader(text), tc.file)
				require.NoError(t, err)
				r, ok := leaseResult(t, h)
				require.True(t, ok)
				assert.Equal(t, v.verdict, r.Verdict, r.Account)
				assert.Contains(t, r.Account, tc.account)
				assert.Equal(t, tc.evidence, r.Evidence)
				assert.Equal(t, v.verdict == KnownIssue, strings.Contains(r.Account, tc.issue), r.Account)
				if v.verdict == Violation {
					// Every finding is listed, the first as the account words it.
					require.NotEmpty(t, r.Findings)
					assert.Equal(t, tc.evidence, r.Findings[0].Evidence)
					assert.Contains(t, r.Account, r.Findings[0].Account)
				} else {
					assert.Empty(t, r.Findings, "a known issue is listed under known issues")
				}
			})
		}
	}
}
