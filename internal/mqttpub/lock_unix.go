//go:build unix

package mqttpub

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// queueDir is an open, locked queue directory. Files in it are opened
// without following symbolic links.
type queueDir struct {
	path string
	f    *os.File // the directory itself: locked, and synced after renames
}

// openQueueDir creates dir when needed (private: mode 0700), opens it and
// takes an exclusive lock on it, so that two programs never use the same
// queue. It refuses a directory that is not ours or that other users can
// write: they could plant files or links in it.
//
// The lock is a flock on the directory itself, not on a file in it, so
// that it cannot be bypassed by deleting a file; it goes when the program
// ends, however it ends.
func openQueueDir(dir string) (*queueDir, error) {
	if err := createQueueDir(dir); err != nil {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: opening the queue directory: %w", err)
	}
	if err := checkQueueDir(dir, f); err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &QueueLockedError{Dir: dir}
		}
		return nil, fmt.Errorf("mqttpub: locking the queue directory %s: %w", dir, err)
	}
	return &queueDir{path: dir, f: f}, nil
}

// checkQueueDir refuses a queue directory that is not a directory, not
// owned by the user the program runs as, or writable by other users.
func checkQueueDir(dir string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("mqttpub: queue directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("mqttpub: queue directory %s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := os.Geteuid(); int(st.Uid) != me {
		return fmt.Errorf("mqttpub: queue directory %s belongs to %s, not to %s that this program runs as: the owner could change the queue; give the program a directory of its own",
			dir, userName(int(st.Uid)), userName(me))
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("mqttpub: queue directory %s can be written by other users (mode %04o), who could plant files or links in it: make it private (chmod 700 %s)",
			dir, perm, dir)
	}
	return nil
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("user %s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

func (d *queueDir) join(name string) string { return filepath.Join(d.path, name) }

// open opens a file of the directory; a symbolic link is refused.
func (d *queueDir) open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(d.join(name), flag|syscall.O_NOFOLLOW, perm)
}

func (d *queueDir) remove(name string) error { return os.Remove(d.join(name)) }

// rename renames a file of the directory; it never follows a link.
func (d *queueDir) rename(from, to string) error { return os.Rename(d.join(from), d.join(to)) }

// sync makes the directory's entries durable (after a create or rename).
func (d *queueDir) sync() error { return d.f.Sync() }

func (d *queueDir) close() {
	syscall.Flock(int(d.f.Fd()), syscall.LOCK_UN)
	d.f.Close()
}

// diskTrouble reports whether err is the disk failing (full, read-only,
// out of quota, I/O errors) rather than a mistake in the configuration:
// the queue then keeps telegrams in memory and tries the disk again.
func diskTrouble(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EROFS, syscall.EDQUOT, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
