package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodHeader = `{"type":"header","format":"etcdchaos-history/1","scenario":"s","seed":1,"lease_ttl_ms":2000,"start_unix_ns":1,"members":3,"etcd_version":"3.7.3"}`

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestReadRejectsBadHistories(t *testing.T) {
	cases := []struct {
		name string
		text string
		kind error
		line int
		msg  string
	}{
		{"empty", "", ErrEmpty, 1, "header"},
		{"header not json", lines(`etcdchaos`, `{"type":"invoke","op":1,"client":1,"f":"lock","time":1}`), ErrHeader, 1, "JSON header"},
		{"header wrong type", lines(`{"type":"invoke","format":"etcdchaos-history/1"}`), ErrHeader, 1, `expected type "header"`},
		{"header wrong format", lines(`{"type":"header","format":"etcdchaos-history/9"}`), ErrHeader, 1, `etcdchaos-history/1`},
		{"time backwards", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":50}`,
			`{"type":"ok","op":1,"time":40}`), ErrTimeBackwards, 3, "40 is before the previous line's 50"},
		{"completion without invoke", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"ok","op":2,"time":2}`), ErrNoInvoke, 3, "op 2, which was never invoked"},
		{"completed twice", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"ok","op":1,"time":2}`,
			`{"type":"info","op":1,"time":3}`), ErrNoInvoke, 4, "already completed"},
		{"duplicate op id", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"ok","op":1,"time":2}`,
			`{"type":"invoke","op":1,"client":2,"f":"lock","name":"l0","time":3}`), ErrDuplicateOp, 4, "op 1 was already invoked"},
		{"two ops in flight for one client", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"invoke","op":2,"client":2,"f":"lock","name":"l0","time":2}`,
			`{"type":"invoke","op":3,"client":1,"f":"unlock","name":"l0","time":3}`), ErrClientBusy, 4, "client 1 invokes op 3 while op 1"},
		{"unknown type", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"done","op":1,"time":2}`), ErrUnknownType, 3, `"done"`},
		{"garbage line in the middle", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1}`,
			`{"type":"ok","op":1,"ti`,
			`{"type":"invoke","op":2,"client":1,"f":"unlock","name":"l0","time":3}`), ErrSyntax, 3, "expected a JSON event object"},
		{"blank line in the middle", lines(goodHeader, ``,
			`{"type":"invoke","op":2,"client":1,"f":"unlock","name":"l0","time":3}`), ErrSyntax, 2, "expected a JSON event object"},
		{"missing type", lines(goodHeader, `{"op":1,"time":1}`), ErrMissingField, 2, `"type"`},
		{"invoke without op", lines(goodHeader, `{"type":"invoke","client":1,"f":"lock","time":1}`), ErrMissingField, 2, `"op"`},
		{"invoke without f", lines(goodHeader, `{"type":"invoke","op":1,"client":1,"time":1}`), ErrMissingField, 2, `"f"`},
		{"fault without kind", lines(goodHeader, `{"type":"fault","phase":"start","time":1}`), ErrMissingField, 2, `"fault"`},
		{"bad fault phase", lines(goodHeader, `{"type":"fault","fault":"partition","phase":"middle","time":1}`), ErrBadPhase, 2, `"middle"`},
		{"server line without role", lines(goodHeader, `{"type":"server","name":"l0","event":"put","key":"k","rev":2,"create_rev":2,"time":1}`), ErrMissingField, 2, `"role"`},
		{"server line with unknown event", lines(goodHeader, `{"type":"server","name":"l0","role":"lock","event":"touch","key":"k","rev":2,"create_rev":2,"time":1}`), ErrBadServerLine, 2, `"touch"`},
		{"server revisions going back", lines(goodHeader,
			`{"type":"server","name":"l0","role":"lock","event":"put","key":"k1","rev":7,"create_rev":7,"time":1,"value":""}`,
			`{"type":"server","name":"l0","role":"data","event":"put","key":"d","rev":5,"create_rev":5,"time":2,"value":"x"}`,
			`{"type":"server","name":"l0","role":"lock","event":"put","key":"k2","rev":6,"create_rev":6,"time":3,"value":""}`), ErrRevBackwards, 4, "put of l0 (lock) at revision 6 after revision 7"},
		{"a key's lease in two records", lines(goodHeader,
			`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":1,"value":{"lease":100}}`,
			`{"type":"ok","op":1,"time":2,"value":{"key":"/p/lock/l0/a","rev":7,"lease":100}}`,
			`{"type":"server","name":"l0","role":"lock","event":"put","key":"/p/lock/l0/a","rev":7,"create_rev":7,"lease":200,"time":3,"value":""}`), ErrLeaseMismatch, 4, "key /p/lock/l0/a (create revision 7) has lease 200 here but lease 100 at line 3"},
		{"line too long", lines(goodHeader, `{"type":"fault","fault":"partition","phase":"start","time":1,"detail":"`+strings.Repeat("x", maxLineBytes)+`"}`,
			`{"type":"fault","fault":"partition","phase":"end","time":2}`), ErrLineTooLong, 2, "longer than"},
	}
	kinds := map[error]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.text), "bad.jsonl")
			require.Error(t, err)
			require.ErrorIs(t, err, tc.kind)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.line, pe.Line)
			assert.True(t, IsBadInput(err))
			assert.Contains(t, err.Error(), fmt.Sprintf("bad.jsonl:%d: %v", tc.line, tc.kind))
			assert.Contains(t, err.Error(), tc.msg)
			for _, other := range []error{ErrEmpty, ErrSyntax, ErrHeader, ErrUnknownType, ErrMissingField, ErrTimeBackwards,
				ErrDuplicateOp, ErrNoInvoke, ErrClientBusy, ErrBadPhase, ErrLineTooLong, ErrBadServerLine, ErrRevBackwards, ErrLeaseMismatch} {
				if other != tc.kind {
					assert.False(t, errors.Is(err, other), "%v is also %v", err, other)
				}
			}
		})
		kinds[tc.kind] = true
	}
	assert.Len(t, kinds, 14, "every kind of bad input is covered")
}

func TestReadFileNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(lines(goodHeader,
		`{"type":"invoke","op":1,"client":1,"f":"lock","name":"l0","time":5}`,
		`{"type":"ok","op":1,"time":4}`)), 0o644))
	_, err := ReadFile(path)
	require.ErrorIs(t, err, ErrTimeBackwards)
	assert.True(t, strings.HasPrefix(err.Error(), path+":3: "), err.Error())

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.jsonl"))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, IsBadInput(err), "a missing file is not bad input")
}

// sampleHistory records a short history in memory and returns its bytes.
func sampleHistory(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := New(&buf, Header{Scenario: "sample", Seed: 7})
	require.NoError(t, err)
	for i := range 6 {
		op, err := r.Invoke(1+i%2, FLock, "l0", &Value{Lease: int64(100 + i)})
		require.NoError(t, err)
		require.NoError(t, r.Ok(op, &Value{Key: fmt.Sprintf("l0/%x", i), Rev: int64(10 + i), Lease: int64(100 + i)}))
	}
	_, err = r.Invoke(3, FCampaign, "e0", &Value{Value: "c3-1", Lease: 9})
	require.NoError(t, err)
	_, err = r.Fault(FaultEvent{Fault: "partition", Phase: PhaseStart, Detail: "{1} | {2,3}"})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return buf.Bytes()
}

// TestReadToleratesCutOffLastLine cuts a history at every byte of its last
// two lines: the complete lines are always read and a partial last line is
// dropped with a warning naming its line.
func TestReadToleratesCutOffLastLine(t *testing.T) {
	full := sampleHistory(t)
	total := bytes.Count(full, []byte("\n"))
	from := bytes.LastIndexByte(full[:bytes.LastIndexByte(full[:len(full)-1], '\n')], '\n') + 1
	for cut := from; cut <= len(full); cut++ {
		prefix := full[:cut]
		complete := bytes.Count(prefix, []byte("\n"))
		tail := prefix[bytes.LastIndexByte(prefix, '\n')+1:]
		whole := len(tail) == 0 || json.Valid(tail) // an object without its newline is whole
		if len(tail) > 0 && whole {
			complete++
		}
		h, err := Read(bytes.NewReader(prefix), "cut.jsonl")
		require.NoError(t, err, "cut at %d", cut)
		require.Len(t, h.Events, complete-1, "cut at %d", cut)
		if whole {
			assert.Empty(t, h.Warnings, "cut at %d", cut)
			continue
		}
		require.Len(t, h.Warnings, 1, "cut at %d", cut)
		assert.Contains(t, h.Warnings[0], fmt.Sprintf("cut.jsonl:%d: ignored a cut-off last line", complete+1))
	}
	h, err := Read(bytes.NewReader(full), "full.jsonl")
	require.NoError(t, err)
	require.Len(t, h.Events, total-1)
	ops := h.Operations()
	pending := ops[len(ops)-1]
	assert.Equal(t, FCampaign, pending.F)
	assert.Equal(t, Pending, pending.Outcome)
	assert.True(t, pending.Outcome.Unknown())
	assert.Equal(t, Never, pending.Return)
}

