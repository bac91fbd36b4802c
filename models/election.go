package models

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

// electionStep is the election model's step function; it is pure.
func electionStep(s *electionState, m *mop) (bool, *electionState) {
	switch m.kind {
	case opCampaign:
		if m.failed() {
			return true, s
		}
		return campaign(s, m)
	case opProclaim:
		return proclaim(s, m)
	case opResign:
		if !m.failed() && m.holder != 0 && s.leader == m.holder && revMatch(s.leaderRev, m.rev) {
			return true, &electionState{lastRev: s.lastRev, dead: s.dead}
		}
		return true, s
	case opLeader:
		return readLeader(s, m)
	case opDeath:
		n := *s
		if s.leader == m.holder {
			n.leader, n.leaderRev, n.value = 0, 0, 0
		}
		n.dead = s.dead.with(m.holder)
		return true, &n
	}
	return true, s
}

// revMatch reports whether a known leader revision matches a guard's.
func revMatch(leaderRev, rev int64) bool {
	return leaderRev == 0 || rev == 0 || leaderRev == rev
}

func campaign(s *electionState, m *mop) (bool, *electionState) {
	if m.holder == 0 {
		return true, s
	}
	if s.dead.has(m.holder) || (s.leader != 0 && s.leader != m.holder) {
		return !m.certain(), s
	}
	n := *s
	n.value = m.value
	if !m.certain() {
		if s.leader == 0 {
			n.leader, n.leaderRev = m.holder, 0
		}
		return true, &n
	}
	if s.leader == m.holder && s.leaderRev != 0 {
		return revMatch(s.leaderRev, m.rev), &n
	}
	if m.rev != 0 && m.rev <= s.lastRev {
		return false, s
	}
	n.leader, n.leaderRev = m.holder, m.rev
	n.lastRev = max(s.lastRev, m.rev)
	return true, &n
}

func proclaim(s *electionState, m *mop) (bool, *electionState) {
	leads := m.holder != 0 && s.leader == m.holder && revMatch(s.leaderRev, m.rev)
	switch {
	case m.failed():
		// Illegal only when the key certainly leads with that revision.
		return !(leads && s.leaderRev != 0 && m.rev != 0), s
	case !leads:
		return !m.certain(), s
	}
	n := *s
	n.value = m.value
	if m.certain() && s.leaderRev == 0 && m.rev != 0 {
		if m.rev <= s.lastRev {
			return false, s
		}
		n.leaderRev, n.lastRev = m.rev, m.rev
	}
	return true, &n
}

func readLeader(s *electionState, m *mop) (bool, *electionState) {
	if !m.certain() {
		return true, s
	}
	if m.none {
		return s.leader == 0, s
	}
	if m.holder == 0 || s.leader != m.holder || s.value != m.value || !revMatch(s.leaderRev, m.rev) {
		return false, s
	}
	if s.leaderRev != 0 || m.rev == 0 {
		return true, s
	}
	if m.rev <= s.lastRev {
		return false, s
	}
	n := *s
	n.leaderRev, n.lastRev = m.rev, m.rev
	return true, &n
}

func (s *electionState) equal(o *electionState) bool {
	return s.leader == o.leader && s.leaderRev == o.leaderRev && s.value == o.value &&
		s.lastRev == o.lastRev && s.dead.equal(o.dead)
}

func (s *electionState) hash() uint64 {
	h := mix64(uint64(s.leader)) ^ mix64(uint64(s.leaderRev)+0x9e3779b97f4a7c15)
	h ^= mix64(uint64(s.value) * 31)
	h ^= mix64(uint64(s.lastRev) * 131)
	return h ^ s.dead.hashValue()
}

func (p *nameHistory) describeElectionState(s *electionState) string {
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
