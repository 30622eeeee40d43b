//go:build unix

package main

import (
	"os"
	"syscall"
)

// pause stops a process (SIGSTOP) without ending it, resume continues it.
func pause(p *os.Process) error  { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
