// Package diskstall serves a directory through FUSE as a mirror of another
// one whose writes can be held: while a Disk is stalled, every write, fsync,
// fallocate, truncate and change to the directory tree made through it
// blocks until it is released, while reads and everything outside the
// mount go on (a directory's own fsync is not held; the changes it would
// flush are). A process whose data directory is the mount point sees its
// disk stop answering, as a failing or saturated disk does, with its
// network untouched. Linux only; it needs /dev/fuse and root
// (CAP_SYS_ADMIN).
package diskstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// fsName marks our mounts in the mount table (fuse.etcdchaos-disk), so
// that mounts left by a killed process can be told from others.
const fsName = "etcdchaos-disk"

// cacheFor is how long the kernel may cache names and attributes. Only the
// process on the mount changes the backing directory, so caching is safe.
const cacheFor = time.Second

// Disk is a mounted mirror whose writes can be stalled.
type Disk struct {
	dir, backing string

	served chan struct{} // closed once the server is done

	mu      sync.Mutex
	release chan struct{} // nil while writes pass; closed to release them
	held    atomic.Int64  // operations blocked right now
	writes  atomic.Int64  // held operations entered so far, blocked or not
	closed  bool
}

// Mount serves backing at dir (both must exist) and returns once the
// mount answers. It needs root (CAP_SYS_ADMIN) and /dev/fuse.
//
// The calling process must not keep files on the mount open: at its exit
// the kernel would flush them through the server that exit is stopping,
// and wait for good. For the same reason no child may inherit the
// connection: it is opened close-on-exec (go-fuse's own mount(2) leaves
// it open across exec, so an etcd started later would keep its own disk's
// connection alive after the harness died, and wait on it for good).
func Mount(dir, backing string) (*Disk, error) {
	d := &Disk{dir: dir, backing: backing, served: make(chan struct{})}
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", backing, dir, err)
	}
	lb := root.(*fs.LoopbackNode)
	top := &node{LoopbackNode: lb, disk: d}
	lb.RootData.RootNode = top
	fd, err := mountFuse(dir, backing)
	if err != nil {
		return nil, err
	}
	ttl := cacheFor
	opts := &fs.Options{EntryTimeout: &ttl, AttrTimeout: &ttl, MountOptions: fuse.MountOptions{FsName: backing, Name: fsName}}
	// A mount point of /dev/fd/N tells go-fuse to serve the connection N,
	// already mounted; it answers the kernel's INIT before it returns.
	server, err := fuse.NewServer(fs.NewNodeFS(top, opts), fmt.Sprintf("/dev/fd/%d", fd), &opts.MountOptions)
	if err != nil {
		// Unmounting ends the connection; go-fuse closed it already.
		return nil, errors.Join(fmt.Errorf("serve %s on %s: %w", backing, dir, err), detach(dir))
	}

	go func() {
		defer close(d.served)
		server.Serve()
	}()
	refusePoll(dir)
	return d, nil
}

// refusePoll makes the kernel ask the mount once whether files can be
// polled, so that go-fuse says no and the kernel never asks again. Go
// registers every file it opens with its poller; on a FUSE file that asks
// the server, and a server in the same process may have no thread left to
// answer (go-fuse does the same in its own mount, under the same name).
func refusePoll(dir string) {
	fd, err := syscall.Open(filepath.Join(dir, ".go-fuse-epoll-hack"), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT}}, 0)
	_ = syscall.Close(fd)
}

// mountFuse opens a FUSE connection, close-on-exec, and mounts it on dir.
func mountFuse(dir, backing string) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return -1, fmt.Errorf("mount %s on %s: %w", backing, dir, err)
	}
	fd, err := syscall.Open("/dev/fuse", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("mount %s on %s: open /dev/fuse: %w", backing, dir, err)
	}
	data := fmt.Sprintf("fd=%d,rootmode=%o,user_id=%d,group_id=%d", fd, st.Mode&syscall.S_IFMT, os.Geteuid(), os.Getegid())
	if err := syscall.Mount(backing, dir, "fuse."+fsName, syscall.MS_NOSUID|syscall.MS_NODEV, data); err != nil {
		_ = syscall.Close(fd)
		return -1, fmt.Errorf("mount %s on %s (needs root): %w", backing, dir, err)
	}
	return fd, nil
}

// Dir is the mount point.
func (d *Disk) Dir() string { return d.dir }

// Stall holds every write made through the mount from now on, until
// Unstall or Close. Stalling a stalled disk does nothing.
func (d *Disk) Stall() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("stall %s: unmounted", d.dir)
	}
	if d.release == nil {
		d.release = make(chan struct{})
	}
	return nil
}

// Unstall lets held writes and those that follow go through.
func (d *Disk) Unstall() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.release != nil {
		close(d.release)
		d.release = nil
	}
}

// Stalled reports whether writes are held.
func (d *Disk) Stalled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.release != nil
}

// Held is the number of operations blocked right now; Writes is how many
// writing operations (held or not) the mount has served so far.
func (d *Disk) Held() int64   { return d.held.Load() }
func (d *Disk) Writes() int64 { return d.writes.Load() }

// Close releases held writes and unmounts. Whoever uses the mount must
// have closed its files (a process on it must be gone), or the unmount is
// lazy: the mount leaves the tree at once and ends when its last file is
// closed, which Close waits for, up to closeWait. Close is idempotent.
func (d *Disk) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	if d.release != nil {
		close(d.release)
		d.release = nil
	}
	d.mu.Unlock()
	if err := detach(d.dir); err != nil {
		return err
	}
	select {
	case <-d.served:
		return nil
	case <-time.After(closeWait):
		return fmt.Errorf("unmount %s: a file on it is still open after %v", d.dir, closeWait)
	}
}

