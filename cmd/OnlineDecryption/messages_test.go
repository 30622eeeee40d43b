package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// The messages of the first run (issue 13), each shown by the real
// command in a process of its own, as a user sees them: its standard
// error (the log included) and its exit status. docs/development.md
// lists these tests beside the others that show a message.

// helperEnv, when set in a child's environment, makes TestHelperCommand
// the command itself: "NOBYTE,NOFRAME" are cli.FirstRunWarnings.
const helperEnv = "ONLINEDECRYPTION_TEST_HELPER"

// RequireRootEnv turns the skip of the cases that need root (to give a
// terminal to another owner) into a failure; .ci/run sets it.
const RequireRootEnv = "SMARTY_REQUIRE_ROOT"

// TestHelperCommand is not a test: in a child process started by
// startCommand, it runs OnlineDecryption with the arguments after "--".
func TestHelperCommand(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("the command itself, in a child process of the message tests")
	}
	noByte, noFrame, _ := strings.Cut(spec, ",")
	cli.FirstRunWarnings.NoByte, _ = time.ParseDuration(noByte)
	cli.FirstRunWarnings.NoFrame, _ = time.ParseDuration(noFrame)
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Args = append([]string{name}, args...)
	cli.Main(run)
}

// child is OnlineDecryption running in a process of its own.
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string // standard error, line by line; closed at its end
	mu     sync.Mutex
	stderr []string // every line read from lines so far
	done   chan struct{}
}

// startCommand runs OnlineDecryption with args, the first-run warnings
// after noByte and noFrame, and no SMARTY_ variable in its environment.
// configure, if not nil, may change the command before it starts.
func startCommand(t *testing.T, noByte, noFrame time.Duration, configure func(*exec.Cmd), args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"-test.run=^TestHelperCommand$", "--"}, args...)...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SMARTY_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s,%s", helperEnv, noByte, noFrame))
	if configure != nil {
		configure(cmd)
	}
	c := &child{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	cmd.Stdout = &c.stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		c.wait(t)
	})
	return c
}

// await reads standard error until a line matches re and returns it; it
// fails the test when the command ends first.
func (c *child) await(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(hangGuard)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the command ended without a line matching %s; stderr:\n%s", re, c.allStderr())
			}
			c.mu.Lock()
			c.stderr = append(c.stderr, l)
			c.mu.Unlock()
			if re.MatchString(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line matching %s; stderr so far:\n%s", re, c.allStderr())
		}
	}
}

func (c *child) allStderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.stderr, "\n")
}

// wait waits for the command to end and returns its exit status and its
// whole standard error.
func (c *child) wait(t *testing.T) (status int, stderr []string) {
	t.Helper()
	ended := make(chan error, 1)
	go func() {
		for l := range c.lines {
			c.mu.Lock()
			c.stderr = append(c.stderr, l)
			c.mu.Unlock()
		}
		ended <- c.cmd.Wait()
	}()
	select {
	case <-ended:
	case <-time.After(hangGuard):
		c.cmd.Process.Kill()
		t.Fatalf("the command does not end; stderr:\n%s", c.allStderr())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd.ProcessState.ExitCode(), append([]string(nil), c.stderr...)
}

// logLine matches a glog line at severity sev ("W") whose message is msg.
func logLine(sev, msg string) *regexp.Regexp {
	return regexp.MustCompile(`^` + sev + `\d{4} [0-9:.]+ +\d+ [^ ]+\] ` + msg + `$`)
}

// meterPTY is a pseudo-terminal that plays the meter: the command reads
// its path, the test writes to write.
type meterPTY struct {
	path  string
	write func(b []byte)
	frame func() (frame, telegram []byte) // the next good frame
}

func newMeterPTY(t *testing.T) *meterPTY {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	key, _ := smarty.ParseKey(keyHex)
	m := sim.New(sim.Config{Seed: 13})
	fr := &sim.Framer{Cipher: smarty.NewCipher(key, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(13), Counter: 1}
	return &meterPTY{
		path: slave.Name(),
		write: func(b []byte) {
			if _, err := master.Write(b); err != nil {
				t.Errorf("writing to the terminal: %v", err)
			}
		},
		frame: func() ([]byte, []byte) {
			tg := m.AppendTelegram(nil)
			b, err := fr.AppendFrame(nil, tg)
			if err != nil {
				t.Fatal(err)
			}
			return b, tg
		},
	}
}

// TestFirstRunNoByte: a meter whose P1 port sends nothing (not opened yet
// by the grid operator, the wrong port, a cable out of its socket) is
// said to send nothing, with those causes, after the first-run wait, and
// the command keeps waiting: the frame that comes later is read.
func TestFirstRunNoByte(t *testing.T) {
	meter := newMeterPTY(t)
	c := startCommand(t, 50*time.Millisecond, time.Hour, nil, "-key", keyHex, "-device", meter.path, "-count", "1")
	c.await(t, logLine("W", regexp.QuoteMeta("no byte from "+meter.path+" in the 50ms since it was opened: the meter's P1 port may still be closed (the grid operator opens it on request), this may not be the port of the P1 cable, or the cable is not in the meter's P1 socket; still waiting")))
	frame, tg := meter.frame()
	meter.write(frame)
	if status, stderr := c.wait(t); status != 0 || c.stdout.String() != string(tg) {
		t.Errorf("after the frame: exit status %d, stdout %q; want 0 and the telegram; stderr:\n%s", status, c.stdout.String(), strings.Join(stderr, "\n"))
	}
}

// TestFirstRunNoFrame: bytes that hold no frame (an inverted signal, the
// wrong speed, not a P1 port) are said to be that, with those causes, and
// the command keeps reading: the frame that comes later is read.
func TestFirstRunNoFrame(t *testing.T) {
	meter := newMeterPTY(t)
	c := startCommand(t, time.Hour, 200*time.Millisecond, nil, "-key", keyHex, "-device", meter.path, "-count", "1")
	stop := make(chan struct{})
	noise := make(chan struct{})
	go func() {
		// What an inverted or too slow line looks like: bytes, never
		// a frame's start.
		defer close(noise)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				meter.write(bytes.Repeat([]byte{0x55, 0xAA}, 32))
			}
		}
	}()
	c.await(t, logLine("W", `\d+ bytes from `+regexp.QuoteMeta(meter.path+" in the 200ms since it was opened, but no frame: the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port; still reading")))
	close(stop)
	<-noise
	frame, tg := meter.frame()
	meter.write(frame)
	if status, stderr := c.wait(t); status != 0 || c.stdout.String() != string(tg) {
		t.Errorf("after the frame: exit status %d, stdout %q; want 0 and the telegram; stderr:\n%s", status, c.stdout.String(), strings.Join(stderr, "\n"))
	}
}

