//go:build unix

package cli

import "syscall"

// privateFiles makes the files the process creates from now on readable
// and writable by its user only (umask 077 added to the current one).
func privateFiles() {
	old := syscall.Umask(0o077)
	syscall.Umask(old | 0o077)
}
