package links

import (
	"fmt"
	"sync"
	"time"
)

// Table is the state of every member-to-member link: which links are cut
// (always symmetric), which members are down (all their links cut) and the
// one-way latency of each link. Members are numbered 1..n.
//
// Proxies consult it for each request and subscribe to be told when links go
// down, so that live connections crossing a new cut are closed at once.
type Table struct {
	mu      sync.Mutex
	n       int
	cut     [][]bool          // cut[a][b] == cut[b][a]
	down    []bool            // member is stopped: isolated from everyone
	latency [][]time.Duration // latency[from][to]
	bytes   [][]uint64        // bytes[from][to] delivered through proxies
	subs    []func()          // called (without mu) after links were cut
}

// NewTable returns the table of n members with every link up.
func NewTable(n int) *Table {
	t := &Table{n: n, down: make([]bool, n+1)}
	t.cut = make([][]bool, n+1)
	t.latency = make([][]time.Duration, n+1)
	t.bytes = make([][]uint64, n+1)
	for i := range t.cut {
		t.cut[i] = make([]bool, n+1)
		t.latency[i] = make([]time.Duration, n+1)
		t.bytes[i] = make([]uint64, n+1)
	}
	return t
}

// Subscribe registers f to be called whenever some link may have been cut.
func (t *Table) Subscribe(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subs = append(t.subs, f)
}

func (t *Table) notify() {
	t.mu.Lock()
	subs := append([]func(){}, t.subs...)
	t.mu.Unlock()
	for _, f := range subs {
		f()
	}
}

func (t *Table) valid(m int) bool { return m >= 1 && m <= t.n }

// Connected reports whether traffic may flow between members a and b.
// A down member is connected to nobody; otherwise out-of-range members
// (unknown senders) are always connected.
func (t *Table) Connected(a, b int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.connectedLocked(a, b)
}

func (t *Table) connectedLocked(a, b int) bool {
	if (t.valid(a) && t.down[a]) || (t.valid(b) && t.down[b]) {
		return false
	}
	if !t.valid(a) || !t.valid(b) || a == b {
		return true
	}
	return !t.cut[a][b]
}

// Delay returns the current one-way latency from member from to member to.
func (t *Table) Delay(from, to int) time.Duration {
	if !t.valid(from) || !t.valid(to) {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latency[from][to]
}

// Deliver reports whether n bytes may pass from member from to member to
// now, and counts them if so. Checking and counting under one lock means no
// byte is counted on a link after the call that cut it returned.
func (t *Table) Deliver(from, to, n int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.connectedLocked(from, to) {
		return false
	}
	if t.valid(from) && t.valid(to) && n > 0 {
		t.bytes[from][to] += uint64(n)
	}
	return true
}

// DeliveredBytes is the total delivered from member from to member to.
func (t *Table) DeliveredBytes(from, to int) uint64 {
	if !t.valid(from) || !t.valid(to) {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes[from][to]
}

// Partition replaces the set of cut links: members in different groups are
// cut from each other; members not listed form singleton groups.
func (t *Table) Partition(groups [][]int) error {
	group := make([]int, t.n+1)
	for i, g := range groups {
		for _, m := range g {
			if !t.valid(m) {
				return fmt.Errorf("member %d out of range 1..%d", m, t.n)
			}
			if group[m] != 0 {
				return fmt.Errorf("member %d listed twice", m)
			}
			group[m] = i + 1
		}
	}
	next := len(groups) + 1
	for m := 1; m <= t.n; m++ {
		if group[m] == 0 {
			group[m] = next
			next++
		}
	}
	t.mu.Lock()
	for a := 1; a <= t.n; a++ {
		for b := 1; b <= t.n; b++ {
			t.cut[a][b] = a != b && group[a] != group[b]
		}
	}
	t.mu.Unlock()
	t.notify()
	return nil
}

// SetCut cuts (or restores) the link between a and b in both directions.
func (t *Table) SetCut(a, b int, cut bool) error {
	if !t.valid(a) || !t.valid(b) || a == b {
		return fmt.Errorf("invalid link %d-%d (members 1..%d)", a, b, t.n)
	}
	t.mu.Lock()
	t.cut[a][b], t.cut[b][a] = cut, cut
	t.mu.Unlock()
	if cut {
		t.notify()
	}
	return nil
}

// SetLatency sets the one-way latency from member from to member to.
func (t *Table) SetLatency(from, to int, d time.Duration) error {
	if !t.valid(from) || !t.valid(to) || from == to {
		return fmt.Errorf("invalid link %d->%d (members 1..%d)", from, to, t.n)
	}
	if d < 0 {
		return fmt.Errorf("negative latency %v", d)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency[from][to] = d
	return nil
}

// SetDown marks a member as stopped (all its links cut) or running.
func (t *Table) SetDown(m int, down bool) {
	if !t.valid(m) {
		return
	}
	t.mu.Lock()
	t.down[m] = down
	t.mu.Unlock()
	if down {
		t.notify()
	}
}

// Heal restores every cut link and removes every latency; down members stay
// down.
func (t *Table) Heal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for a := range t.cut {
		for b := range t.cut[a] {
			t.cut[a][b] = false
			t.latency[a][b] = 0
		}
	}
}

// CutLinks lists the cut links as pairs a<b, ignoring down members.
func (t *Table) CutLinks() [][2]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [][2]int
	for a := 1; a <= t.n; a++ {
		for b := a + 1; b <= t.n; b++ {
			if t.cut[a][b] {
				out = append(out, [2]int{a, b})
			}
		}
	}
	return out
}