// Server lines: revisions of one name and role may repeat (a txn or a lease
// revoke applies several events at one revision) and other names and roles
// keep their own order; they round-trip through the recorder.
func TestServerLinesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	rec, err := New(&buf, Header{Scenario: "s", ServerTruth: true})
	require.NoError(t, err)
	want := []ServerEvent{
		{Name: "l0", Role: RoleLock, Event: ServerPut, Key: "/p/lock/l0/a", Rev: 5, CreateRev: 5, Lease: 100},
		{Name: "l0", Role: RoleLock, Event: ServerPut, Key: "/p/lock/l0/b", Rev: 6, CreateRev: 6, Lease: 200},
		{Name: "l0", Role: RoleData, Event: ServerPut, Key: "/p/res/l0", Rev: 7, CreateRev: 7, Value: "c1-3 \"q\""},
		{Name: "l0", Role: RoleLock, Event: ServerDelete, Key: "/p/lock/l0/a", Rev: 8, CreateRev: 5},
		{Name: "l0", Role: RoleLock, Event: ServerDelete, Key: "/p/lock/l0/b", Rev: 8, CreateRev: 6},
		{Name: "e0", Role: RoleElection, Event: ServerGap, FromRev: 3, ToRev: 9, Detail: "compacted"},
	}
	for _, s := range want {
		_, err := rec.Server(s)
		require.NoError(t, err)
	}
	op, err := rec.Invoke(1, FLeader, "e0", &Value{})
	require.NoError(t, err)
	require.NoError(t, rec.Ok(op, &Value{None: true, HeaderRev: 10}))
	require.NoError(t, rec.Close())

	h, err := Read(bytes.NewReader(buf.Bytes()), "truth.jsonl")
	require.NoError(t, err)
	assert.True(t, h.Header.ServerTruth)
	got := h.ServerEvents()
	require.Len(t, got, len(want))
	for i := range want {
		want[i].Time = got[i].Time
	}
	assert.Equal(t, want, got)
	assert.Equal(t, int64(10), h.Operations()[0].Output.HeaderRev)
	assert.Contains(t, buf.String(), `"role":"lock","event":"put","key":"/p/lock/l0/a","rev":5,"create_rev":5`)
	assert.Contains(t, buf.String(), `"value":""`, "a lock key's empty value is written")
}

func TestReadWarnsOnUnknownFunction(t *testing.T) {
	h, err := Read(strings.NewReader(lines(goodHeader,
		`{"type":"invoke","op":1,"client":1,"f":"dance","name":"l0","time":1}`,
		`{"type":"ok","op":1,"time":2,"value":{}}`)), "f.jsonl")
	require.NoError(t, err)
	require.Len(t, h.Warnings, 1)
	assert.Contains(t, h.Warnings[0], `f.jsonl:2: unknown f "dance"`)
}

// TestEncoderMatchesEncodingJSON checks the hand-written encoder against
// encoding/json on awkward strings: what it writes decodes to what was
// recorded (invalid UTF-8 becomes U+FFFD, as encoding/json does).
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\t\n\r", "ünïcødé ✓ 🎉", "bad\xffutf8\xc3", "<html>&amp;\u2028"} {
		e := Event{Type: TypeInvoke, Op: 3, Client: 2, F: FWrite, Name: s, Time: 9, Member: 1, Target: 4, Lease: 5,
			Value: &Value{Lease: 1, Key: s, Rev: 2, Fenced: Bool(false), Data: s, Value: s, ModRev: 3, None: true, LastAlive: Int64(0), Keys: Int64(0), KeysFrom: 7},
			Error: s, Fault: s, Phase: s, Detail: s}
		line := appendEvent(nil, &e)
		require.True(t, bytes.HasSuffix(line, []byte("}\n")))
		require.Equal(t, 1, bytes.Count(line, []byte("\n")), "one line for %q", s)
		var got Event
		require.NoError(t, json.Unmarshal(line, &got), "%s", line)
		want, err := json.Marshal(e)
		require.NoError(t, err)
		var viaJSON Event
		require.NoError(t, json.Unmarshal(want, &viaJSON))
		assert.Equal(t, viaJSON, got, "%q", s)
	}
}

func FuzzEncoder(f *testing.F) {
	for _, s := range []string{"", "a", "\"", "\\", "\xff", "\u2028", "é"} {
		f.Add(s, int64(1))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		e := Event{Type: TypeOk, Op: n, Name: s, Time: 0, Value: &Value{Data: s, Rev: n}, Error: s}
		var got Event
		require.NoError(t, json.Unmarshal(appendEvent(nil, &e), &got))
		want, _ := json.Marshal(e)
		var viaJSON Event
		require.NoError(t, json.Unmarshal(want, &viaJSON))
		require.Equal(t, viaJSON, got)
	})
}
