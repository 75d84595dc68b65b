//go:build unix

package metrics

import "syscall"

func syscallUmask(mask int) int { return syscall.Umask(mask) }
