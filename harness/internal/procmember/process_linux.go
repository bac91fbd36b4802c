package procmember

import "syscall"

// sysProcAttr puts a member process in a process group of its own (so that
// signals reach it and anything it starts) and has the kernel kill it when
// the harness dies, even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
