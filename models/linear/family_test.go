package linear

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
)

// Every operation on a name belongs to exactly one family, lease deaths to
// none, and every porcupine or observe check to exactly one.
func TestFamilyTable(t *testing.T) {
	for _, f := range []string{history.FLock, history.FUnlock, history.FWrite} {
		fam, kind := familyOf(f)
		assert.Equal(t, lockFamily, fam, f)
		assert.NotZero(t, kind, f)
	}
	for _, f := range []string{history.FCampaign, history.FProclaim, history.FResign, history.FLeader, history.FObserve} {
		fam, kind := familyOf(f)
		assert.Equal(t, electionFamily, fam, f)
		assert.NotZero(t, kind, f)
	}
	for _, f := range []string{history.FLeaseLost, history.FRevoke} {
		fam, _ := familyOf(f)
		assert.Nil(t, fam, f)
		assert.Equal(t, opDeath, kindOf(f), f)
	}
	for _, c := range []string{models.CheckLock, models.CheckFenced, models.CheckUnfenced} {
		assert.Equal(t, lockFamily, familyOfCheck(c), c)
	}
	for _, c := range []string{models.CheckElection, models.CheckObserve} {
		assert.Equal(t, electionFamily, familyOfCheck(c), c)
	}
	assert.Nil(t, familyOfCheck(models.CheckLiveness), "liveness is no porcupine check")
}

// Every violation a porcupine check records in the hand-written histories
// is explained by the rule that refused it, never by the catch-all account,
// and names the operation refused and why (what classification reads).
func TestRefusalsHaveTheirOwnAccount(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(handwritten.Dir(), "*.jsonl"))
	require.NoError(t, err)
	violations := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for _, c := range check(t, readTestdata(t, name), Options{}) {
			if c.Recorded != models.Violation {
				continue
			}
			violations++
			assert.NotContains(t, c.Account, "cannot follow", name)
			assert.NotEmpty(t, c.Evidence, name)
			assert.NotZero(t, c.Porcupine.Refused, "%s %s", name, c.Check)
			assert.NotEmpty(t, c.Porcupine.Refusal, "%s %s", name, c.Check)
			assert.Contains(t, c.Evidence, c.Porcupine.Refused, "%s %s: the refused operation is among the evidence", name, c.Check)
		}
	}
	assert.Greater(t, violations, 15)
}

// The accounts of two refusals the older, restated rules misnamed: a
// proclaim and a fenced write by a holder whose key is older than an
// earlier holder's.
func TestAccountsOfRevisionOrder(t *testing.T) {
	cases := []struct {
		name, check, history, want string
	}{
		{"proclaim", models.CheckElection, `
{"type":"invoke","op":1,"client":1,"f":"campaign","name":"e0","time":100,"value":{"value":"a","lease":177}}
{"type":"ok","op":1,"time":110,"value":{"key":"e0/b1","rev":10,"lease":177}}
{"type":"invoke","op":2,"client":1,"f":"resign","name":"e0","time":120,"value":{"key":"e0/b1","rev":10}}
{"type":"ok","op":2,"time":130,"value":{}}
{"type":"invoke","op":3,"client":2,"f":"campaign","name":"e0","time":140,"value":{"value":"b","lease":178}}
{"type":"info","op":3,"time":150,"error":"timeout"}
{"type":"invoke","op":4,"client":3,"f":"proclaim","name":"e0","time":160,"value":{"key":"e0/b2","rev":5,"value":"c"}}
{"type":"ok","op":4,"time":170,"value":{}}`,
			`client 3 proclaimed "c" on e0 at 0.00 s (op 4) with revision 5, not above revision 10 of an earlier leader to client 1 (op 1)`},
		{"fenced write", models.CheckFenced, `
{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":100,"value":{"lease":177}}
{"type":"ok","op":1,"time":110,"value":{"key":"l0/b1","rev":10,"lease":177}}
{"type":"invoke","op":2,"client":1,"f":"unlock","name":"l0","time":120,"value":{"key":"l0/b1"}}
{"type":"ok","op":2,"time":130,"value":{}}
{"type":"invoke","op":3,"client":2,"f":"lock","name":"l0","time":140,"value":{"lease":178}}
{"type":"info","op":3,"time":150,"error":"timeout"}
{"type":"invoke","op":4,"client":3,"f":"write","name":"l0","time":160,"value":{"key":"l0/b2","rev":5,"fenced":true,"data":"x"}}
{"type":"ok","op":4,"time":170,"value":{"rev":20}}`,
			`client 3's fenced write to l0 at 0.00 s (op 4) was guarded on lock revision 5, not above revision 10 granted earlier to client 1 (op 1)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := `{"type":"header","format":"etcdchaos-history/1","scenario":"hand","seed":1,"lease_ttl_ms":2000,"start_unix_ns":0,"members":3,"etcd_version":"3.7.3"}`
			h, err := history.Read(strings.NewReader(header+tc.history+"\n"), tc.name)
			require.NoError(t, err)
			c, ok := findCheck(check(t, h, Options{}), tc.check)
			require.True(t, ok)
			assert.Equal(t, models.Violation, c.Verdict)
			assert.Equal(t, tc.want, c.Account)
		})
	}
}
