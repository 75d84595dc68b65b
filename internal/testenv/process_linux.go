package testenv

import "syscall"

// childSysProcAttr puts a server in its own process group (so it can be
// killed with its children) and has the kernel kill it when the test binary
// dies (a panic, a -timeout, a kill -9), so that no server outlives its test.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
