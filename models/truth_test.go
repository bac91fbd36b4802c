package models

import (
	"testing"
	"time"

	"github.com/etcdchaos/etcdchaos/history"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func truthOf(t *testing.T, file, name string) *truthChecker {
	t.Helper()
	h := readTestdata(t, file)
	byName := truthByName(h, h.Operations())
	require.Contains(t, byName, name)
	return byName[name]
}

// result is the truth check's result on one name, its findings not matched
// against the known-issue registry.
func (t *truthChecker) result() CheckResult {
	c := &checker{h: &history.History{Header: history.Header{EtcdVersion: "0.0.0"}}}
	return c.classify(CheckTruth, t.name, t.findings, t.undecided, len(t.ops)).result
}

func TestTruthFindings(t *testing.T) {
	cases := []struct {
		file, name string
		verdict    Verdict
		kind       string
		account    []string
	}{
		{"known-truth-phantom-campaign", "e0", Violation, FindingPhantomGrant, []string{
			"client 2's campaign of e0 returned ok at 9.50 s for key /x/election/e0/c8 (created at revision 11)",
			"the server deleted that key at revision 13 (seen at 5.90 s)",
			"the older key /x/election/e0/64 (client 1's, created at revision 10) was deleted only at revision 14",
			"c8 was never the oldest key, so it never led e0"}},
		{"illegal-truth-phantom-lock", "l0", Violation, FindingPhantomGrant, []string{"client 2's lock of l0", "never held l0"}},
		{"legal-truth-waiter-outlives-owner", "e0", Ok, "", nil},
		{"gap-truth-phantom-campaign", "e0", Unknown, "", []string{"1 claims on e0 could not be checked"}},
		{"illegal-truth-lost-write", "l0", Violation, FindingLostWrite, []string{
			`client 1's write of "c1-1" to l0 returned ok at 0.17 s with revision 12, but the server applied no such write at revision 12`}},
		{"illegal-truth-lost-proclaim", "e0", Violation, FindingLostProclaim, []string{`client 1's proclaim of "v3" on e0 returned ok at 0.17 s, but the server never wrote that value`}},
		{"legal-truth-lock-write-unlock", "l0", Ok, "", nil},
		{"known-truth-resign-retry", "e0", Violation, FindingNotReleased, []string{
			"client 1's resign of e0 returned ok at 3.11 s, but its key /x/election/e0/64 (created at revision 10) was deleted only at revision 12 (seen at 4.01 s)",
			"op 5, invoked after that at 3.50 s, read revision 11, when the key still existed"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			tr := truthOf(t, tc.file, tc.name)
			r := tr.result()
			assert.Equal(t, tc.verdict, r.Verdict, r.Account)
			for _, want := range tc.account {
				assert.Contains(t, r.Account, want)
			}
			if tc.kind != "" {
				require.NotEmpty(t, tr.findings)
				assert.Equal(t, tc.kind, tr.findings[0].Kind)
				assert.NotEmpty(t, tr.findings[0].Revisions)
			}
		})
	}
}

// Simulated correct lock and election services, recorded with server truth
// (contention, lost responses, expiries, revokes): the truth check finds
// nothing, and every other verdict is what it is without truth.
func TestGeneratedHistoriesWithTruthAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, election := range []bool{false, true} {
			cfg := genConfig{seed: seed, names: 2, clients: 5, ops: 4000, election: election, truth: true}
			h, res := checkBytes(t, generate(cfg), Options{Timeout: 20 * time.Second})
			require.NotEmpty(t, h.ServerEvents())
			truthChecks := 0
			for _, c := range res.Checks {
				assert.Equal(t, Ok, c.Verdict, "seed %d %s %s: %s", seed, c.Check, c.Name, c.Account)
				if c.Check == CheckTruth {
					truthChecks++
				}
			}
			assert.Equal(t, 2, truthChecks, "a truth check per name")
			assert.Empty(t, res.KnownIssues)
			cfg.truth = false
			_, without := checkBytes(t, generate(cfg), Options{Timeout: 20 * time.Second})
			assert.Equal(t, without.Verdict, res.Verdict)
		}
	}
}

// A simulated lock service that grants waiting keys at once: the truth
// check proves the grants phantom from the revisions alone.
func TestGeneratedDoubleGrantsAreProvenByTruth(t *testing.T) {
	data := generate(genConfig{seed: 9, names: 2, clients: 5, ops: 3000, bugDoubleGrant: 0.05, truth: true})
	_, res := checkBytes(t, data, Options{Timeout: 20 * time.Second})
	var truth []CheckResult
	for _, c := range res.Checks {
		if c.Check == CheckTruth && c.Verdict == Violation {
			truth = append(truth, c)
		}
	}
	require.NotEmpty(t, truth)
	assert.Contains(t, truth[0].Account, "was never the oldest key")
}
