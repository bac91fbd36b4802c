package truth

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/gen"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
)

func readTestdata(t testing.TB, name string) *history.History { return handwritten.Read(t, name) }

// truthOf is the truth check's result on one name, its findings not yet
// classified.
func truthOf(t *testing.T, h *history.History, name string) models.CheckResult {
	t.Helper()
	for _, r := range Check(Build(h), h.Operations()) {
		if r.Name == name {
			return r
		}
	}
	require.Failf(t, "no truth result", "name %s", name)
	return models.CheckResult{}
}

func TestTruthFindings(t *testing.T) {
	cases := []struct {
		file, name string
		verdict    models.Verdict
		kind       string
		account    []string
	}{
		{"known-truth-phantom-campaign", "e0", models.Violation, models.FindingPhantomGrant, []string{
			"client 2's campaign of e0 returned ok at 9.50 s for key /x/election/e0/c8 (created at revision 11)",
			"the server deleted that key at revision 13 (seen at 5.90 s)",
			"the older key /x/election/e0/64 (client 1's, created at revision 10) was deleted only at revision 14",
			"c8 was never the oldest key, so it never led e0"}},
		{"illegal-truth-phantom-lock", "l0", models.Violation, models.FindingPhantomGrant, []string{"client 2's lock of l0", "never held l0"}},
		{"legal-truth-waiter-outlives-owner", "e0", models.Ok, "", nil},
		{"gap-truth-phantom-campaign", "e0", models.Unknown, "", []string{"1 claims on e0 could not be checked"}},
		{"illegal-truth-lost-write", "l0", models.Violation, models.FindingLostWrite, []string{
			`client 1's write of "c1-1" to l0 returned ok at 0.17 s with revision 12, but the server applied no such write at revision 12`}},
		{"illegal-truth-lost-proclaim", "e0", models.Violation, models.FindingLostProclaim, []string{`client 1's proclaim of "v3" on e0 returned ok at 0.17 s, but the server never wrote that value`}},
		{"legal-truth-lock-write-unlock", "l0", models.Ok, "", nil},
		{"known-truth-resign-retry", "e0", models.Violation, models.FindingNotReleased, []string{
			"client 1's resign of e0 returned ok at 3.11 s, but its key /x/election/e0/64 (created at revision 10) was deleted only at revision 12 (seen at 4.01 s)",
			"op 5, invoked after that at 3.50 s, read revision 11, when the key still existed"}},
		{"illegal-truth-stale-read", "e0", models.Violation, models.FindingStaleRead, []string{
			"client 3's leader read of e0, invoked at 0.30 s, answered at revision 12, but revision 13 was committed before it was invoked (the observer had seen it at 0.28 s)"}},
		{"illegal-truth-stale-read-proven-by-answer", "e0", models.Violation, models.FindingStaleRead, []string{
			"but revision 13 was committed before it was invoked (op 4 had returned it at 0.29 s)"}},
		{"legal-truth-read-after-commit-seen-late", "e0", models.Ok, "", nil},
		{"legal-truth-read-at-committed-revision", "e0", models.Ok, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			r := truthOf(t, readTestdata(t, tc.file), tc.name)
			assert.Equal(t, tc.verdict, r.Verdict, r.Account)
			assert.Equal(t, r.Verdict, r.Recorded, "the truth check records, classification judges")
			for _, want := range tc.account {
				assert.Contains(t, r.Account, want)
			}
			if tc.kind != "" {
				require.NotEmpty(t, r.Findings)
				f := r.Findings[0]
				assert.Equal(t, tc.kind, f.Kind)
				assert.Equal(t, models.CheckTruth, f.Check)
				assert.NotEmpty(t, f.Revisions)
				assert.Empty(t, f.Class, "not classified here")
			}
		})
	}
}

