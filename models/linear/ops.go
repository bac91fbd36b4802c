package linear

import (
	"maps"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/etcdchaos/etcdchaos/history"
)

// opKind is what a model operation does.
type opKind uint8

const (
	opLock opKind = iota + 1
	opUnlock
	opWrite
	opDeath // a lease ended: lease-lost (expiry observed) or revoke
	opCampaign
	opProclaim
	opResign
	opLeader
	opObserve
)

// mop is one history operation as the models see it: the lease it concerns
// as a small holder index, interned values, and the interval porcupine uses.
type mop struct {
	kind   opKind
	out    history.Outcome
	holder int32 // index into nameHistory.leaseOf; 0 when unknown
	rev    int64 // create revision: granted, read or guarded on
	wrev   int64 // write: the write's revision; observe: mod_rev
	value  int32 // campaign, proclaim, leader, observe: interned value
	none   bool  // leader: no leader
	fenced bool  // write
	call   int64
	ret    int64
	op     *history.Operation
}

func (m *mop) certain() bool { return m.out == history.Ok }
func (m *mop) failed() bool  { return m.out == history.Fail }
func (m *mop) unknown() bool { return m.out.Unknown() }

// nameHistory is every operation on one lock or election name, plus the lease
// deaths that concern its leases.
type nameHistory struct {
	family  *family
	name    string
	mops    []*mop
	holders map[int64]int32  // lease -> holder index
	keys    map[string]int32 // keys whose lease is unknown -> holder index
	leaseOf []int64          // holder index -> lease (0 for key-only holders)
	values  map[string]int32
	valueOf []string
}

func newNameHistory(family *family, name string) *nameHistory {
	return &nameHistory{family: family, name: name, holders: map[int64]int32{},
		keys: map[string]int32{}, leaseOf: []int64{0}, values: map[string]int32{}, valueOf: []string{""}}
}

// splitByName groups operations by family and name, converts them and
// broadcasts lease deaths (and lease faults, see faultDeaths) into every
// name whose history uses the lease. leases are the keys' leases that
// server truth recorded (nil without it).
func splitByName(ops []history.Operation, faults []history.Fault, leases map[string]int64) []*nameHistory {
	byName := map[string]*nameHistory{}
	var names []*nameHistory
	var deaths []*history.Operation
	slab := make([]mop, len(ops)) // one allocation for every mop
	for i := range ops {
		op := &ops[i]
		if leaseDeath(op.F) {
			deaths = append(deaths, op)
			continue
		}
		fam, kind := familyOf(op.F)
		if fam == nil {
			continue
		}
		key := string(fam.workload) + "\x00" + op.Name
		p := byName[key]
		if p == nil {
			p = newNameHistory(fam, op.Name)
			byName[key] = p
			names = append(names, p)
		}
		slab[i].op, slab[i].kind = op, kind
		p.mops = append(p.mops, &slab[i])
	}
	for _, p := range names {
		p.convert(leases)
	}
	addDeaths(names, append(deaths, faultDeaths(faults)...))
	for _, p := range names {
		p.capUnknown()
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i].family != names[j].family {
			return slices.Index(families, names[i].family) < slices.Index(families, names[j].family)
		}
		return names[i].name < names[j].name
	})
	return names
}

// convert fills every mop from its history operation. A key's lease is what
// the history records for it (results that name both, the server truth's
// puts; the reader refuses records that disagree), whatever its spelling.
func (p *nameHistory) convert(leases map[string]int64) {
	learned := maps.Clone(leases) // key -> lease
	if learned == nil {
		learned = map[string]int64{}
	}
	for _, m := range p.mops {
		if o := m.op.Output; o.Key != "" && o.Lease != 0 {
			learned[o.Key] = o.Lease
		}
	}
	for _, m := range p.mops {
		p.fill(m, learned)
	}
}

// fill fills a mop whose op and kind are set.
func (p *nameHistory) fill(m *mop, learned map[string]int64) {
	op := m.op
	in, out := &op.Input, &op.Output
	m.out, m.call, m.ret = op.Outcome, op.Call, op.Return
	switch m.kind {
	case opLock:
		m.rev = out.Rev
		m.holder = p.holder(firstLease(out.Lease, out.Key, in.Lease, learned), out.Key)
	case opUnlock:
		m.rev = in.Rev
		m.holder = p.holder(firstLease(in.Lease, in.Key, 0, learned), in.Key)
	case opWrite:
		m.rev, m.wrev, m.fenced = in.Rev, out.Rev, in.IsFenced()
		m.holder = p.holder(firstLease(in.Lease, in.Key, 0, learned), in.Key)
	case opCampaign:
		m.rev, m.value = out.Rev, p.value(in.Value)
		m.holder = p.holder(firstLease(out.Lease, out.Key, in.Lease, learned), out.Key)
	case opProclaim, opResign:
		m.rev, m.value = in.Rev, p.value(in.Value)
		m.holder = p.holder(firstLease(in.Lease, in.Key, 0, learned), in.Key)
	case opLeader, opObserve:
		m.rev, m.wrev, m.none = out.Rev, out.ModRev, out.None
		m.value = p.value(out.Value)
		if !out.None && op.Outcome == history.Ok {
			m.holder = p.holder(firstLease(out.Lease, out.Key, 0, learned), out.Key)
		}
	}
}

