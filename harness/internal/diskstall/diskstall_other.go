//go:build !linux

// Package diskstall serves a directory through FUSE with writes that can
// be held; Linux only.
package diskstall

import (
	"errors"
)

// errUnsupported: FUSE mounts are made only on Linux.
var errUnsupported = errors.New("stallable disks need Linux (FUSE)")

// Disk is a mounted mirror whose writes can be stalled.
type Disk struct{}

// Mount is not supported here.
func Mount(dir, backing string) (*Disk, error) { return nil, errUnsupported }

func (d *Disk) Dir() string   { return "" }
func (d *Disk) Stall() error  { return errUnsupported }
func (d *Disk) Unstall()      {}
func (d *Disk) Stalled() bool { return false }
func (d *Disk) Held() int64   { return 0 }
func (d *Disk) Writes() int64 { return 0 }
func (d *Disk) Close() error  { return nil }

// UnmountStale has nothing to do here.
func UnmountStale(dir string) error { return nil }

// Probe says FUSE mounts are not made here.
func Probe(tmp string) error { return errUnsupported }
