//go:build !unix

package mqttpub

import (
	"fmt"
	"os"
	"path/filepath"
)

// queueDir is an open queue directory. Outside Unix it is not locked:
// running two publishers on one directory is the user's mistake to avoid.
type queueDir struct {
	path string
}

func openQueueDir(dir string) (*queueDir, error) {
	if err := createQueueDir(dir); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: queue directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("mqttpub: queue directory %s is not a directory", dir)
	}
	return &queueDir{path: dir}, nil
}

func (d *queueDir) join(name string) string { return filepath.Join(d.path, name) }

func (d *queueDir) open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(d.join(name), flag, perm)
}

func (d *queueDir) remove(name string) error { return os.Remove(d.join(name)) }

func (d *queueDir) rename(from, to string) error { return os.Rename(d.join(from), d.join(to)) }

func (d *queueDir) sync() error { return nil }

func (d *queueDir) close() {}

func diskTrouble(err error) bool { return false }
