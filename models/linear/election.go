package linear

import (
	"fmt"
	"strings"
)

// Election model: one leader at a time per election name, seen from the
// server.
//
// State: the leader (the lease whose key is the lowest-create-revision key
// under the election prefix, or none), the leader key's create revision (0
// while unknown), the current leader value, the highest leader create
// revision so far, and the set of leases known to be gone.
//
// As for locks, identity is the lease: keys are "<name>/<lease hex>".
//
// Operations and their legal effects:
//
//   - campaign ok (value, lease -> key, rev): makes the lease leader with the
//     value when there is no leader; its create revision must be above every
//     earlier leader's (the next leader is the oldest waiting key, and every
//     waiting key is newer than the leader). When the lease already leads,
//     concurrency.Election.Campaign finds its own key and proclaims the new
//     value, so a campaign with the leader's lease is a proclaim that must
//     report the leader's revision. Campaign ok while another lease leads
//     (two leaders) or with a lease that is gone is illegal. A campaign that
//     has not returned may already lead: etcd's Leader returns the
//     lowest-create-revision key even while its Campaign still waits for
//     older keys to go; porcupine places the campaign at that point of its
//     interval.
//   - campaign info/pending: may have become leader (or re-proclaimed) at
//     any point after its invoke, or never.
//   - proclaim ok (key, rev, value): a txn guarded on the key's create
//     revision; legal only by the current leader's key and revision, and it
//     sets the value. A proclaim fail is legal only when that key (with that
//     revision) is not the leader. Info/pending: proclaims if the key leads
//     where it is linearized, else nothing.
//   - resign (ok, info, pending) of key k at rev r: a guarded delete whose
//     result concurrency.Election.Resign (and the gRPC Resign built on it)
//     does not check; by the leader it ends leadership, by anyone else it is a
//     legal no-op.
//   - leader ok: returns the current leader's key, create revision and
//     latest value, or none when there is no leader; never a stale one.
//   - lease death (lease-lost, revoke): ends leadership if the lease led and
//     the lease can never lead again, on any name.
//   - observe: checked separately (see observe.go).
type electionState struct {
	leader    int32
	leaderRev int64
	value     int32
	lastRev   int64
	dead      *deadSet
}

// step is the election model's step function.
func (s *electionState) step(m *mop) (state, refusal) {
	switch m.kind {
	case opCampaign:
		if m.failed() {
			return s, accepted
		}
		return campaign(s, m)
	case opProclaim:
		return proclaim(s, m)
	case opResign:
		if !m.failed() && m.holder != 0 && s.leader == m.holder && revMatch(s.leaderRev, m.rev) {
			return &electionState{lastRev: s.lastRev, dead: s.dead}, accepted
		}
		return s, accepted
	case opLeader:
		return readLeader(s, m)
	case opDeath:
		n := *s
		if s.leader == m.holder {
			n.leader, n.leaderRev, n.value = 0, 0, 0
		}
		n.dead = s.dead.with(m.holder)
		return &n, accepted
	}
	return s, accepted
}

// revMatch reports whether a known leader revision matches a guard's.
func revMatch(leaderRev, rev int64) bool {
	return leaderRev == 0 || rev == 0 || leaderRev == rev
}

func campaign(s *electionState, m *mop) (state, refusal) {
	switch {
	case m.holder == 0:
		return s, accepted
	case s.dead.has(m.holder):
		return s, certainly(m, refuseGone)
	case s.leader != 0 && s.leader != m.holder:
		return s, certainly(m, refuseHeld)
	}
	n := *s
	n.value = m.value
	if !m.certain() {
		if s.leader == 0 {
			n.leader, n.leaderRev = m.holder, 0
		}
		return &n, accepted
	}
	if s.leader == m.holder && s.leaderRev != 0 {
		if revMatch(s.leaderRev, m.rev) {
			return &n, accepted
		}
		return s, refuseOwnRev
	}
	if m.rev != 0 && m.rev <= s.lastRev {
		return s, refuseRevOrder
	}
	n.leader, n.leaderRev = m.holder, m.rev
	n.lastRev = max(s.lastRev, m.rev)
	return &n, accepted
}

func proclaim(s *electionState, m *mop) (state, refusal) {
	leads := m.holder != 0 && s.leader == m.holder && revMatch(s.leaderRev, m.rev)
	switch {
	case m.failed():
		// Illegal only when the key certainly leads with that revision.
		if leads && s.leaderRev != 0 && m.rev != 0 {
			return s, refuseFailedLead
		}
		return s, accepted
	case !leads:
		return s, certainly(m, refuseNotLeader)
	}
	n := *s
	n.value = m.value
	if m.certain() && s.leaderRev == 0 && m.rev != 0 {
		if m.rev <= s.lastRev {
			return s, refuseRevOrder
		}
		n.leaderRev, n.lastRev = m.rev, m.rev
	}
	return &n, accepted
}

func readLeader(s *electionState, m *mop) (state, refusal) {
	switch {
	case !m.certain():
		return s, accepted
	case m.none:
		if s.leader == 0 {
			return s, accepted
		}
		return s, refuseStaleRead
	case m.holder == 0 || s.leader != m.holder || s.value != m.value || !revMatch(s.leaderRev, m.rev):
		return s, refuseStaleRead
	case s.leaderRev != 0 || m.rev == 0:
		return s, accepted
	case m.rev <= s.lastRev:
		return s, refuseStaleRead
	}
	n := *s
	n.leaderRev, n.lastRev = m.rev, m.rev
	return &n, accepted
}

func (s *electionState) equal(other state) bool {
	o := other.(*electionState)
	return s.leader == o.leader && s.leaderRev == o.leaderRev && s.value == o.value &&
		s.lastRev == o.lastRev && s.dead.equal(o.dead)
}

func (s *electionState) hash() uint64 {
	h := mix64(uint64(s.leader)) ^ mix64(uint64(s.leaderRev)+0x9e3779b97f4a7c15)
	h ^= mix64(uint64(s.value) * 31)
	h ^= mix64(uint64(s.lastRev) * 131)
	return h ^ s.dead.hashValue()
}

func (s *electionState) heldBy() int32     { return s.leader }
func (s *electionState) highestRev() int64 { return s.lastRev }

// marks: the election's account cites what set the current value: a new
// leader, a change of value, or any proclaim that took effect.
func (s *electionState) marks(prev state, m *mop) bool {
	p := prev.(*electionState)
	return s.value != p.value || s.leader != p.leader || m.kind == opProclaim && s != p
}

func (s *electionState) describe(p *nameHistory) string {
	var b strings.Builder
	if s.leader == 0 {
		b.WriteString("no leader")
	} else {
		fmt.Fprintf(&b, "leader %s", p.holderName(s.leader))
		if s.leaderRev != 0 {
			fmt.Fprintf(&b, " rev %d", s.leaderRev)
		}
		fmt.Fprintf(&b, " value %q", p.valueOf[s.value])
	}
	fmt.Fprintf(&b, "; last leader rev %d", s.lastRev)
	if n := s.dead.count(); n > 0 {
		fmt.Fprintf(&b, "; %d leases gone", n)
	}
	return b.String()
}
