package harness

// Stallable disks: with Config.StallableDisks each member's data directory
// is a FUSE mount served by the harness (internal/diskstall) over a backing
// directory beside it, DataDir/.mN-disk. StallDisk holds the member's
// writes and fsyncs while its network and its reads go on, as a failing or
// saturated disk does (the trigger of etcd issue 15247). The member's log
// is written straight to the backing directory, never stalled: it is the
// harness's record, not the member's disk.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/etcdchaos/etcdchaos/harness/internal/diskstall"
)

// backingDir is where member i's data lives while its data directory is a
// mount.
func (c *Cluster) backingDir(i int) string {
	return filepath.Join(c.dir, "."+c.slots[i-1].spec.Name+"-disk")
}

// mountDisks mounts every member's data directory over its backing
// directory.
func (c *Cluster) mountDisks() error {
	for i, s := range c.slots {
		backing := c.backingDir(i + 1)
		if err := errors.Join(os.MkdirAll(s.spec.Dir, 0o700), os.MkdirAll(backing, 0o700)); err != nil {
			return fmt.Errorf("stallable disk of member %d: %w", i+1, err)
		}
		d, err := diskstall.Mount(s.spec.Dir, backing)
		if err != nil {
			return fmt.Errorf("stallable disk of member %d (FUSE): %w", i+1, err)
		}
		c.mu.Lock()
		s.disk = d
		c.mu.Unlock()
		// The harness writes the log straight to the backing directory:
		// the member writes it through its stdout, never stalled, and it
		// shows in the mount as in any data directory.
		s.spec.LogDir = backing
		s.spec.Fsync = true
	}
	return nil
}

// unmountDisks unmounts every member's disk (its process must be gone) and
// moves the backing directory back in place of the mount point, so that
// the data directory holds the member's data and log as without FUSE.
func (c *Cluster) unmountDisks() error {
	var errs []error
	for i, s := range c.slots {
		c.mu.Lock()
		d := s.disk
		s.disk = nil
		c.mu.Unlock()
		if d == nil {
			continue
		}
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stallable disk of member %d: %w", i+1, err))
			continue
		}
		if err := os.Remove(s.spec.Dir); err != nil {
			errs = append(errs, fmt.Errorf("stallable disk of member %d: %w", i+1, err))
			continue
		}
		if err := os.Rename(c.backingDir(i+1), s.spec.Dir); err != nil {
			errs = append(errs, fmt.Errorf("stallable disk of member %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// CanStallDisks is nil when StallDisk works on this cluster, else why not
// (wrapping ErrNotSupported).
func (c *Cluster) CanStallDisks() error {
	if c.cfg.StallableDisks {
		return nil
	}
	if c.cfg.Mode != ModeProcess {
		return fmt.Errorf("%w: disks of %s members cannot be stalled (use %s mode with stallable disks)", ErrNotSupported, c.cfg.Mode, ModeProcess)
	}
	return fmt.Errorf("%w: the cluster was started without stallable disks (Config.StallableDisks)", ErrNotSupported)
}

// StallDisk holds every write and fsync of member i to its data directory
// until UnstallDisk, Heal, Kill or Close: its raft log and its backend stop
// taking writes while it keeps its connections and keeps answering what it
// can without its disk. It needs Config.StallableDisks.
func (c *Cluster) StallDisk(i int) error {
	d, err := c.disk(i)
	if err != nil {
		return fmt.Errorf("stall disk of member %d: %w", i, err)
	}
	if err := d.Stall(); err != nil {
		return fmt.Errorf("stall disk of member %d: %w", i, err)
	}
	return nil
}

// UnstallDisk lets member i's held writes and those that follow go
// through. Unstalling a disk that is not stalled does nothing.
func (c *Cluster) UnstallDisk(i int) error {
	d, err := c.disk(i)
	if err != nil {
		return fmt.Errorf("unstall disk of member %d: %w", i, err)
	}
	d.Unstall()
	return nil
}

// DiskStalled reports whether member i's disk is stalled.
func (c *Cluster) DiskStalled(i int) bool {
	d, err := c.disk(i)
	return err == nil && d.Stalled()
}

// DiskHeld is the number of member i's disk operations held right now by
// a stall (0 without stallable disks).
func (c *Cluster) DiskHeld(i int) int64 {
	d, err := c.disk(i)
	if err != nil {
		return 0
	}
	return d.Held()
}

// disk returns member i's stallable disk.
func (c *Cluster) disk(i int) (*diskstall.Disk, error) {
	if err := c.CanStallDisks(); err != nil {
		return nil, err
	}
	if i < 1 || i > len(c.slots) {
		return nil, fmt.Errorf("member %d out of range 1..%d", i, len(c.slots))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if d := c.slots[i-1].disk; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("member %d has no stallable disk", i)
}

// unstallDisk releases member i's disk, if it has one.
func (c *Cluster) unstallDisk(i int) {
	c.mu.Lock()
	d := c.slots[i-1].disk
	c.mu.Unlock()
	if d != nil {
		d.Unstall()
	}
}
