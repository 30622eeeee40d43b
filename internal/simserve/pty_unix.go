//go:build unix

package simserve

import (
	"os"
	"syscall"
	"time"
)

// pollable returns the pseudo-terminal master f as a file that the Go
// runtime polls, and closes f. creack/pty hands the master out in blocking
// mode: a Write blocked there on a terminal nobody reads holds a thread in
// write(2), and neither closing the file nor a signal makes it return. On
// the file returned, a Write waits in the runtime's poller instead, and a
// Close from another goroutine ends it at once.
//
// When the system cannot poll the terminal, f is returned as it was. On
// an error f is closed too.
func pollable(f *os.File) (*os.File, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(int(f.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		f.Close()
		return nil, err
	}
	// O_NONBLOCK belongs to the open file, which f and fd share.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		f.Close()
		return nil, err
	}
	p := os.NewFile(uintptr(fd), f.Name())
	if err := p.SetWriteDeadline(time.Time{}); err != nil {
		// Not pollable: keep the blocking file.
		p.Close()
		if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	f.Close()
	return p, nil
}
