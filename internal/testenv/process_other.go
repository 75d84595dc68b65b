//go:build unix && !linux

package testenv

import "syscall"

// childSysProcAttr puts a server in its own process group. Outside Linux
// there is no parent-death signal: t.Cleanup is the only guard.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
