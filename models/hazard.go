package models

import "sort"

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
func hazardOf(names []*nameHistory) Hazard {
	var hz Hazard
	for _, p := range names {
		if p.family == familyLock {
			p.hazard(&hz)
		}
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
