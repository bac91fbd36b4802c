package gen

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/history"
)

// electionService simulates etcd's election on one name: the oldest key
// leads, its value is the leader's proclamation.
type electionService struct {
	*prefix
}

func newElectionService(s *sim, name string) *electionService {
	return &electionService{prefix: newPrefix(s, name)}
}

// put changes the value of the key at index i.
func (e *electionService) put(i int, value string) {
	e.keys[i].modRev, e.keys[i].value = e.nextRev(), value
	e.truthPut(e.keys[i])
}

// campaigner loops: campaign, proclaim a few times, resign.
type campaigner struct {
	e         *electionService
	s         *sim
	id        int
	lease     int64
	rev       int64
	lastProof int64
	n         int // values proclaimed so far
}

func (e *electionService) startCampaigner(id int) {
	c := &campaigner{e: e, s: e.s, id: id, lease: e.s.lease()}
	e.s.at(e.s.rng.Int64N(ms), c.campaign)
}

func (c *campaigner) next(f func()) { c.s.at(c.s.now+c.s.rng.Int64N(ms), f) }

func (c *campaigner) key() string { return keyOf(c.e.name, c.lease) }

func (c *campaigner) value() string { c.n++; return fmt.Sprintf("c%d-%d", c.id, c.n) }

func (c *campaigner) campaign() {
	s, e := c.s, c.e
	v := c.value()
	op := s.invoke(c.id, history.FCampaign, e.name, &history.Value{Value: v, Lease: c.lease})
	if op == 0 {
		return
	}
	invoked, lease, done := s.now, c.lease, false
	s.at(s.now+50*ms, func() {
		if !done {
			done = true
			s.complete(op, history.TypeInfo, nil, "context deadline exceeded")
			c.next(c.revoke)
		}
	})
	if s.chance(0.01) {
		return
	}
	s.at(s.now+s.delay(), func() {
		i := e.find(lease)
		if i >= 0 && e.keys[i].value != v {
			e.put(i, v) // campaigning again with the same lease proclaims
		} else if i < 0 {
			i = e.create(lease, v)
		}
		if i < 0 {
			s.at(s.now+s.delay(), func() {
				if !done {
					done = true
					s.complete(op, history.TypeFail, nil, "requested lease not found")
					c.leaseLost()
				}
			})
			return
		}
		rev := e.keys[i].rev
		win := func() {
			s.at(s.now+s.delay(), func() {
				if done {
					return
				}
				done = true
				c.rev, c.lastProof = rev, invoked
				s.complete(op, history.TypeOk, &history.Value{Key: c.key(), Rev: rev, Lease: lease}, "")
				c.maybeExpire()
				c.next(func() { c.lead(s.rng.IntN(4)) })
			})
		}
		if i == 0 {
			win()
		} else {
			e.waiters[lease] = win
		}
	})
}

func (c *campaigner) maybeExpire() {
	if c.s.chance(0.02) {
		lease := c.lease
		c.s.at(c.s.now+c.s.rng.Int64N(10*ms), func() { c.e.kill(lease) })
	}
}

// lead proclaims n times (now and then campaigning again with the same
// lease instead), then resigns.
func (c *campaigner) lead(n int) {
	switch {
	case n == 0:
		c.resign()
	case c.s.chance(0.05):
		c.campaign()
	default:
		c.proclaim(n)
	}
}

func (c *campaigner) proclaim(n int) {
	s, e := c.s, c.e
	v := c.value()
	op := s.invoke(c.id, history.FProclaim, e.name, &history.Value{Key: c.key(), Rev: c.rev, Value: v})
	if op == 0 {
		return
	}
	invoked, lease, rev, lost := s.now, c.lease, c.rev, s.chance(0.01)
	s.at(s.now+s.delay(), func() {
		i := e.find(lease)
		ok := i >= 0 && e.keys[i].rev == rev
		if ok && (!lost || s.chance(0.5)) {
			e.put(i, v)
		}
		s.at(s.now+s.delay(), func() {
			switch {
			case lost:
				s.complete(op, history.TypeInfo, nil, "context deadline exceeded")
				c.next(func() { c.lead(n - 1) })
			case ok:
				c.lastProof = invoked
				s.complete(op, history.TypeOk, &history.Value{}, "")
				c.next(func() { c.lead(n - 1) })
			default:
				s.complete(op, history.TypeFail, nil, "election: not leader")
				c.leaseLost()
			}
		})
	})
}

func (c *campaigner) resign() {
	s, e := c.s, c.e
	op := s.invoke(c.id, history.FResign, e.name, &history.Value{Key: c.key(), Rev: c.rev})
	if op == 0 {
		return
	}
	lease, rev, lost := c.lease, c.rev, s.chance(0.01)
	s.at(s.now+s.delay(), func() {
		if i := e.find(lease); i >= 0 && e.keys[i].rev == rev && (!lost || s.chance(0.5)) {
			e.remove(lease)
		}
		s.at(s.now+s.delay(), func() {
			if lost {
				s.complete(op, history.TypeInfo, nil, "context deadline exceeded")
				c.next(c.revoke)
				return
			}
			s.complete(op, history.TypeOk, &history.Value{}, "")
			c.next(c.campaign)
		})
	})
}

func (c *campaigner) revoke() {
	revoke(c.s, c.e.prefix, c.id, c.lease, func() {
		c.lease, c.lastProof = c.s.lease(), c.s.now
		c.next(c.campaign)
	})
}

func (c *campaigner) leaseLost() {
	recordLeaseLost(c.s, c.e.prefix, c.id, c.lease, c.lastProof)
	c.lease, c.lastProof = c.s.lease(), c.s.now
	c.next(c.campaign)
}

// leaderValue is what Leader returns now.
func (e *electionService) leaderValue() *history.Value {
	if len(e.keys) == 0 {
		return &history.Value{None: true}
	}
	k := e.keys[0]
	return &history.Value{Key: keyOf(e.name, k.lease), Value: k.value, Rev: k.rev, ModRev: k.modRev}
}

// startReader loops leader reads.
func (e *electionService) startReader(id int) {
	s := e.s
	var read func()
	read = func() {
		op := s.invoke(id, history.FLeader, e.name, &history.Value{})
		if op == 0 {
			return
		}
		s.at(s.now+s.delay(), func() {
			v := e.leaderValue()
			if !v.None && s.chance(s.cfg.BugStaleRead) {
				v.Value = "stale"
			}
			s.at(s.now+s.delay(), func() {
				s.complete(op, history.TypeOk, v, "")
				s.at(s.now+ms+s.rng.Int64N(2*ms), read)
			})
		})
	}
	s.at(s.rng.Int64N(ms), read)
}

// startObserver runs one Observe stream: each observe op returns the next
// (create revision, mod_rev) change of the leader, skipping what it missed
// between polls, as etcd's Observe may.
func (e *electionService) startObserver(id int) {
	s := e.s
	var lastRev, lastMod int64
	var observe func()
	observe = func() {
		op := s.invoke(id, history.FObserve, e.name, &history.Value{})
		if op == 0 {
			return
		}
		var poll func()
		poll = func() {
			if s.opsLeft <= 0 {
				return
			}
			v := e.leaderValue()
			if v.None || v.Rev < lastRev || (v.Rev == lastRev && v.ModRev <= lastMod) {
				s.at(s.now+ms, poll)
				return
			}
			lastRev, lastMod = v.Rev, v.ModRev
			s.at(s.now+s.delay(), func() {
				s.complete(op, history.TypeOk, v, "")
				observe()
			})
		}
		s.at(s.now+s.delay(), poll)
	}
	s.at(0, observe)
}
