//go:build unix

package cmdtest

import (
	"os"
	"syscall"
	"testing"
)

// HoldPTY keeps the number of the pseudo-terminal path (a simulator's
// /dev/pts/N) taken until tb ends, without reading from it. The kernel
// gives a freed number to the next terminal made, and every test's meter
// has the same key: without this, a reader that opens path again after
// its simulator ended (a live command reconnecting) could open another
// test's terminal, read its frames and take them from that test's reader.
// With it, path is gone once its simulator has closed it, as an unplugged
// cable's device is.
func HoldPTY(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		tb.Fatalf("holding %s: %v", path, err)
	}
	tb.Cleanup(func() { f.Close() })
}