// A phantom grant names the key it is about, so that a mechanism can find
// it in the record.
func TestPhantomGrantNamesItsKey(t *testing.T) {
	r := truthOf(t, readTestdata(t, "known-truth-phantom-campaign"), "e0")
	require.Len(t, r.Findings, 1)
	f := r.Findings[0]
	assert.Equal(t, "/x/election/e0/c8", f.Key)
	assert.Equal(t, int64(11), f.CreateRev)
	assert.Equal(t, int64(200), f.Lease)
	k := Build(readTestdata(t, "known-truth-phantom-campaign")).Queue("e0").Key(f.Key, f.CreateRev)
	require.NotNil(t, k)
	assert.Equal(t, int64(13), k.Deleted)
	assert.False(t, k.Owned())
}

// Settle decides a campaign of unknown outcome whose key the server deleted:
// a certain release of that key by the time the delete was seen.
func TestSettle(t *testing.T) {
	h := readTestdata(t, "legal-truth-info-campaign-key-expired")
	ops := h.Operations()
	settled := Settle(Build(h), ops)
	require.NotEmpty(t, settled)
	for _, op := range settled {
		assert.Zero(t, op.ID, "no client recorded it")
		assert.Equal(t, history.FResign, op.F)
		assert.Equal(t, history.Ok, op.Outcome)
	}
	assert.Nil(t, Settle(nil, ops), "no record, nothing settled")
}

// Simulated correct lock and election services, recorded with server truth
// (contention, lost responses, expiries, revokes): the truth check finds
// nothing.
func TestGeneratedHistoriesWithTruthAreLegal(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, election := range []bool{false, true} {
			h, err := history.Read(bytes.NewReader(gen.Generate(gen.Config{Seed: seed, Names: 2, Clients: 5, Ops: 4000,
				Election: election, Truth: true})), "generated")
			require.NoError(t, err)
			require.NotEmpty(t, h.ServerEvents())
			res := Check(Build(h), h.Operations())
			assert.Len(t, res, 2, "a truth check per name")
			for _, c := range res {
				assert.Equal(t, models.Ok, c.Verdict, "seed %d %s: %s", seed, c.Name, c.Account)
			}
		}
	}
}

// A simulated lock service that grants waiting keys at once: the truth
// check proves the grants phantom from the revisions alone.
func TestGeneratedDoubleGrantsAreProvenByTruth(t *testing.T) {
	h, err := history.Read(bytes.NewReader(gen.Generate(gen.Config{Seed: 9, Names: 2, Clients: 5, Ops: 3000,
		BugDoubleGrant: 0.05, Truth: true})), "generated")
	require.NoError(t, err)
	var found []models.CheckResult
	for _, c := range Check(Build(h), h.Operations()) {
		if c.Verdict == models.Violation {
			found = append(found, c)
		}
	}
	require.NotEmpty(t, found)
	assert.Contains(t, found[0].Account, "was never the oldest key")
}

// A write gets a revision above every committed one: a write answered at a
// revision the observer had already seen before its invoke is stale too.
func TestStaleWriteRevision(t *testing.T) {
	h := readTestdata(t, "legal-truth-lock-write-unlock")
	ops := h.Operations()
	var w *history.Operation
	for i := range ops {
		if ops[i].F == history.FWrite && ops[i].Outcome == history.Ok {
			w = &ops[i]
			break
		}
	}
	require.NotNil(t, w)
	commits := newCommits([]commitProof{{at: w.Call - 1, rev: w.Output.Rev}}, nil)
	tc := &truthChecker{name: w.Name, commits: commits}
	tc.staleRead(w)
	require.Len(t, tc.findings, 1, "a write at a revision committed before its invoke")
	assert.Contains(t, tc.findings[0].Account, "was written at revision")

	tc = &truthChecker{name: w.Name, commits: newCommits([]commitProof{{at: w.Call - 1, rev: w.Output.Rev - 1}}, nil)}
	tc.staleRead(w)
	assert.Empty(t, tc.findings, "a write above everything committed before it")
}
