//go:build !linux

package procmember

import "syscall"

// sysProcAttr puts a member process in a process group of its own. Outside
// Linux there is no parent-death signal: a harness killed by SIGKILL leaves
// its members running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
