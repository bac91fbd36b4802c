package liveness

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// The waiter check is fed hand-written histories: the unit under test reads
// server truth, not etcd. Leases last 2 s, so a waiter may take 9 s.

const ms = int64(time.Millisecond)

// truthHistory builds a history from lines, each a JSON object without its
// time, given with its time in ms.
type truthHistory struct{ lines []string }

func (b *truthHistory) at(t int64, line string) *truthHistory {
	b.lines = append(b.lines, fmt.Sprintf(`{"time":%d,%s`, t*ms, line[1:]))
	return b
}

func (b *truthHistory) read(t *testing.T) *history.History {
	t.Helper()
	header := `{"type":"header","format":"etcdchaos-history/1","scenario":"s","seed":1,"lease_ttl_ms":2000,` +
		`"start_unix_ns":1,"members":3,"etcd_version":"3.7.3","server_truth":true}`
	h, err := history.Read(strings.NewReader(header+"\n"+strings.Join(b.lines, "\n")+"\n"), "h")
	require.NoError(t, err)
	return h
}

func put(name, role, key string, rev, lease int64) string {
	return fmt.Sprintf(`{"type":"server","name":%q,"role":%q,"event":"put","key":%q,"rev":%d,"create_rev":%d,"lease":%d,"value":""}`,
		name, role, key, rev, rev, lease)
}

// stuck runs the waiter check on h.
func stuck(h *history.History) []stuckWaiter {
	s, _, _ := stuckWaiters(truth.Build(h), h.Operations(), h.Faults(), h.EndTime(), WaiterBound(2*time.Second))
	return s
}

// live runs the liveness check on h.
func live(t *testing.T, h *history.History) models.CheckResult {
	t.Helper()
	r, ok := Check(h, h.Operations(), truth.Build(h))
	require.True(t, ok)
	return r
}

func del(name, role, key string, rev, createRev int64) string {
	return fmt.Sprintf(`{"type":"server","name":%q,"role":%q,"event":"delete","key":%q,"rev":%d,"create_rev":%d}`,
		name, role, key, rev, createRev)
}

// queueOfTwo: client 1 takes lock l0 (key a, lease 0xa, revision 10) and
// client 2 queues behind it (key b, lease 0xb, revision 11); client 1
// unlocks at 10 ms (revision 12), so b is the oldest from then on. What
// happens to client 2's lock (op 2) is up to the test.
func queueOfTwo(f, role string) *truthHistory {
	b := &truthHistory{}
	b.at(1, fmt.Sprintf(`{"type":"invoke","op":1,"client":1,"f":%q,"name":"l0","value":{"lease":10}}`, f))
	b.at(2, put("l0", role, "/p/l0/a", 10, 10))
	b.at(3, `{"type":"ok","op":1,"value":{"key":"/p/l0/a","rev":10,"lease":10}}`)
	b.at(4, fmt.Sprintf(`{"type":"invoke","op":2,"client":2,"f":%q,"name":"l0","value":{"lease":11}}`, f))
	b.at(5, put("l0", role, "/p/l0/b", 11, 11))
	if f == history.FLock {
		b.at(6, `{"type":"invoke","op":3,"client":1,"f":"unlock","name":"l0","value":{"key":"/p/l0/a"}}`)
	} else {
		b.at(6, `{"type":"invoke","op":3,"client":1,"f":"resign","name":"l0","value":{"key":"/p/l0/a","rev":10}}`)
	}
	b.at(10, del("l0", role, "/p/l0/a", 12, 10))
	b.at(11, `{"type":"ok","op":3,"value":{}}`)
	return b
}

