package gen

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/history"
)

// lockService simulates etcd's lock on one name: the oldest key owns it.
type lockService struct {
	*prefix
}

func newLockService(s *sim, name string) *lockService {
	return &lockService{prefix: newPrefix(s, name)}
}

// lockClient is a client looping lock, a few writes, unlock.
type lockClient struct {
	l         *lockService
	s         *sim
	id        int
	lease     int64
	rev       int64 // create revision of the key it holds
	lastProof int64 // invoke time of the last operation proving the lease alive
	unfenced  int   // unfenced writes in flight (lease expiry waits for them)
}

func (l *lockService) startClient(id int) {
	c := &lockClient{l: l, s: l.s, id: id, lease: l.s.lease()}
	l.s.at(l.s.rng.Int64N(ms), c.lock)
}

// next runs f after a short think time.
func (c *lockClient) next(f func()) { c.s.at(c.s.now+c.s.rng.Int64N(ms), f) }

func (c *lockClient) key() string { return keyOf(c.l.name, c.lease) }

func (c *lockClient) lock() {
	s, p := c.s, c.l
	op := s.invoke(c.id, history.FLock, p.name, &history.Value{Lease: c.lease})
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
		return // the request is lost; the client gives up
	}
	s.at(s.now+s.delay(), func() {
		i := p.create(lease, "")
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
		rev := p.keys[i].rev
		grant := func() {
			s.at(s.now+s.delay(), func() {
				if done {
					return
				}
				done = true
				c.rev, c.lastProof = rev, invoked
				s.complete(op, history.TypeOk, &history.Value{Key: c.key(), Rev: rev, Lease: lease}, "")
				c.maybeExpire()
				c.next(func() { c.write(s.rng.IntN(4)) })
			})
		}
		if i == 0 || s.chance(s.cfg.BugDoubleGrant) {
			grant()
		} else {
			p.waiters[lease] = grant
		}
	})
}

// maybeExpire lets the held lease expire soon, now and then, as if the
// client paused: it notices only when a guarded write fails.
func (c *lockClient) maybeExpire() {
	if !c.s.chance(0.02) {
		return
	}
	lease := c.lease
	var expire func()
	expire = func() {
		if c.unfenced > 0 && c.lease == lease {
			c.s.at(c.s.now+ms, expire)
			return
		}
		c.l.kill(lease)
	}
	c.s.at(c.s.now+c.s.rng.Int64N(10*ms), expire)
}

// write makes n writes, then unlocks. Unfenced writes are made only while
// the lease certainly owns the lock, so the history stays legal.
func (c *lockClient) write(n int) {
	s, p := c.s, c.l
	if n == 0 {
		c.unlock()
		return
	}
	fenced := !s.chance(0.2) || !p.owns(c.lease, c.rev)
	op := s.invoke(c.id, history.FWrite, p.name, &history.Value{Key: c.key(), Rev: c.rev, Fenced: history.Bool(fenced), Data: fmt.Sprint(n)})
	if op == 0 {
		return
	}
	if !fenced {
		c.unfenced++
	}
	invoked, lost := s.now, s.chance(0.01)
	s.at(s.now+s.delay(), func() {
		ok := !fenced || p.owns(c.lease, c.rev)
		var wrev int64
		if ok && (!lost || s.chance(0.5)) {
			wrev = p.nextRev()
			p.truthData(wrev, fmt.Sprint(n))
		}
		s.at(s.now+s.delay(), func() {
			if !fenced {
				c.unfenced--
			}
			switch {
			case lost:
				s.complete(op, history.TypeInfo, nil, "context deadline exceeded")
				c.next(func() { c.write(n - 1) })
			case ok:
				if fenced {
					c.lastProof = invoked
				}
				s.complete(op, history.TypeOk, &history.Value{Rev: wrev}, "")
				c.next(func() { c.write(n - 1) })
			default:
				s.complete(op, history.TypeFail, nil, "guard failed: lock key gone")
				c.leaseLost()
			}
		})
	})
}

func (c *lockClient) unlock() {
	s, p := c.s, c.l
	op := s.invoke(c.id, history.FUnlock, p.name, &history.Value{Key: c.key()})
	if op == 0 {
		return
	}
	lost, lease := s.chance(0.01), c.lease
	s.at(s.now+s.delay(), func() {
		if !lost || s.chance(0.5) {
			p.remove(lease)
		}
		s.at(s.now+s.delay(), func() {
			if lost {
				s.complete(op, history.TypeInfo, nil, "context deadline exceeded")
				c.next(c.revoke)
				return
			}
			s.complete(op, history.TypeOk, &history.Value{}, "")
			c.next(c.lock)
		})
	})
}

// revoke ends the lease after an indeterminate operation and starts over
// with a new one.
func (c *lockClient) revoke() {
	revoke(c.s, c.l.prefix, c.id, c.lease, func() {
		c.lease, c.lastProof = c.s.lease(), c.s.now
		c.next(c.lock)
	})
}

func revoke(s *sim, p *prefix, client int, lease int64, then func()) {
	op := s.invoke(client, history.FRevoke, p.name, &history.Value{Lease: lease})
	if op == 0 {
		return
	}
	s.at(s.now+s.delay(), func() {
		p.kill(lease)
		s.at(s.now+s.delay(), func() {
			s.complete(op, history.TypeOk, &history.Value{}, "")
			then()
		})
	})
}

// leaseLost records that the client learned its lease is gone, and starts
// over with a new one.
func (c *lockClient) leaseLost() {
	recordLeaseLost(c.s, c.l.prefix, c.id, c.lease, c.lastProof)
	c.lease, c.lastProof = c.s.lease(), c.s.now
	c.next(c.lock)
}

func recordLeaseLost(s *sim, p *prefix, client int, lease, lastAlive int64) {
	op := s.invoke(client, history.FLeaseLost, p.name, &history.Value{Lease: lease, LastAlive: history.Int64(lastAlive)})
	if op != 0 {
		s.complete(op, history.TypeOk, &history.Value{}, "")
	}
}
