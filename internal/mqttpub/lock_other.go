//go:build !unix

package mqttpub

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens the lock file of the queue directory. Outside Unix it does
// not lock: running two publishers on one directory is the user's mistake
// to avoid.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: queue directory: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) { f.Close() }
