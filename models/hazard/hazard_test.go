package hazard

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

const header = `{"type":"header","format":"etcdchaos-history/1","scenario":"hand","seed":1,"lease_ttl_ms":2000,"start_unix_ns":0,"members":3,"etcd_version":"3.7.3","workload":"lock","election_timeout_ms":1000`

// read is a hand-written history: the header (with or without server
// truth) and lines.
func read(t *testing.T, truthRecorded bool, lines ...string) *history.History {
	t.Helper()
	hd := header + "}"
	if truthRecorded {
		hd = header + `,"server_truth":true}`
	}
	h, err := history.Read(strings.NewReader(hd+"\n"+strings.Join(lines, "\n")+"\n"), "hand")
	require.NoError(t, err)
	return h
}

// explain explains op id of h.
func explain(t *testing.T, h *history.History, id int64) (Explanation, bool) {
	t.Helper()
	ops := h.Operations()
	e := New(h, ops, truth.Build(h))
	for i := range ops {
		if ops[i].ID == id {
			return e.Explain(&ops[i])
		}
	}
	require.FailNow(t, "no such op")
	return Explanation{}, false
}

var grant = []string{
	`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":100000000,"value":{"lease":161}}`,
	`{"type":"ok","op":1,"time":120000000,"value":{"key":"l0/a1","rev":10,"lease":161}}`,
}

func write(at string) []string {
	return []string{
		`{"type":"invoke","op":9,"client":1,"f":"write","name":"l0","time":` + at + `000000,"member":1,"value":{"key":"l0/a1","rev":10,"fenced":false,"data":"x"}}`,
		`{"type":"ok","op":9,"time":` + at + `100000,"value":{"rev":30}}`,
	}
}

