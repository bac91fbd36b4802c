package models

import (
	"fmt"
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
)

// hazardOf quantifies the lock hazard over every lock name, by a direct scan
// (no model search):
//
//   - an unfenced write "certainly took effect while another client held the
//     lock" when its whole interval [invoke, ok] lies inside another lease's
//     certain tenure: from that lease's lock ok until the earliest moment its
//     ownership may have ended (the invoke of an unlock of its key, or the
//     start of its lease's death window);
//   - the overlap of such a write is how long both clients were in their
//     critical sections at once, at least: from the later of the two grants
//     to the write's ok;
//   - fenced writes rejected by their guard are the fenced writes that
//     failed.
//
// Only lock names have grants and writes to count; the scan finds none on
// the others.
func hazardOf(names []*nameHistory) Hazard {
	var hz Hazard
	for _, p := range names {
		p.hazard(&hz)
	}
	return hz
}

// tenure is an interval during which a lease certainly held a lock.
type tenure struct {
	holder     int32
	start, end int64
}

func (p *nameHistory) hazard(hz *Hazard) {
	tenures := p.tenures()
	maxEnd := make([]int64, len(tenures)) // prefix maxima, to prune the scan
	for i, t := range tenures {
		maxEnd[i] = t.end
		if i > 0 {
			maxEnd[i] = max(t.end, maxEnd[i-1])
		}
	}
	lastGrant := map[int32]int64{}
	for _, m := range p.mops {
		switch {
		case m.kind == opLock && m.certain():
			lastGrant[m.holder] = m.op.Return
		case m.kind == opWrite && m.fenced:
			hz.FencedWrites++
			if m.failed() {
				hz.FencedRejected++
			}
		case m.kind == opWrite && m.certain():
			hz.UnfencedWrites++
			if d, ok := overlap(m, tenures, maxEnd, lastGrant[m.holder]); ok {
				hz.UnfencedOverlapping++
				hz.LongestOverlapNs = max(hz.LongestOverlapNs, d)
			}
		}
	}
}

// overlap finds a tenure of another lease containing write w and returns the
// overlap of the two critical sections.
func overlap(w *mop, tenures []tenure, maxEnd []int64, ownGrant int64) (int64, bool) {
	i := sort.Search(len(tenures), func(i int) bool { return tenures[i].start > w.op.Call }) - 1
	best, found := int64(0), false
	for ; i >= 0 && maxEnd[i] >= w.op.Return; i-- {
		t := tenures[i]
		if t.holder == w.holder || t.end < w.op.Return {
			continue
		}
		best, found = max(best, w.op.Return-max(t.start, ownGrant)), true
	}
	return best, found
}

// tenures returns the certain tenures of every lock ok, sorted by start.
func (p *nameHistory) tenures() []tenure {
	ends := map[int32][]*mop{} // holder -> unlocks and deaths that may end its ownership
	for _, m := range p.mops {
		if (m.kind == opUnlock && !m.failed()) || m.kind == opDeath {
			ends[m.holder] = append(ends[m.holder], m)
		}
	}
	var ts []tenure
	for _, m := range p.mops {
		if m.kind != opLock || !m.certain() || m.holder == 0 {
			continue
		}
		t := tenure{holder: m.holder, start: m.op.Return, end: endAfter(ends[m.holder], m.op.Call)}
		if t.end > t.start {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].start < ts[j].start })
	return ts
}

// endAfter is the earliest time at which one of ends (unlocks and deaths of
// the holder) may have ended a grant invoked at from; unbounded when none
// can.
func endAfter(ends []*mop, from int64) int64 {
	end := int64(1<<63 - 1)
	for _, e := range ends {
		if e.ret >= from {
			end = min(end, max(e.call, from))
		}
	}
	return end
}

// classifyUnfenced turns a failed unfenced-writes check into the finding it
// stands for. Unfenced writes made while another client held the lock are
// etcd's documented hazard when a lease lapsed or a client paused: the
// verdict is unsafe-without-fencing, failing only under Strict. With
// nothing in the history that could explain it, or with mutual exclusion
// itself broken, it is a violation; when the lock or fenced check could not
// decide, neither can this one.
func (c *checker) classifyUnfenced(u, lock, fenced CheckResult) CheckResult {
	if u.Verdict != Violation {
		return u
	}
	switch {
	case lock.Verdict == Violation || fenced.Verdict == Violation:
		u.Account = "mutual exclusion itself broke (see the lock and fenced-writes checks): " + u.Account
		return u
	case lock.Verdict == Unknown || fenced.Verdict == Unknown:
		u.Verdict, u.Fails = Unknown, true
		u.Account = "undecided because the lock check was undecided: " + u.Account
		return u
	}
	why, ok := explanation(c.h, u.At, writerOf(u))
	if !ok {
		u.Account += "; nothing in the history (no loss of its lease, lease fault or pause aimed at it, partition or kill) explains it"
		return u
	}
	u.Verdict, u.Fails = UnsafeWithoutFencing, c.opts.Strict
	u.Account = "unsafe without fencing: " + u.Account + "; explained by " + why
	return u
}

// lapses reports whether a fault of this kind can make a lease lapse while
// its client still believes it holds the lock: a client fault (one that
// explains a client's stall) for the client or lease it aims at, a cluster
// fault for whichever clients it touches (history's fault kinds say which).
func lapses(kind string, aimedAtWriter bool) bool {
	explains := history.FaultKindOf(kind).Explains
	return explains.Has(history.ExplainsClusterFault) || explains.Has(history.ExplainsClientStall) && aimedAtWriter
}

// lapse names whose lease lapse can explain a stale write: a client and its
// lease, or anyone (zero values) when the write's maker is not known.
type lapse struct {
	client int
	lease  int64
}

// writerOf returns the maker of the operation a failed check refused first
// (its first evidence), if it is a write whose lease is known.
func writerOf(u CheckResult) lapse {
	if u.sub == nil || len(u.Evidence) == 0 {
		return lapse{}
	}
	for _, m := range u.sub.mops {
		if m.op != nil && m.op.ID == u.Evidence[0] && m.kind == opWrite && u.sub.leaseOf[m.holder] != 0 {
			return lapse{client: m.op.Client, lease: u.sub.leaseOf[m.holder]}
		}
	}
	return lapse{}
}

// concerns reports whether a lease-lost or fault event is about who: about
// its lease when the event names one, else about its client.
func (who lapse) concerns(client int, lease int64) bool {
	switch {
	case who.lease == 0:
		return true
	case lease != 0:
		return lease == who.lease
	}
	return client != 0 && client == who.client
}

// explanation finds an event at or before at that can make who keep writing
// after its lease lapsed: a loss of its lease, a lease fault or pause aimed
// at it, or a cluster fault that cut keep-alives.
func explanation(h *history.History, at int64, who lapse) (string, bool) {
	for _, e := range h.Events {
		switch {
		case e.Type == history.TypeInvoke && e.F == history.FLeaseLost:
			lease, la := int64(0), e.Time
			if e.Value != nil {
				lease = e.Value.Lease
				if e.Value.LastAlive != nil {
					la = *e.Value.LastAlive
				}
			}
			if who.concerns(0, lease) && (at == 0 || la <= at) {
				return fmt.Sprintf("client %d's lease lost after %s (op %d)", e.Client, secs(la), e.Op), true
			}
		case e.Type == history.TypeFault && e.Phase == history.PhaseStart && (at == 0 || e.Time <= at) &&
			lapses(e.Fault, who.concerns(e.Target, e.Lease)):
			return fmt.Sprintf("a %s fault at %s", e.Fault, secs(e.Time)), true
		}
	}
	return "", false
}