func TestLivenessFailsOnAStuckWaiter(t *testing.T) {
	for name, tc := range map[string]struct {
		f, role string
		rest    func(b *truthHistory)
	}{
		"lock pending to the end": {history.FLock, history.RoleLock, func(b *truthHistory) {
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		}},
		"lock cancelled at the end, key revoked after": {history.FLock, history.RoleLock, func(b *truthHistory) {
			b.at(20_000, `{"type":"info","op":2,"error":"context canceled"}`)
			b.at(20_001, `{"type":"invoke","op":4,"client":2,"f":"revoke","name":"l0","value":{"lease":11}}`)
			b.at(20_002, del("l0", history.RoleLock, "/p/l0/b", 13, 11))
			b.at(20_003, `{"type":"ok","op":4,"value":{}}`)
		}},
		"campaign pending to the end": {history.FCampaign, history.RoleElection, func(b *truthHistory) {
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		}},
		"lock pending, its key gone long after": {history.FLock, history.RoleLock, func(b *truthHistory) {
			b.at(15_000, del("l0", history.RoleLock, "/p/l0/b", 13, 11))
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 14, 0))
		}},
		"a fault aimed at another client": {history.FLock, history.RoleLock, func(b *truthHistory) {
			b.at(1_000, `{"type":"fault","fault":"isolate-client","phase":"start","target":3,"member":3}`)
			b.at(15_000, `{"type":"fault","fault":"isolate-client","phase":"end","target":3,"member":3}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		}},
	} {
		t.Run(name, func(t *testing.T) {
			b := queueOfTwo(tc.f, tc.role)
			tc.rest(b)
			h := b.read(t)
			found := stuck(h)
			require.Len(t, found, 1)
			s := found[0]
			assert.Equal(t, int64(2), s.op.ID)
			assert.Equal(t, "/p/l0/b", s.key.Key)
			assert.Equal(t, "/p/l0/a", s.ahead.Key)
			assert.Equal(t, int64(12), s.ahead.Deleted)
			assert.Equal(t, 10*ms, s.from)

			r := live(t, h)
			assert.Equal(t, models.Violation, r.Verdict)
			assert.True(t, r.Fails)
			assert.Contains(t, r.Account, "client 2's "+tc.f+" on l0 (op 2) did not return: its key /p/l0/b (created at revision 11) "+
				"became the oldest when /p/l0/a (created at revision 10) was deleted at revision 12")
			assert.Equal(t, []int64{2}, r.Evidence)
			assert.Equal(t, []int64{11, 12}, r.Revisions)
			assert.Equal(t, 10*ms, r.At)
			require.Len(t, r.Findings, 1)
			assert.Equal(t, models.FindingStuckWaiter, r.Findings[0].Kind)
		})
	}
}

func TestLivenessHoldsForWaitersThatWokeUpOrCouldNot(t *testing.T) {
	for name, rest := range map[string]func(b *truthHistory){
		"granted": func(b *truthHistory) {
			b.at(12, `{"type":"ok","op":2,"value":{"key":"/p/l0/b","rev":11,"lease":11}}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
		"granted late": func(b *truthHistory) {
			b.at(15_000, `{"type":"ok","op":2,"value":{"key":"/p/l0/b","rev":11,"lease":11}}`)
		},
		"gave up within the bound": func(b *truthHistory) {
			b.at(6_000, `{"type":"info","op":2,"error":"context deadline exceeded"}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
		"stopped by the end of the run within the bound": func(b *truthHistory) {
			b.at(8_000, `{"type":"info","op":2,"error":"context canceled"}`)
			b.at(8_001, del("l0", history.RoleLock, "/p/l0/b", 13, 11))
		},
		"its lease expired with the key ahead": func(b *truthHistory) {
			b.lines = b.lines[:len(b.lines)-2] // a and b go in one revoke
			b.at(10, del("l0", history.RoleLock, "/p/l0/a", 12, 10))
			b.at(10, del("l0", history.RoleLock, "/p/l0/b", 12, 11))
			b.at(11, `{"type":"ok","op":3,"value":{}}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
		"its key was gone before it stopped waiting": func(b *truthHistory) {
			b.at(3_000, del("l0", history.RoleLock, "/p/l0/b", 13, 11))
			b.at(20_000, `{"type":"info","op":2,"error":"context canceled"}`)
		},
		"a partition until shortly before the end": func(b *truthHistory) {
			b.at(1_000, `{"type":"fault","fault":"partition","phase":"start","detail":"{2} | {1,3}"}`)
			b.at(15_000, `{"type":"fault","fault":"partition","phase":"end"}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
		"a pause of its own client until shortly before the end": func(b *truthHistory) {
			b.at(1_000, `{"type":"fault","fault":"pause-client","phase":"start","target":2,"member":2}`)
			b.at(15_000, `{"type":"fault","fault":"pause-client","phase":"end","target":2,"member":2}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
		"a fault that never ended": func(b *truthHistory) {
			b.at(1_000, `{"type":"fault","fault":"kill-member","phase":"start","member":1}`)
			b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := queueOfTwo(history.FLock, history.RoleLock)
			rest(b)
			h := b.read(t)
			assert.Empty(t, stuck(h))
			r := live(t, h)
			assert.Equal(t, models.Ok, r.Verdict, r.Account)
			assert.False(t, r.Fails)
		})
	}
}

// A queue whose record has a gap where a waiter's wait needs it cannot be
// judged: that waiter is undecided, and the check unknown, not ok.
func TestLivenessGapIsUnknown(t *testing.T) {
	b := queueOfTwo(history.FLock, history.RoleLock)
	b.at(5_000, `{"type":"server","name":"l0","role":"lock","event":"gap","from_rev":12,"to_rev":20,"detail":"compacted"}`)
	b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 13, 0))
	h := b.read(t)
	assert.Empty(t, stuck(h))
	r := live(t, h)
	assert.Equal(t, models.Unknown, r.Verdict)
	assert.Equal(t, 1, r.Undecided)
	assert.True(t, r.Fails)
}

// The run's probe after healing is judged from the history: a name it
// could not acquire is a violation, a probe cut short by an interrupt is
// undecided, and without probes or server truth there is no liveness check.
func TestProbes(t *testing.T) {
	probe := func(outcome string) *truthHistory {
		b := &truthHistory{}
		b.at(1, `{"type":"invoke","op":1,"client":200000,"f":"probe","name":"l0","value":{}}`)
		b.at(2, `{"type":"ok","op":1,"value":{}}`)
		b.at(3, `{"type":"invoke","op":2,"client":200000,"f":"probe","name":"e0","value":{}}`)
		b.at(4, outcome)
		return b
	}
	r := live(t, probe(`{"type":"ok","op":2,"value":{}}`).read(t))
	assert.Equal(t, models.Ok, r.Verdict)
	assert.Equal(t, 2, r.Ops)

	r = live(t, probe(`{"type":"fail","op":2,"value":{},"error":"not within 21s after healing: context deadline exceeded"}`).read(t))
	assert.Equal(t, models.Violation, r.Verdict)
	assert.Contains(t, r.Account, "after healing, e0 could not be acquired: not within 21s")
	assert.Equal(t, []int64{2}, r.Evidence)

	r = live(t, probe(`{"type":"info","op":2,"error":"interrupted: context canceled"}`).read(t))
	assert.Equal(t, models.Unknown, r.Verdict)

	h, err := history.Read(strings.NewReader(`{"type":"header","format":"etcdchaos-history/1","scenario":"s","seed":1}`+"\n"), "h")
	require.NoError(t, err)
	_, ok := Check(h, h.Operations(), nil)
	assert.False(t, ok)
}

// A key that no lock or campaign claims (the liveness check's own, with a
// lease no client used) and a key with nothing ahead of it are not waiters.
func TestLivenessDoesNotJudgeKeysWithoutAWaiter(t *testing.T) {
	b := &truthHistory{}
	b.at(1, put("l0", history.RoleLock, "/p/l0/a", 10, 10))
	b.at(2, put("l0", history.RoleLock, "/p/l0/c", 11, 12))
	b.at(3, del("l0", history.RoleLock, "/p/l0/a", 12, 10))
	b.at(4, `{"type":"invoke","op":1,"client":1,"f":"lock","name":"l1","value":{"lease":13}}`)
	b.at(5, put("l1", history.RoleLock, "/p/l1/d", 13, 13))
	b.at(20_000, put("l0", history.RoleData, "/p/res/l0", 14, 0))
	assert.Empty(t, stuck(b.read(t)))
}
