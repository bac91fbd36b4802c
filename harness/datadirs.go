package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/etcdchaos/etcdchaos/harness/internal/diskstall"
)

// A run killed with SIGKILL cannot remove its temporary data directory. So
// that such directories do not pile up, each one carries an owner file
// naming the process that created it, and every start of a cluster removes
// the directories whose owner is gone. A directory without an owner file
// may not be ours and is never removed.

// dataDirPrefix starts the name of every temporary data directory.
const dataDirPrefix = "etcdchaos-"

// ownerFile, inside a temporary data directory, names its owner.
const ownerFile = ".etcdchaos-owner"

// owner identifies a process across PID reuse and reboots: its PID, its
// start time (clock ticks after boot, from /proc/PID/stat) and the boot it
// ran in. start and boot are empty where the system does not tell them.
type owner struct {
	pid   int
	start string
	boot  string
}

// String is the owner file's content: "pid start boot".
func (o owner) String() string {
	return fmt.Sprintf("%d %s %s\n", o.pid, orDash(o.start), orDash(o.boot))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func parseOwner(data string) (owner, error) {
	f := strings.Fields(data)
	if len(f) != 3 {
		return owner{}, fmt.Errorf("owner %q: want pid, start time and boot id", data)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return owner{}, fmt.Errorf("owner %q: bad pid", data)
	}
	o := owner{pid: pid, start: f[1], boot: f[2]}
	if o.start == "-" {
		o.start = ""
	}
	if o.boot == "-" {
		o.boot = ""
	}
	return o, nil
}

// bootID is this boot's id, empty if the system does not tell it.
func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// processOf returns the owner record of process pid as it runs now, and
// false if no such process runs (a zombie counts as gone).
func processOf(pid int) (owner, bool) {
	o := owner{pid: pid, boot: bootID()}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) && procMounted() {
		return o, false
	}
	if err != nil {
		// No /proc: ask the kernel whether the PID exists.
		err := syscall.Kill(pid, 0)
		return o, err == nil || errors.Is(err, syscall.EPERM)
	}
	// The command name, in parentheses, may hold spaces: fields start after
	// the last ')'. Field 3 is the state, field 22 the start time.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return o, true
	}
	o.start = f[19]
	return o, f[0] != "Z" && f[0] != "X"
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// gone reports whether the owner recorded in a directory no longer runs:
// it ran in another boot, or its PID is free, or the PID now belongs to a
// process started at another time.
func (o owner) gone() bool {
	now, running := processOf(o.pid)
	switch {
	case o.boot != "" && now.boot != "" && o.boot != now.boot:
		return true
	case !running:
		return true
	case o.start != "" && now.start != "" && o.start != now.start:
		return true
	}
	return false
}

// markOwner writes the owner file of dir, naming this process. It is
// written whole (rename), so a scan never reads half of it.
func markOwner(dir string) error {
	me, _ := processOf(os.Getpid())
	tmp := filepath.Join(dir, ownerFile+".new")
	if err := os.WriteFile(tmp, []byte(me.String()), 0o600); err != nil {
		return fmt.Errorf("write owner of %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
		return fmt.Errorf("write owner of %s: %w", dir, err)
	}
	return nil
}

// removeStaleDataDirs removes the temporary data directories in tmp whose
// owner file names a process that is gone. Directories without a readable
// owner file, and anything that is not a directory, are left alone.
// Failures are logged: they never stop a start.
func removeStaleDataDirs(tmp string, lg *zap.Logger) {
	paths, err := filepath.Glob(filepath.Join(tmp, dataDirPrefix+"*"))
	if err != nil {
		return
	}
	for _, dir := range paths {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		o, err := parseOwner(string(data))
		if err != nil || !o.gone() {
			continue
		}
		// Its stallable disks died with it: unmount them first.
		if err := diskstall.UnmountStale(dir); err != nil {
			lg.Warn("cannot unmount a disk left by a killed run", zap.String("dir", dir), zap.Error(err))
		}
		if err := os.RemoveAll(dir); err != nil {
			lg.Warn("cannot remove a data directory left by a killed run", zap.String("dir", dir), zap.Int("owner", o.pid), zap.Error(err))
			continue
		}
		lg.Info("removed a data directory left by a killed run", zap.String("dir", dir), zap.Int("owner", o.pid))
	}
}
