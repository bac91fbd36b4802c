package harness

// The faults a cluster can suffer: leader moves, member kills and restarts,
// partitions and cut links, link latency, hung client ports, and healing
// them all.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
)

// MoveLeader transfers leadership to member to and waits until the old
// leader sees it done.
func (c *Cluster) MoveLeader(ctx context.Context, to int) error {
	if err := c.members.control(); err != nil {
		return fmt.Errorf("move leader: %w", err)
	}
	if _, err := c.member(to); err != nil {
		return fmt.Errorf("move leader to %d: %w", to, err)
	}
	from := c.Leader()
	if from == 0 {
		return fmt.Errorf("move leader to %d: no leader", to)
	}
	if from == to {
		return nil
	}
	m, err := c.member(from)
	if err != nil {
		return fmt.Errorf("move leader to %d: %w", to, err)
	}
	ctx, cancel := boundCtx(ctx)
	defer cancel()
	if err := m.MoveLeader(ctx, c.slots[to-1].id); err != nil {
		return fmt.Errorf("move leader from %d to %d: %w", from, to, err)
	}
	return nil
}

// Kill stops member i at once: its links are cut first, so it cannot hand
// over leadership or say goodbye, then its process is stopped. Its clients'
// connections are closed; their links stay and reconnect after Restart.
//
// A member run as a process is killed with SIGKILL (kill -9), also while
// paused. Killing a member whose disk is stalled ends the stall: its held
// writes go through as it dies.
func (c *Cluster) Kill(i int) error {
	if err := c.members.control(); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	m, err := c.member(i)
	if err != nil {
		return fmt.Errorf("kill member %d: %w", i, err)
	}
	c.mu.Lock()
	c.slots[i-1].m = nil
	c.slots[i-1].paused = false
	c.mu.Unlock()
	c.disconnect(i)
	c.unstallDisk(i)
	m.Kill()
	return nil
}

// disconnect cuts every link of member i and closes every connection to it.
// The member must already be marked stopped so nothing reconnects.
func (c *Cluster) disconnect(i int) {
	c.links.SetDown(i, true)
	c.net.stopped(i)
	c.slots[i-1].front.CloseConns()
	for _, cl := range c.clientsOf(i) {
		cl.links[i].CloseConns()
	}
}

// Restart starts a killed member again with the same name, ID, data dir and
// URLs. It returns once the member is serving; it may not have caught up yet
// (use WaitLeader or a request to wait for that).
func (c *Cluster) Restart(i int) error {
	if err := c.members.control(); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if i < 1 || i > len(c.slots) {
		return fmt.Errorf("restart member %d: out of range 1..%d", i, len(c.slots))
	}
	c.mu.Lock()
	closed, running := c.closed, c.slots[i-1].m != nil
	c.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("restart member %d: %w", i, ErrClosed)
	case running:
		return fmt.Errorf("restart member %d: already running", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxWait)
	defer cancel()
	s := c.slots[i-1]
	m, err := c.members.start(ctx, &s.spec)
	if err != nil {
		return fmt.Errorf("restart member %d: %w", i, err)
	}
	if m.ID() != s.id {
		m.Kill()
		return fmt.Errorf("restart member %d: id %x, expected %x", i, m.ID(), s.id)
	}
	c.mu.Lock()
	s.m = m
	c.mu.Unlock()
	c.links.SetDown(i, false)
	return nil
}

// Partition cuts every link between members of different groups, in both
// directions, replacing any previous partition or cut link (latencies stay).
// Members not listed form singleton groups, isolated from everyone: on 3
// members Partition([]int{1}) isolates all three, while
// Partition([]int{1}, []int{2, 3}) isolates member 1 from a working majority.
// Live connections crossing a new cut are closed before Partition returns.
func (c *Cluster) Partition(groups ...[]int) error {
	if err := c.net.partition(groups); err != nil {
		return fmt.Errorf("partition %v: %w", groups, err)
	}
	return nil
}

// CutLink cuts the link between members a and b in both directions, in
// addition to any partition in place.
func (c *Cluster) CutLink(a, b int) error {
	if err := c.net.cutLink(a, b); err != nil {
		return fmt.Errorf("cut link %d-%d: %w", a, b, err)
	}
	return nil
}

// CutLinks lists the links currently cut as pairs {a, b} with a < b
// (links of killed members are not listed).
func (c *Cluster) CutLinks() [][2]int { return c.links.CutLinks() }

// LinkBytes is the number of peer-traffic bytes delivered so far from member
// from to member to through the link layer (raft messages and forwarded
// lease requests; attributed traffic only). It shows which links carry
// traffic.
func (c *Cluster) LinkBytes(from, to int) uint64 { return c.links.DeliveredBytes(from, to) }

// SetLinkLatency delays every message from member from to member to by d
// (one way; set both directions for a symmetric delay). Zero removes it.
func (c *Cluster) SetLinkLatency(from, to int, d time.Duration) error {
	if err := c.net.setLatency(from, to, d); err != nil {
		return fmt.Errorf("set link latency: %w", err)
	}
	return nil
}

// HangClientPort makes member i's client port hang for every harness
// client with a link to it (those of member i and those of every member),
// and for clients made later, until UnhangClientPort or Heal: their
// connections to it, live and new, are accepted and never answered, while
// the member's peer links, its front door (Endpoints, Dial) and the other
// members' ports keep working. A client of every member can go on through
// the others once gRPC gives up on the hung connection; a client of member
// i alone is stuck.
func (c *Cluster) HangClientPort(i int) error {
	if i < 1 || i > len(c.slots) {
		return fmt.Errorf("hang client port of member %d: out of range 1..%d", i, len(c.slots))
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.hung[i] = true
	}
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("hang client port of member %d: %w", i, ErrClosed)
	}
	for _, cl := range c.clientsOf(i) {
		cl.links[i].Hang()
	}
	return nil
}

// UnhangClientPort ends the hang of member i's client port: the connections
// that lived through it are reset (what they held never reaches the
// member), and clients connect again.
func (c *Cluster) UnhangClientPort(i int) error {
	if i < 1 || i > len(c.slots) {
		return fmt.Errorf("unhang client port of member %d: out of range 1..%d", i, len(c.slots))
	}
	c.mu.Lock()
	delete(c.hung, i)
	c.mu.Unlock()
	for _, cl := range c.clientsOf(i) {
		cl.links[i].Unhang()
	}
	return nil
}

// Heal removes every partition, cut link and latency between members,
// resumes paused members, ends hung client ports, releases stalled disks, and reconnects, resumes
// and un-delays every client link. Killed members stay down.
func (c *Cluster) Heal() error {
	c.mu.Lock()
	closed := c.closed
	clear(c.hung)
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("heal: %w", ErrClosed)
	}
	errs := []error{c.net.heal()}
	for _, cl := range c.clientsOf(0) {
		cl.eachLink((*links.TCPProxy).Heal)
	}
	for i := range c.slots {
		if c.IsPaused(i + 1) {
			errs = append(errs, c.ResumeMember(i+1))
		}
		c.unstallDisk(i + 1)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	return nil
}
