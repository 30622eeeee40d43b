//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestNamedPipe reads the real frame through a named pipe, as bash's
// <(ssh pi cat dump) gives one: a stream that can be opened once. The
// check of the input before decoding must not take it.
func TestNamedPipe(t *testing.T) {
	frame := readFile(t, realBin)
	path := filepath.Join(t.TempDir(), "dump")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for a reader
		if err == nil {
			_, err = f.Write(frame)
			f.Close()
		}
		wrote <- err
	}()
	t.Cleanup(func() {
		// A writer still waiting for a reader (the command opened the
		// pipe once and never again) gets one and is let go.
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		<-wrote
	})
	r := runCmd(t, nil, "-keyFile", realKey, path)
	if r.status != 0 {
		t.Fatalf("exit status %d, stderr:\n%s", r.status, r.stderr)
	}
	if want := string(readFile(t, realTxt)); r.stdout != want {
		t.Errorf("stdout:\n%q\nwant exactly testdata/smarty-2018.txt", r.stdout)
	}
	if !strings.Contains(r.stderr, "1 telegram decoded") {
		t.Errorf("summary:\n%s", r.stderr)
	}
}