func lines(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Without server truth, only a fault that could end the writer's lease
// explains a stale write, and only while its effect can reach the write.
func TestFaultsExplainWithinReach(t *testing.T) {
	partition := []string{
		`{"type":"fault","fault":"partition","phase":"start","time":1000000000,"detail":"{1} | {2,3}"}`,
		`{"type":"fault","fault":"partition","phase":"end","time":2000000000}`,
	}
	for _, tc := range []struct {
		why    string
		h      []string
		ok     bool
		reason string
	}{
		{"a partition shortly before", lines(grant, partition, write("3000")), true, "partition"},
		{"a partition long before", lines(grant, partition, write("59000")), false, ""},
		{"a pause of the writer", lines(grant, []string{
			`{"type":"fault","fault":"pause-client","phase":"start","time":1000000000,"target":1}`,
			`{"type":"fault","fault":"pause-client","phase":"end","time":4000000000,"target":1}`}, write("4050")), true, "aimed at client 1"},
		{"a pause of another client", lines(grant, []string{
			`{"type":"fault","fault":"pause-client","phase":"start","time":1000000000,"target":2}`,
			`{"type":"fault","fault":"pause-client","phase":"end","time":4000000000,"target":2}`}, write("4050")), false, ""},
		{"a kill of the writer's member", lines(grant, []string{
			`{"type":"fault","fault":"kill-member","phase":"start","time":1000000000,"member":1}`,
			`{"type":"fault","fault":"kill-member","phase":"end","time":2000000000,"member":1}`}, write("3000")), true, "member 1"},
		{"a kill of another member", lines(grant, []string{
			`{"type":"fault","fault":"kill-member","phase":"start","time":1000000000,"member":3}`,
			`{"type":"fault","fault":"kill-member","phase":"end","time":2000000000,"member":3}`}, write("3000")), false, ""},
		{"a fault after the write", lines(grant, write("3000"), []string{
			`{"type":"fault","fault":"partition","phase":"start","time":5000000000,"detail":"{1} | {2,3}"}`}), false, ""},
	} {
		t.Run(tc.why, func(t *testing.T) {
			x, ok := explain(t, read(t, false, tc.h...), 9)
			assert.Equal(t, tc.ok, ok, x.Account)
			assert.Contains(t, x.Account, tc.reason)
			assert.Nil(t, x.Loss, "only server truth measures a loss")
		})
	}
}

// With server truth the hazard is exact: the writer's own key had owned the
// lock and was deleted, not by its own unlock, before the write's
// revision. A fault proves nothing then.
func TestTruthDecides(t *testing.T) {
	put := `{"type":"server","name":"l0","time":90000000,"lease":161,"value":"","role":"lock","event":"put","key":"l0/a1","rev":10,"create_rev":10}`
	deleted := `{"type":"server","name":"l0","time":2500000000,"role":"lock","event":"delete","key":"l0/a1","rev":20,"create_rev":10}`
	partition := `{"type":"fault","fault":"partition","phase":"start","time":1000000000,"detail":"{1} | {2,3}"}`
	unlock := []string{
		`{"type":"invoke","op":5,"client":1,"f":"unlock","name":"l0","time":2400000000,"value":{"key":"l0/a1"}}`,
		`{"type":"ok","op":5,"time":2410000000,"value":{}}`,
	}
	data := func(rev string) string {
		return `{"type":"server","name":"l0","time":3000200000,"value":"x","role":"data","event":"put","key":"d/l0","rev":` + rev + `,"create_rev":` + rev + `}`
	}

	x, ok := explain(t, read(t, true, lines([]string{put}, grant, []string{partition, deleted}, write("3000"), []string{data("30")})...), 9)
	require.True(t, ok)
	require.NotNil(t, x.Loss)
	assert.Equal(t, int64(10), x.Loss.Revisions, "the write landed 10 revisions after the key's deletion")
	assert.Contains(t, x.Account, "server truth")
	assert.Contains(t, x.Account, "deleted at revision 20")
	assert.NotContains(t, x.Account, "partition", "with the truth, the truth is cited")

	_, ok = explain(t, read(t, true, lines([]string{put}, grant, []string{partition}, unlock, []string{deleted}, write("3000"), []string{data("30")})...), 9)
	assert.False(t, ok, "a write after its own unlock is no lapse of a lease")

	// An earlier cycle's unlock of the same key (the same lease makes the
	// same key name) is not this life's release.
	earlier := []string{
		`{"type":"invoke","op":2,"client":1,"f":"lock","name":"l0","time":20000000,"value":{"lease":161}}`,
		`{"type":"server","name":"l0","time":21000000,"lease":161,"value":"","role":"lock","event":"put","key":"l0/a1","rev":5,"create_rev":5}`,
		`{"type":"ok","op":2,"time":22000000,"value":{"key":"l0/a1","rev":5,"lease":161}}`,
		`{"type":"invoke","op":3,"client":1,"f":"unlock","name":"l0","time":30000000,"value":{"key":"l0/a1"}}`,
		`{"type":"server","name":"l0","time":31000000,"role":"lock","event":"delete","key":"l0/a1","rev":6,"create_rev":5}`,
		`{"type":"ok","op":3,"time":32000000,"value":{}}`,
	}
	x, ok = explain(t, read(t, true, lines(earlier, []string{put}, grant, []string{partition, deleted}, write("3000"), []string{data("30")})...), 9)
	assert.True(t, ok, "an unlock of an earlier life of the key explains nothing away: %s", x.Account)

	_, ok = explain(t, read(t, true, lines([]string{put}, grant, []string{partition}, write("1500"),
		[]string{`{"type":"server","name":"l0","time":1500200000,"value":"x","role":"data","event":"put","key":"d/l0","rev":15,"create_rev":15}`})...), 9)
	assert.False(t, ok, "a write while its key still owned the lock is not stale, whatever the faults")
}

func TestStaleMeasuresEveryLoss(t *testing.T) {
	h := handwritten.Read(t, "legal-truth-lock-write-unlock")
	assert.Empty(t, New(h, h.Operations(), truth.Build(h)).Stale(), "writes made while the key owned the lock")
}