// closeWait bounds how long Close waits for the last file on a lazily
// unmounted disk to be closed.
const closeWait = 10 * time.Second

// detach unmounts dir, lazily if it is busy; a dir that is no longer a
// mount (a sweep of stale mounts took it) is fine.
func detach(dir string) error {
	err := syscall.Unmount(dir, 0)
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// MaxHold bounds how long one operation is held: it then goes through
// however long the stall lasts, so that nothing waits for good on a
// release that never comes (a test stopped in the middle of a stall).
const MaxHold = 2 * time.Minute

// gate blocks while the disk is stalled, until it is released, the kernel
// interrupts the request (its caller got a fatal signal) or MaxHold passed.
func (d *Disk) gate(ctx context.Context) syscall.Errno {
	d.writes.Add(1)
	d.mu.Lock()
	release := d.release
	d.mu.Unlock()
	if release == nil {
		return 0
	}
	d.held.Add(1)
	defer d.held.Add(-1)
	timer := time.NewTimer(MaxHold)
	defer timer.Stop()
	select {
	case <-release:
		return 0
	case <-timer.C:
		return 0
	case <-ctx.Done():
		return syscall.EINTR
	}
}

// UnmountStale lazily unmounts every mount of this package at or below
// dir, as a process killed before Close leaves them (their server is gone,
// so every access fails with ENOTCONN until they are unmounted).
func UnmountStale(dir string) error {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "fuse."+fsName || !within(m.Mountpoint, dir), false
	})
	if err != nil {
		return fmt.Errorf("read mounts under %s: %w", dir, err)
	}
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m.Mountpoint, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}

// Probe reports whether a Disk can be mounted here, by mounting one on a
// scratch directory under tmp and writing through it.
func Probe(tmp string) error {
	scratch, err := os.MkdirTemp(tmp, "etcdchaos-diskprobe-")
	if err != nil {
		return fmt.Errorf("probe fuse: %w", err)
	}
	defer os.RemoveAll(scratch)
	dir, backing := filepath.Join(scratch, "mnt"), filepath.Join(scratch, "backing")
	if err := errors.Join(os.Mkdir(dir, 0o700), os.Mkdir(backing, 0o700)); err != nil {
		return fmt.Errorf("probe fuse: %w", err)
	}
	d, err := Mount(dir, backing)
	if err != nil {
		return fmt.Errorf("probe fuse: %w", err)
	}
	werr := os.WriteFile(filepath.Join(dir, "probe"), []byte("ok"), 0o600)
	if err := errors.Join(werr, d.Close()); err != nil {
		return fmt.Errorf("probe fuse: %w", err)
	}
	return nil
}

// node is a loopback node whose tree changes pass the disk's gate, and
// whose files are gated files.
type node struct {
	*fs.LoopbackNode
	disk *Disk
}

var (
	_ fs.NodeWrapChilder = (*node)(nil)
	_ fs.NodeCreater     = (*node)(nil)
	_ fs.NodeOpener      = (*node)(nil)
	_ fs.NodeMkdirer     = (*node)(nil)
	_ fs.NodeMknoder     = (*node)(nil)
	_ fs.NodeUnlinker    = (*node)(nil)
	_ fs.NodeRmdirer     = (*node)(nil)
	_ fs.NodeRenamer     = (*node)(nil)
	_ fs.NodeLinker      = (*node)(nil)
	_ fs.NodeSymlinker   = (*node)(nil)
	_ fs.NodeSetattrer   = (*node)(nil)
)

// WrapChild makes every node of the tree a gated node.
func (n *node) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), disk: n.disk}
}

// file returns fh gated. Gated files never use FUSE passthrough, where the
// kernel would write to the backing file without asking us.
func (n *node) file(fh fs.FileHandle) fs.FileHandle {
	if lf, ok := fh.(*fs.LoopbackFile); ok {
		return &file{LoopbackFile: lf, disk: n.disk}
	}
	return fh
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return n.file(fh), fl, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.disk.gate(ctx); errno != 0 {
		return nil, nil, 0, errno
	}
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, n.file(fh), fl, errno
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.disk.gate(ctx); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.disk.gate(ctx); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if errno := n.disk.gate(ctx); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Unlink(ctx, name)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if errno := n.disk.gate(ctx); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Rmdir(ctx, name)
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := n.disk.gate(ctx); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.disk.gate(ctx); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Link(ctx, target, name, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.disk.gate(ctx); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Symlink(ctx, target, name, out)
}

// Setattr is a truncate, chmod, chown or utimes: all write the disk.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := n.disk.gate(ctx); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

// file is a loopback file whose writes and syncs pass the disk's gate.
type file struct {
	*fs.LoopbackFile
	disk *Disk
}

// PassthroughFd refuses passthrough: every write must come to Write.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.disk.gate(ctx); errno != 0 {
		return 0, errno
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if errno := f.disk.gate(ctx); errno != 0 {
		return 0, errno
	}
	return f.LoopbackFile.Writev(ctx, data, off)
}

// Fsync waits at the gate and then returns without syncing the backing
// file: the member's fsyncs are where a stall bites, as on a real disk, and
// the harness's page cache outlives a killed member, so durability is
// what it is with unsafe-no-fsync, at the cost of a round trip.
func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.disk.gate(ctx)
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if errno := f.disk.gate(ctx); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}