// firstLease prefers an explicit lease, then one the history records for
// the same key, then, for histories that record neither, the lease that
// etcd's own key naming encodes in the key, then fallback. A key's spelling
// never overrides a record: "l0/a" granted to lease 100 is lease 100.
func firstLease(explicit int64, key string, fallback int64, learned map[string]int64) int64 {
	if explicit != 0 {
		return explicit
	}
	if l := learned[key]; l != 0 {
		return l
	}
	if l, ok := leaseFromKey(key); ok {
		return l
	}
	return fallback
}

// holder returns the holder index of a lease, or of a key whose lease is
// unknown; 0 when neither is known.
func (p *nameHistory) holder(lease int64, key string) int32 {
	if lease != 0 {
		if h, ok := p.holders[lease]; ok {
			return h
		}
		h := int32(len(p.leaseOf))
		p.holders[lease] = h
		p.leaseOf = append(p.leaseOf, lease)
		return h
	}
	if key == "" {
		return 0
	}
	if h, ok := p.keys[key]; ok {
		return h
	}
	h := int32(len(p.leaseOf))
	p.keys[key] = h
	p.leaseOf = append(p.leaseOf, 0)
	return h
}

func (p *nameHistory) value(v string) int32 {
	if id, ok := p.values[v]; ok {
		return id
	}
	id := int32(len(p.valueOf))
	p.values[v] = id
	p.valueOf = append(p.valueOf, v)
	return id
}

// addDeaths turns lease-lost and revoke operations into opDeath mops in
// every name history that knows the lease. A lease-lost's interval is the
// window in which the lease ended: [last_alive, observed].
func addDeaths(names []*nameHistory, deaths []*history.Operation) {
	for _, op := range deaths {
		if op.Outcome == history.Fail || op.Input.Lease == 0 {
			continue
		}
		call := op.Call
		if op.F == history.FLeaseLost {
			call = 0 // no proof of life given: the lease may have ended any time
			if la := op.Input.LastAlive; la != nil {
				call = min(*la, op.Call)
			}
		}
		for _, p := range names {
			h, ok := p.holders[op.Input.Lease]
			if !ok {
				continue
			}
			p.mops = append(p.mops, &mop{kind: opDeath, out: op.Outcome, holder: h,
				call: call, ret: op.Return, op: op})
		}
	}
	for _, p := range names {
		sort.SliceStable(p.mops, func(i, j int) bool { return p.mops[i].call < p.mops[j].call })
	}
}

// endsLease reports whether a fault of this kind may end the lease it
// targets (revoking it, stopping its keep-alives, pausing its client past
// its TTL), as history's fault kinds say.
func endsLease(kind string) bool {
	return history.FaultKindOf(kind).Explains.Has(history.ExplainsLeaseDeath)
}

// faultDeaths turns lease faults into lease deaths. A one-shot lease fault
// that recorded its end (a revoke that succeeded) certainly ended the lease
// between its start and end. Any other lease fault is a death of unknown
// outcome from its start: the lease may have ended any time after it (or
// never, if the pause was short). This explains what a client that never
// noticed its loss could not record, and never excuses more than a real
// lease loss would.
func faultDeaths(faults []history.Fault) []*history.Operation {
	var ops []*history.Operation
	for _, f := range faults {
		if !endsLease(f.Kind) || f.Lease == 0 {
			continue
		}
		op := &history.Operation{Client: f.Target, F: f.Kind, Call: f.Start,
			Return: history.Never, Outcome: history.Info, Input: history.Value{Lease: f.Lease}}
		if history.FaultKindOf(f.Kind).OneShot && f.Ended {
			op.Return, op.Outcome = f.End, history.Ok
		}
		ops = append(ops, op)
	}
	return ops
}

// capUnknown bounds the return time of operations with an unknown outcome
// on a lease that certainly died: none of them can take effect after the
// lease is gone (its keys are deleted and it cannot make new ones), so they
// may be linearized, as no-ops, right after the death. This keeps them from
// lingering until the end of the history and keeps the search small.
func (p *nameHistory) capUnknown() {
	deadBy := map[int32]int64{}
	for _, m := range p.mops {
		if m.kind == opDeath && m.certain() {
			if t, ok := deadBy[m.holder]; !ok || m.ret < t {
				deadBy[m.holder] = m.ret
			}
		}
	}
	for _, m := range p.mops {
		if !m.unknown() || m.holder == 0 || p.leaseOf[m.holder] == 0 {
			continue
		}
		if t, ok := deadBy[m.holder]; ok {
			m.ret = max(m.call, t)
		}
	}
}

// porcupineOps returns the mops that keep returns true for, as porcupine
// operations whose input is the *mop.
func (p *nameHistory) porcupineOps(keep func(*mop) bool) []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(p.mops))
	for _, m := range p.mops {
		if keep(m) {
			ops = append(ops, porcupine.Operation{ClientId: m.op.Client, Input: m, Call: m.call, Return: m.ret})
		}
	}
	return ops
}

// has reports whether any mop satisfies f.
func (p *nameHistory) has(f func(*mop) bool) bool {
	for _, m := range p.mops {
		if f(m) {
			return true
		}
	}
	return false
}

// leases are the leases p's operations used, in order of first use.
func (p *nameHistory) leases() []int64 {
	var out []int64
	for _, l := range p.leaseOf {
		if l != 0 {
			out = append(out, l)
		}
	}
	return out
}
