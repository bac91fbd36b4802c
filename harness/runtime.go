package harness

import (
	"context"

	"github.com/etcdchaos/etcdchaos/harness/internal/member"
	"github.com/etcdchaos/etcdchaos/harness/internal/procmember"
)

// memberRuntime runs a cluster's members: inside this process, as etcd
// processes, or not at all for a cluster the harness only attaches to. The
// cluster asks it rather than its mode what it may do with its members.
type memberRuntime interface {
	// start starts the member described by spec and returns once it is
	// serving (not necessarily ready: see member.Member.Ready).
	start(ctx context.Context, spec *member.Spec) (member.Member, error)
	// control is nil if the harness owns the members: it may kill, restart
	// and pause them and move their leadership. Otherwise it says why not,
	// wrapping ErrNotSupported.
	control() error
	// leader picks the leader from the members' raft views (running[i] is
	// member i+1, nil if stopped; ids[i] is its member ID): the member that
	// Leader reports, and whether WaitLeader may return it.
	leader(running []member.Member, ids []uint64) (leader int, settled bool)
}

// ownedMembers is what members the harness started have in common: the
// harness controls them, and each tells whether it is the leader.
type ownedMembers struct{}

func (ownedMembers) control() error { return nil }

// leader is, among running members that consider themselves leader, the
// one with the highest term; it is settled once a quorum of members
// acknowledges it in that term. Right after a partition the old leader may
// still be acknowledged until the members notice.
func (ownedMembers) leader(running []member.Member, ids []uint64) (int, bool) {
	leader, term := 0, uint64(0)
	for i, m := range running {
		if m == nil || m.Lead() != m.ID() {
			continue
		}
		if t := m.Term(); t > term {
			leader, term = i+1, t
		}
	}
	if leader == 0 {
		return 0, false
	}
	votes := 0
	for _, m := range running {
		if m != nil && m.Lead() == ids[leader-1] && m.Term() == term {
			votes++
		}
	}
	return leader, votes >= len(running)/2+1
}

// LogFile is the name of a process member's log in its data directory.
const LogFile = "etcd.log"

// processRuntime runs each member as an etcd process (ModeProcess).
type processRuntime struct {
	ownedMembers
	*procmember.Runner
}

func (r *processRuntime) start(ctx context.Context, spec *member.Spec) (member.Member, error) {
	return r.Start(ctx, spec)
}
