package linear

import (
	"fmt"
	"strings"
)

// Lock model: a mutex per lock name, seen from the server.
//
// State: the owner (the lease whose key holds the lock, or none), the owner
// key's create revision (0 while unknown), the highest create revision ever
// granted, the revision of the last guarded write, and the set of leases
// known to be gone.
//
// Identity is the lease: etcd's lock keys are "<name>/<lease hex>", so a
// lease has at most one key per name and a key's lease is read from the key.
//
// Operations and their legal effects:
//
//   - lock ok (key, rev, lease): grants the lock to the lease when it is
//     free, with a create revision above every earlier grant (a later owner's
//     key is always newer: the lock goes to the oldest waiting key and every
//     waiting key is newer than the owner's). Locking again with the owner's
//     own lease finds the same key (concurrency.Mutex and v3lock reuse it), so
//     it is a no-op that must report the owner's revision. A grant to any
//     other lease while the lock is held, or to a lease that is already gone,
//     is illegal: mutual exclusion broke.
//   - lock info/pending: the key may have been made and granted at any time
//     after the invoke (a client that gave up leaves its key behind), or
//     never. Linearized where the lock is free it grants; elsewhere it is a
//     no-op. Porcupine tries every placement, so "granted later" and "never"
//     are both covered.
//   - unlock (ok, info, pending) of key k: a plain delete. It frees the lock
//     when k is the owner's key; otherwise it deleted a waiter's key (or
//     nothing) and changes nothing: Unlock does not check ownership. An
//     unlock that names the create revision of the hold it releases (rev)
//     frees only that hold: an unlock of an earlier hold of the same key
//     (a retry of an old unlock, after the client locked again with the
//     same lease) is a no-op, because its client still holds the newer
//     lock. That a plain delete of the key would release it at the server
//     is etcd issue 22082: a grant to another lease after it is refused.
//   - lease death (lease-lost ok between last_alive and the moment the
//     client noticed; revoke ok between invoke and ok; an info revoke any
//     time after its invoke): the lease's key is deleted, so the lock is freed
//     if the lease owned it, and the lease can never be granted anything
//     again, on any name.
//   - fenced write ok (fenced-writes check): a txn guarded on the lock key's
//     create revision; legal only while the writer's lease owns the lock with
//     that revision, and its revision must be above the previous guarded
//     write's (and above the lock key's create revision). A fenced write that
//     failed was rejected by its guard: legal, no effect. Info: no
//     constraint.
//   - unfenced write ok (unfenced-writes check): legal only while the
//     writer's lease owns the lock. Failing this is the documented hazard of
//     unfenced critical sections, classified by the checker.
//   - fail of lock or unlock: no effect.
type lockState struct {
	owner     int32
	ownerRev  int64
	lastRev   int64
	lastWrite int64
	dead      *deadSet
}

// step is the lock model's step function.
func (s *lockState) step(m *mop) (state, refusal) {
	if m.failed() {
		return s, accepted
	}
	switch m.kind {
	case opLock:
		return lockGrant(s, m)
	case opUnlock:
		if m.holder != 0 && s.owner == m.holder && (m.rev == 0 || s.ownerRev == 0 || m.rev == s.ownerRev) {
			n := *s
			n.owner, n.ownerRev = 0, 0
			return &n, accepted
		}
		return s, accepted
	case opDeath:
		n := *s
		if s.owner == m.holder {
			n.owner, n.ownerRev = 0, 0
		}
		n.dead = s.dead.with(m.holder)
		return &n, accepted
	case opWrite:
		return lockWrite(s, m)
	}
	return s, accepted
}

func lockGrant(s *lockState, m *mop) (state, refusal) {
	switch {
	case m.holder == 0:
		return s, accepted // nothing known about the key: cannot be checked
	case s.dead.has(m.holder):
		return s, certainly(m, refuseGone)
	case s.owner != 0 && s.owner != m.holder:
		return s, certainly(m, refuseHeld)
	}
	if !m.certain() {
		if s.owner == m.holder {
			return s, accepted
		}
		n := *s
		n.owner, n.ownerRev = m.holder, 0
		return &n, accepted
	}
	if s.owner == m.holder && s.ownerRev != 0 {
		if m.rev == 0 || m.rev == s.ownerRev {
			return s, accepted
		}
		return s, refuseOwnRev
	}
	if m.rev != 0 && m.rev <= s.lastRev {
		return s, refuseRevOrder
	}
	n := *s
	n.owner, n.ownerRev = m.holder, m.rev
	n.lastRev = max(s.lastRev, m.rev)
	return &n, accepted
}

func lockWrite(s *lockState, m *mop) (state, refusal) {
	switch {
	case !m.certain():
		return s, accepted
	case s.owner == 0:
		return s, refuseNoOwner
	case m.holder == 0 || s.owner != m.holder:
		return s, refuseNotOwner
	case m.rev != 0 && s.ownerRev != 0 && m.rev != s.ownerRev:
		return s, refuseGuard
	case m.wrev != 0 && m.wrev <= m.rev:
		return s, refuseBelowKey
	case m.wrev != 0 && m.wrev <= s.lastWrite:
		return s, refuseWriteOrder
	case s.ownerRev != 0 && m.wrev == 0:
		return s, accepted
	}
	n := *s
	if n.ownerRev == 0 && m.rev != 0 {
		if m.rev <= s.lastRev {
			return s, refuseRevOrder
		}
		n.ownerRev, n.lastRev = m.rev, m.rev
	}
	n.lastWrite = max(s.lastWrite, m.wrev)
	return &n, accepted
}

func (s *lockState) equal(other state) bool {
	o := other.(*lockState)
	return s.owner == o.owner && s.ownerRev == o.ownerRev && s.lastRev == o.lastRev &&
		s.lastWrite == o.lastWrite && s.dead.equal(o.dead)
}

func (s *lockState) hash() uint64 {
	h := mix64(uint64(s.owner)) ^ mix64(uint64(s.ownerRev)+0x9e3779b97f4a7c15)
	h ^= mix64(uint64(s.lastRev) * 31)
	h ^= mix64(uint64(s.lastWrite) * 131)
	return h ^ s.dead.hashValue()
}

func (s *lockState) heldBy() int32     { return s.owner }
func (s *lockState) highestRev() int64 { return s.lastRev }

// marks: the lock's account cites the last write.
func (s *lockState) marks(prev state, _ *mop) bool { return s.lastWrite != prev.(*lockState).lastWrite }

func (s *lockState) describe(p *nameHistory) string {
	var b strings.Builder
	if s.owner == 0 {
		b.WriteString("free")
	} else {
		fmt.Fprintf(&b, "owner %s", p.holderName(s.owner))
		if s.ownerRev != 0 {
			fmt.Fprintf(&b, " rev %d", s.ownerRev)
		}
	}
	fmt.Fprintf(&b, "; last grant rev %d", s.lastRev)
	if s.lastWrite != 0 {
		fmt.Fprintf(&b, "; last write rev %d", s.lastWrite)
	}
	if n := s.dead.count(); n > 0 {
		fmt.Fprintf(&b, "; %d leases gone", n)
	}
	return b.String()
}

// holderName names a holder by its lease in hex, as in its key.
func (p *nameHistory) holderName(h int32) string {
	if h <= 0 || int(h) >= len(p.leaseOf) {
		return "unknown"
	}
	if l := p.leaseOf[h]; l != 0 {
		return fmt.Sprintf("lease %x", l)
	}
	for k, v := range p.keys {
		if v == h {
			return "key " + k
		}
	}
	return "unknown"
}