// TestMessages: what the command says, as its last line on standard
// error, and its exit status, for a device or a command line that cannot
// work, and what -h and -version print.
func TestMessages(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "smarty.key")
	if err := os.WriteFile(file, []byte(keyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key16 := []string{"AE", "BD", "21", "B7", "69", "A6", "D1", "3C", "0D", "F0", "64", "E3", "83", "68", "2E", "FF"}
	tests := []struct {
		name   string
		args   []string
		status int
		last   string         // the last line of standard error, after "OnlineDecryption: "
		stdout *regexp.Regexp // nil: nothing
	}{
		{"host:port without tcp://", []string{"-key", keyHex, "-device", "192.168.1.20:2001"}, cli.ExitUsage,
			"no such device 192.168.1.20:2001: a network adapter is written with tcp:// before it, tcp://192.168.1.20:2001", nil},
		{"a plain file", []string{"-key", keyHex, "-device", file}, cli.ExitUsage,
			file + " is a file, not a serial port, and its 33 bytes hold no telegram: give the port of the P1 cable (-list shows them) or tcp://host:port; to decrypt a capture, use OfflineDecryption", nil},
		{"a directory", []string{"-key", keyHex, "-device", dir}, cli.ExitUsage,
			dir + " is a directory, not a serial port: give the port of the P1 cable, or tcp://host:port for a network adapter (try -list)", nil},
		{"a key with spaces, unquoted", append(append([]string{"-key"}, key16...), "-device", "/dev/ttyUSB0"), cli.ExitUsage,
			"-key takes one word, and the key came as 16: quote it when it has spaces (-key 'AE BD 21 ...' with all your digits), or write it without them", nil},
		{"a duration without a unit", []string{"-key", keyHex, "-device", "/dev/ttyUSB0", "-timeout", "5"}, cli.ExitUsage,
			"-timeout 5: a duration needs a unit: write -timeout 5s (or 500ms, 2m, 1h)", nil},
		{"a yes/no flag with its value apart", []string{"-key", keyHex, "-device", "/dev/ttyUSB0", "-wait", "false"}, cli.ExitUsage,
			"-wait false: a yes/no flag takes its value after '=': write -wait=false", nil},
		{"-h", []string{"-h"}, 0, "", regexp.MustCompile(`^Usage: OnlineDecryption \[-key KEY \| -keyFile FILE\] -device PORT .*\n(.*\n)*  -device port   \$SMARTY_DEVICE\n`)},
		{"-version", []string{"-version"}, 0, "", regexp.MustCompile(`^OnlineDecryption \S+ \(go\S+ \S+/\S+\)\n$`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startCommand(t, time.Hour, time.Hour, nil, tc.args...)
			status, stderr := c.wait(t)
			if status != tc.status {
				t.Errorf("exit status %d, want %d", status, tc.status)
			}
			switch {
			case tc.last == "" && len(stderr) > 0:
				t.Errorf("stderr %q, want nothing", stderr)
			case tc.last != "" && (len(stderr) == 0 || stderr[len(stderr)-1] != name+": "+tc.last):
				t.Errorf("stderr:\n%s\nwant its last line to be %q", strings.Join(stderr, "\n"), name+": "+tc.last)
			}
			if tc.stdout == nil && c.stdout.Len() > 0 || tc.stdout != nil && !tc.stdout.MatchString(c.stdout.String()) {
				t.Errorf("stdout %q, want %v", c.stdout.String(), tc.stdout)
			}
			for _, group := range key16[3:] {
				if strings.Contains(strings.Join(stderr, "\n"), " "+group+" ") {
					t.Errorf("stderr repeats the key's digits (%s): %q", group, stderr)
				}
			}
		})
	}
}
