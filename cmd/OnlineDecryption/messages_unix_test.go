//go:build unix

package main

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
)

// TestPermissionDenied: a user who may not open the device is told the
// device's mode, owner and group, and how to become one who may: here a
// terminal of root's, in the group dialout and mode 0660, opened by the
// user nobody. It needs root, to give the terminal away and to run the
// command as nobody.
func TestPermissionDenied(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	if os.Geteuid() != 0 {
		msg := "this case gives a terminal to root:dialout and runs the command as nobody, which needs root: run it as root (.ci/run does)"
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatalf("%s; %s is set, so not running it is a failure", msg, RequireRootEnv)
		}
		t.Skipf("%s, or set %s=1 to make this a failure", msg, RequireRootEnv)
	}
	dialout, err := user.LookupGroup("dialout")
	if err != nil {
		t.Fatalf("this machine has no group dialout: %v", err)
	}
	gid, _ := strconv.Atoi(dialout.Gid)
	meter := newMeterPTY(t)
	if err := os.Chown(meter.path, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(meter.path, 0o660); err != nil {
		t.Fatal(err)
	}
	// The test binary, where nobody may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "online-permission")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, exe, filepath.Join(dir, "OnlineDecryption.test"))
	asNobody := func(cmd *exec.Cmd) {
		cmd.Path = filepath.Join(dir, "OnlineDecryption.test")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	}
	c := startCommand(t, time.Hour, time.Hour, asNobody, "-key", keyHex, "-device", meter.path)
	status, stderr := c.wait(t)
	want := name + ": permission denied on " + meter.path + " (crw-rw----, owner root, group dialout): add your user to the group dialout (sudo usermod -aG dialout $USER, then log in again)"
	if status != cli.ExitUsage || len(stderr) == 0 || stderr[len(stderr)-1] != want {
		t.Errorf("exit status %d, stderr:\n%s\nwant %d and the last line %q", status, strings.Join(stderr, "\n"), cli.ExitUsage, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
