// Package gen simulates a correct lock and election service (etcd's keys,
// revisions and leases, driven by concurrency-style clients) to generate
// legal histories with realistic concurrency for the checkers' tests and
// benchmarks: contention, clients that give up waiting (info), lost
// responses, lease expiries noticed late, revokes. Optional bugs turn the
// service incorrect, to check that the checkers notice.
package gen

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
)

const ms = int64(1_000_000)

// Config shapes a generated history.
type Config struct {
	Seed     uint64
	Names    int
	Clients  int // per name
	Ops      int // total operations (approximately)
	Election bool
	// BugDoubleGrant is the probability that the lock service grants a
	// waiting key at once, breaking mutual exclusion.
	BugDoubleGrant float64
	// BugStaleRead is the probability that a leader read returns the
	// value before the last proclamation.
	BugStaleRead float64
	// Truth records server truth: every key put, delete and data write,
	// as the observer would.
	Truth bool
}

// action is one scheduled step of the simulation.
type action struct {
	t   int64
	seq int
	f   func()
}

type actionHeap []action

func (h actionHeap) Len() int { return len(h) }
func (h actionHeap) Less(i, j int) bool {
	return h[i].t < h[j].t || (h[i].t == h[j].t && h[i].seq < h[j].seq)
}
func (h actionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actionHeap) Push(x any)   { *h = append(*h, x.(action)) }
func (h *actionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sim is the shared machinery: clock, scheduler, recorder.
type sim struct {
	cfg       Config
	rng       *rand.Rand
	now       int64
	q         actionHeap
	seq       int
	events    []history.Event
	nextOp    int64
	nextLease int64
	opsLeft   int
	rev       int64 // the store's revision, with truth
}

func newSim(cfg Config) *sim {
	return &sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 7)), nextLease: 0x1000, opsLeft: cfg.Ops}
}

func (s *sim) at(t int64, f func()) {
	s.seq++
	heap.Push(&s.q, action{t: max(t, s.now), seq: s.seq, f: f})
}

// delay is a one-way network and processing delay.
func (s *sim) delay() int64 { return 200_000 + s.rng.Int64N(1_800_000) }

func (s *sim) chance(p float64) bool { return s.rng.Float64() < p }

func (s *sim) lease() int64 { s.nextLease++; return s.nextLease }

func (s *sim) record(e history.Event) {
	e.Time = s.now
	s.events = append(s.events, e)
}

// invoke records an invoke now and returns the op id; 0 once the history
// has enough operations (the client then stops).
func (s *sim) invoke(client int, f, name string, v *history.Value) int64 {
	if s.opsLeft <= 0 {
		return 0
	}
	s.opsLeft--
	s.nextOp++
	s.record(history.Event{Type: history.TypeInvoke, Op: s.nextOp, Client: client, F: f, Name: name, Value: v})
	return s.nextOp
}

func (s *sim) complete(op int64, typ string, v *history.Value, errMsg string) {
	s.record(history.Event{Type: typ, Op: op, Value: v, Error: errMsg})
}

func (s *sim) run() {
	for s.q.Len() > 0 {
		a := heap.Pop(&s.q).(action)
		s.now = a.t
		a.f()
	}
}

// encode writes the history as JSON Lines.
func (s *sim) encode() []byte {
	sort.SliceStable(s.events, func(i, j int) bool { return s.events[i].Time < s.events[j].Time })
	var b bytes.Buffer
	hdr := history.Header{Type: history.TypeHeader, Format: history.Format, Scenario: "generated",
		Seed: int64(s.cfg.Seed), LeaseTTLMs: 2000, Members: 3, EtcdVersion: "3.7.3", ServerTruth: s.cfg.Truth}
	enc := json.NewEncoder(&b)
	_ = enc.Encode(hdr)
	for i := range s.events {
		_ = enc.Encode(&s.events[i])
	}
	return b.Bytes()
}

// Generate simulates cfg and returns the history file's bytes.
func Generate(cfg Config) []byte {
	s := newSim(cfg)
	client := 1
	for n := 0; n < cfg.Names; n++ {
		if cfg.Election {
			e := newElectionService(s, fmt.Sprintf("e%d", n))
			for c := 0; c < cfg.Clients-1; c++ {
				e.startCampaigner(client)
				client++
			}
			e.startReader(client)
			e.startObserver(client + 1)
			client += 2
			continue
		}
		l := newLockService(s, fmt.Sprintf("l%d", n))
		for c := 0; c < cfg.Clients; c++ {
			l.startClient(client)
			client++
		}
	}
	s.run()
	return s.encode()
}

// keyOf is the key etcd's lock and election make for a lease.
func keyOf(name string, lease int64) string { return fmt.Sprintf("%s/%x", name, lease) }

// skey is a key in a simulated prefix.
type skey struct {
	lease  int64
	rev    int64 // create revision
	modRev int64
	value  string
}

// prefix is the keys under one lock or election name, oldest first, with
// the revision counter and the callbacks of keys waiting to lead.
type prefix struct {
	s       *sim
	name    string
	rev     int64
	keys    []skey
	dead    map[int64]bool
	waiters map[int64]func()
}

