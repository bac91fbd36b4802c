package harness

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/harness/internal/member"
)

// PauseMember freezes member i with SIGSTOP: it neither sends nor answers
// anything while its connections stay open, as in a long stop-the-world
// pause or a stalled VM. ResumeMember, Heal, Kill or Close end the pause.
// Only members run as processes (ModeProcess) can be paused; other modes
// return ErrNotSupported.
func (c *Cluster) PauseMember(i int) error {
	if err := c.members.control(); err != nil {
		return fmt.Errorf("pause member: %w", err)
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	p, err := c.pauser(i)
	if err != nil {
		return fmt.Errorf("pause member %d: %w", i, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots[i-1].paused {
		return fmt.Errorf("pause member %d: already paused", i)
	}
	if err := p.Pause(); err != nil {
		return fmt.Errorf("pause member %d: %w", i, err)
	}
	c.slots[i-1].paused = true
	return nil
}

// ResumeMember continues member i after PauseMember (SIGCONT). Resuming a
// member that is not paused does nothing.
func (c *Cluster) ResumeMember(i int) error {
	if err := c.members.control(); err != nil {
		return fmt.Errorf("resume member: %w", err)
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	p, err := c.pauser(i)
	if err != nil {
		return fmt.Errorf("resume member %d: %w", i, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.slots[i-1].paused {
		return nil
	}
	if err := p.Resume(); err != nil {
		return fmt.Errorf("resume member %d: %w", i, err)
	}
	c.slots[i-1].paused = false
	return nil
}

// IsPaused reports whether member i is paused by PauseMember.
func (c *Cluster) IsPaused(i int) bool {
	if i < 1 || i > len(c.slots) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slots[i-1].paused
}

// pauser returns running member i if it can be paused.
func (c *Cluster) pauser(i int) (member.Pauser, error) {
	m, err := c.member(i)
	if err != nil {
		return nil, err
	}
	p, ok := m.(member.Pauser)
	if !ok {
		return nil, fmt.Errorf("%w: %s members cannot be paused (use %s mode)", ErrNotSupported, c.cfg.Mode, ModeProcess)
	}
	return p, nil
}
