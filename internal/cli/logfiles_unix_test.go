//go:build unix

package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/golang/glog"
)

// TestLogFilesPrivate runs a command that logs to -log_dir (in a process
// of its own: the umask is the process's): its log files are readable by
// its user only. Without -log_dir no file is written and the umask stays.
func TestLogFilesPrivate(t *testing.T) {
	if dir := os.Getenv("CLI_TEST_LOG_DIR"); dir != "" {
		fs := NewFlagSet("prog", "", io.Discard, io.Discard)
		if err := Parse(fs, []string{"-log_dir", dir}); err != nil {
			panic(err)
		}
		glog.Warning("a line at every severity up to warning")
		glog.Flush()
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogFilesPrivate$")
	cmd.Env = append(os.Environ(), "CLI_TEST_LOG_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log.*"))
	if len(files) == 0 {
		t.Fatal("no log file written")
	}
	for _, f := range files {
		fi, err := os.Lstat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o: other users can read it", filepath.Base(f), perm)
		}
	}
}