func newPrefix(s *sim, name string) *prefix {
	return &prefix{s: s, name: name, rev: 1, dead: map[int64]bool{}, waiters: map[int64]func(){}}
}

func (p *prefix) find(lease int64) int {
	for i, k := range p.keys {
		if k.lease == lease {
			return i
		}
	}
	return -1
}

// create makes the lease's key (or finds it) and reports its index; -1 when
// the lease is gone.
func (p *prefix) create(lease int64, value string) int {
	if p.dead[lease] {
		return -1
	}
	if i := p.find(lease); i >= 0 {
		return i
	}
	rev := p.nextRev()
	p.keys = append(p.keys, skey{lease: lease, rev: rev, modRev: rev, value: value})
	p.truthPut(p.keys[len(p.keys)-1])
	return len(p.keys) - 1
}

// nextRev is the next revision: with truth, etcd's one counter for the
// whole store (revisions of different names compare, as responses need);
// otherwise the prefix's own.
func (p *prefix) nextRev() int64 {
	if p.s.cfg.Truth {
		p.s.rev++
		return p.s.rev
	}
	p.rev++
	return p.rev
}

// role is the truth role of the prefix's keys.
func (p *prefix) role() string {
	if p.name[0] == 'e' {
		return history.RoleElection
	}
	return history.RoleLock
}

// truthPut records a put of k as server truth (with cfg.Truth).
func (p *prefix) truthPut(k skey) {
	if p.s.cfg.Truth {
		p.s.record(history.Event{Type: history.TypeServer, Name: p.name, Lease: k.lease, Value: &history.Value{Value: k.value},
			ServerFields: &history.ServerFields{Role: p.role(), Action: history.ServerPut, Key: keyOf(p.name, k.lease), Rev: k.modRev, CreateRev: k.rev}})
	}
}

// truthData records a critical section's write at revision rev.
func (p *prefix) truthData(rev int64, value string) {
	if p.s.cfg.Truth {
		p.s.record(history.Event{Type: history.TypeServer, Name: p.name, Value: &history.Value{Value: value},
			ServerFields: &history.ServerFields{Role: history.RoleData, Action: history.ServerPut, Key: "res/" + p.name, Rev: rev, CreateRev: rev}})
	}
}

// remove deletes the lease's key and wakes the next oldest key's waiter.
func (p *prefix) remove(lease int64) {
	i := p.find(lease)
	if i < 0 {
		return
	}
	if p.s.cfg.Truth {
		p.s.record(history.Event{Type: history.TypeServer, Name: p.name, ServerFields: &history.ServerFields{
			Role: p.role(), Action: history.ServerDelete, Key: keyOf(p.name, lease), Rev: p.nextRev(), CreateRev: p.keys[i].rev}})
	}
	p.keys = append(p.keys[:i], p.keys[i+1:]...)
	delete(p.waiters, lease)
	if i == 0 && len(p.keys) > 0 {
		if w := p.waiters[p.keys[0].lease]; w != nil {
			delete(p.waiters, p.keys[0].lease)
			w()
		}
	}
}

// kill ends a lease: it can make no key and its key is deleted.
func (p *prefix) kill(lease int64) {
	p.dead[lease] = true
	p.remove(lease)
}

// owns reports whether the lease's key with create revision rev leads.
func (p *prefix) owns(lease, rev int64) bool {
	return len(p.keys) > 0 && p.keys[0].lease == lease && (rev == 0 || p.keys[0].rev == rev)
}

// UndecidableLockHistory is a lock history porcupine cannot settle
// quickly: n locks and n unlocks of unknown outcome that may or may not have
// taken effect, in any order, followed by two grants that no order of them
// allows.
func UndecidableLockHistory(n int) string {
	var b bytes.Buffer
	b.WriteString(`{"type":"header","format":"etcdchaos-history/1","scenario":"undecidable","seed":1}` + "\n")
	t := int64(1000)
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...); t += 10 }
	for i := 1; i <= n; i++ {
		line(`{"type":"invoke","op":%d,"client":%d,"f":"lock","name":"l0","time":%d,"value":{"lease":%d}}`, i, i, t, 1000+i)
	}
	for i := 1; i <= n; i++ {
		line(`{"type":"info","op":%d,"time":%d,"error":"timeout"}`, i, t)
	}
	for i := 1; i <= n; i++ {
		line(`{"type":"invoke","op":%d,"client":%d,"f":"unlock","name":"l0","time":%d,"value":{"key":"l0/%x"}}`, n+i, n+i, t, 1000+i)
		line(`{"type":"info","op":%d,"time":%d,"error":"timeout"}`, n+i, t)
	}
	line(`{"type":"invoke","op":%d,"client":%d,"f":"lock","name":"l0","time":%d,"value":{"lease":7}}`, 2*n+1, 2*n+1, t)
	line(`{"type":"ok","op":%d,"time":%d,"value":{"key":"l0/7","rev":5,"lease":7}}`, 2*n+1, t)
	line(`{"type":"invoke","op":%d,"client":%d,"f":"lock","name":"l0","time":%d,"value":{"lease":8}}`, 2*n+2, 2*n+2, t)
	line(`{"type":"ok","op":%d,"time":%d,"value":{"key":"l0/8","rev":6,"lease":8}}`, 2*n+2, t)
	return b.String()
}
