package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

const (
	keyHex   = "00112233445566778899AABBCCDDEEF0"
	otherKey = "F0EEDDCCBBAA99887766554433221100"
	start    = "2025-03-30T00:59:00Z" // summer time starts in this run
)

// TestMain shortens the wait before a device that went away is opened
// again (1 s at first for a user), so that the tests of reconnection and
// -wait do not wait on the clock.
func TestMain(m *testing.M) {
	cli.RetryBackoff.Min, cli.RetryBackoff.Max = 20*time.Millisecond, 100*time.Millisecond
	os.Exit(m.Run())
}

// hangGuard bounds how long a test waits for something that must happen;
// it only fails a test that would otherwise hang.
const hangGuard = 60 * time.Second

// simulator returns cmd/SmartySimulator, built from this tree.
func simulator(t *testing.T) string {
	t.Helper()
	return cmdtest.Path(t, "SmartySimulator")
}

// startSimulator runs the simulator binary and returns the first line it
// prints (the pty path or the tcp:// address). It is stopped at the end of
// the test.
func startSimulator(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(simulator(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(hangGuard):
			cmd.Process.Kill()
			t.Error("the simulator did not stop on SIGINT")
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		if l == "" {
			t.Fatalf("the simulator printed nothing; stderr:\n%s", stderr.String())
		}
		if strings.HasPrefix(l, "/") {
			cmdtest.HoldPTY(t, l)
		}
		return l
	case <-time.After(hangGuard):
		t.Fatal("the simulator printed nothing")
	}
	return ""
}

// simSequence is the sequence of telegrams the simulator sends with a
// seed and interval, made only as far as a test looks into it: a test
// that reads from the simulator's tenth telegram on makes ten, not the
// thousands it might have had to skip on a slow machine.
type simSequence struct {
	m     *sim.Meter
	made  [][]byte
	limit int
}

// expected returns the first n telegrams the simulator sends with the
// given seed and interval.
func expected(t *testing.T, seed uint64, step time.Duration, n int) *simSequence {
	t.Helper()
	st, _ := time.Parse(time.RFC3339, start)
	return &simSequence{m: sim.New(sim.Config{Seed: seed, Start: st, Step: step}), limit: n}
}

// at returns telegram k (from 0), or nil past the first n.
func (s *simSequence) at(k int) []byte {
	if k >= s.limit {
		return nil
	}
	for len(s.made) <= k {
		s.made = append(s.made, s.m.AppendTelegram(nil))
	}
	return s.made[k]
}

// splitTelegrams cuts text output into telegrams: each ends with the line
// of its CRC.
func splitTelegrams(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '!')
		if i < 0 {
			return append(out, b)
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return append(out, b)
		}
		out = append(out, b[:i+j+1])
		b = b[i+j+1:]
	}
	return out
}

type result struct {
	stdout, stderr string
	status         int
	exit           string // what main prints
}

func runOnline(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, nil, &stdout, &stderr) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(hangGuard):
		t.Fatal("OnlineDecryption does not return")
	}
	var exit bytes.Buffer
	status := cli.Exit(&exit, err)
	return result{stdout.String(), stderr.String(), status, exit.String()}
}

// checkSequence checks that the telegrams are consecutive telegrams of
// the simulator, byte for byte.
func checkSequence(t *testing.T, got [][]byte, want *simSequence) {
	t.Helper()
	first := -1
	if len(got) > 0 {
		first = want.index(got[0])
	}
	if first < 0 {
		t.Fatalf("the first telegram is none of the simulator's:\n%s", got[0])
	}
	for i, g := range got {
		if w := want.at(first + i); w == nil || !bytes.Equal(g, w) {
			t.Fatalf("telegram %d is not the simulator's telegram %d:\n%s", i, first+i, g)
		}
	}
}

// TestEndToEnd runs the simulator binary into a pseudo-terminal and over
// TCP, and OnlineDecryption against it through the library's real serial
// and TCP code: the telegrams that come out are the ones that went in.
func TestEndToEnd(t *testing.T) {
	const step = 20 * time.Millisecond
	tests := []struct {
		name   string
		simArg []string
		args   []string
	}{
		{"pty", []string{"-key", keyHex, "-pty"}, []string{"-key", keyHex}},
		{"pty plain", []string{"-plain", "-pty"}, nil},
		{"tcp", []string{"-key", keyHex, "-listen", "127.0.0.1:0"}, []string{"-key", keyHex}},
		{"tcp, key from the environment", []string{"-key", keyHex, "-listen", "127.0.0.1:0"}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "pty") && runtime.GOOS == "windows" {
				t.Skip("no pseudo-terminals on Windows")
			}
			t.Setenv(cli.KeyEnv, "")
			if tc.args == nil && !strings.Contains(tc.name, "plain") {
				t.Setenv(cli.KeyEnv, keyHex)
			}
			seed := uint64(20 + i)
			device := startSimulator(t, append(tc.simArg, "-interval", step.String(), "-seed", fmt.Sprint(seed), "-start", start, "-counter", "100")...)
			want := expected(t, seed, step, 20_000)

			const n = 8
			r := runOnline(t, context.Background(), append(tc.args, "-device", device, "-count", fmt.Sprint(n))...)
			if r.status != 0 {
				t.Fatalf("exit status %d: %s%s", r.status, r.stderr, r.exit)
			}
			got := splitTelegrams([]byte(r.stdout))
			if len(got) != n {
				t.Fatalf("%d telegrams, want %d:\n%s", len(got), n, r.stdout)
			}
			checkSequence(t, got, want)

			// JSON: one object per line, consecutive frame counters.
			r = runOnline(t, context.Background(), append(tc.args, "-device", device, "-count", "3", "-format", "json")...)
			if r.status != 0 {
				t.Fatalf("exit status %d: %s%s", r.status, r.stderr, r.exit)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3:\n%s", len(lines), r.stdout)
			}
			var prev int64 = -1
			for _, l := range lines {
				var v struct {
					FrameCounter *int64 `json:"frame_counter"`
					EquipmentID  string `json:"equipment_id"`
				}
				if err := json.Unmarshal([]byte(l), &v); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tc.name, "plain") {
					if v.FrameCounter != nil {
						t.Errorf("a plain telegram with a frame counter: %s", l)
					}
					continue
				}
				if v.FrameCounter == nil || (prev >= 0 && *v.FrameCounter != prev+1) {
					t.Fatalf("frame counters do not follow each other: %s", r.stdout)
				}
				prev = *v.FrameCounter
				if !strings.HasPrefix(v.EquipmentID, "SAG") {
					t.Errorf("equipment_id %q", v.EquipmentID)
				}
			}
		})
	}
}

// authLines is what OnlineDecryption prints for the frames that fail
// authentication before the third ends it: one line each.
var authLines = regexp.MustCompile(`^(OnlineDecryption: smarty: encrypted frame at byte [0-9]+ \(system title [0-9A-F]{16}, frame counter [0-9]+\): authentication failed: wrong key, or the meter uses another authentication key, or the frame was damaged\n){2}$`)

// TestWrongKey: a meter whose frames never authenticate gives one line for
// each of the first two frames, and one line and exit status 1 at the
// third, instead of an endless stream of errors.
func TestWrongKey(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	device := startSimulator(t, "-key", keyHex, "-listen", "127.0.0.1:0", "-interval", "20ms")
	for _, args := range [][]string{
		{"-key", otherKey},
		{"-key", keyHex, "-authKey", otherKey},
	} {
		r := runOnline(t, context.Background(), append(args, "-device", device)...)
		want := fmt.Sprintf("OnlineDecryption.test: authentication failed for 3 frames of the meter (system title 5341476769394CEF) on %s and none decrypted: wrong key, or the meter uses another authentication key (-authKey)\n", device)
		if r.status != cli.ExitKey || r.exit != want || r.stdout != "" || !authLines.MatchString(r.stderr) {
			t.Errorf("%v: status %d, stdout %q, stderr %q, exit line %q; want %d, two lines matching %s, and %q", args, r.status, r.stdout, r.stderr, r.exit, cli.ExitKey, authLines, want)
		}
	}
}

// TestNoKeyExits: a meter that sends encrypted frames, read without a key,
// ends the command after its first frames with one line saying how to
// give the key, and the same exit status as a wrong key (a service is not
// restarted for it).
func TestNoKeyExits(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	device := startSimulator(t, "-key", keyHex, "-listen", "127.0.0.1:0", "-interval", "20ms")
	r := runOnline(t, context.Background(), "-device", device)
	want := fmt.Sprintf("OnlineDecryption.test: %s sends encrypted frames (system title 5341476769394CEF) and no key was given: give the key with -key, -keyFile or $SMARTY_KEY\n", device)
	if r.status != cli.ExitKey || r.exit != want || r.stdout != "" {
		t.Errorf("status %d, stdout %q, exit line %q; want %d and %q", r.status, r.stdout, r.exit, cli.ExitKey, want)
	}
}

// TestWrongKeyFirstFrame: the first frame that fails authentication is
// reported at once, while OnlineDecryption waits for the next one: a
// person trying a new key does not wait three frames (30 s) to learn
// something is wrong. Ctrl-C then ends it cleanly.
// runPiped runs the command until ctx is done, writing its standard error
// into the returned pipe, which the caller must drain; done receives
// run's error.
func runPiped(ctx context.Context, stdout io.Writer, args ...string) (stderr *io.PipeReader, done <-chan error) {
	pr, pw := io.Pipe()
	ch := make(chan error, 1)
	go func() {
		ch <- run(ctx, args, nil, stdout, pw)
		pw.Close()
	}()
	return pr, ch
}

func TestWrongKeyFirstFrame(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	// One frame, then nothing for an hour.
	device := startSimulator(t, "-key", keyHex, "-pty", "-interval", "1h")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	pr, done := runPiped(ctx, &stdout, "-key", otherKey, "-device", device)
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		line <- l
		io.Copy(io.Discard, pr)
	}()
	select {
	case l := <-line:
		if l != "OnlineDecryption: smarty: encrypted frame at byte 0 (system title 5341476769394CEF, frame counter 1): authentication failed: wrong key, or the meter uses another authentication key, or the frame was damaged\n" {
			t.Errorf("stderr line %q", l)
		}
	case err := <-done:
		t.Fatalf("ended before saying anything: %v", err)
	case <-time.After(hangGuard):
		t.Fatal("nothing on stderr after the first frame")
	}
	select {
	case err := <-done:
		t.Fatalf("ended after one frame: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after Ctrl-C: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Ctrl-C does not end a blocked read")
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q", stdout.String())
	}
}

// TestNoKey: encrypted frames without a key are reported with what to do,
// and reading goes on.
func TestNoKey(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	device := startSimulator(t, "-key", keyHex, "-listen", "127.0.0.1:0", "-interval", "20ms")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	pr, done := runPiped(ctx, &stdout, "-device", device)
	lines := bufio.NewScanner(pr)
	for range 2 {
		if !lines.Scan() {
			t.Fatal("no error line")
		}
		if l := lines.Text(); !strings.Contains(l, "encrypted frame, but no key was given: give the key with -key, -keyFile or $SMARTY_KEY") {
			t.Errorf("stderr line %q", l)
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Errorf("after Ctrl-C: %v", err)
	}
}

// TestInterrupt: Ctrl-C while the read is blocked on a silent device ends
// the command cleanly, with status 0.
func TestInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	// A meter that sends once an hour: the read blocks.
	device := startSimulator(t, "-key", keyHex, "-pty", "-interval", "1h", "-count", "1")
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &firstWrite{seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-key", keyHex, "-device", device}, nil, stdout, io.Discard) }()
	// Wait until the first telegram is out, then interrupt.
	select {
	case err := <-done:
		t.Fatalf("ended before Ctrl-C: %v", err)
	case <-stdout.seen:
	case <-time.After(hangGuard):
		t.Fatal("no telegram")
	}
	cancel()
	select {
	case err := <-done:
		if code := cli.Exit(io.Discard, err); code != 0 {
			t.Errorf("exit status %d after Ctrl-C: %v", code, err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Ctrl-C does not end a blocked read")
	}
}

func TestUsage(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"no device", []string{"-key", keyHex}, 2,
			"-device is required: the meter's serial port (/dev/ttyUSB0, COM3; -list shows them) or tcp://host:port"},
		{"missing device", []string{"-key", keyHex, "-device", filepath.Join(dir, "ttyUSB7")}, 2,
			"no such device " + filepath.Join(dir, "ttyUSB7") + ": is the P1 cable plugged in? (try -list) (or -wait to wait for it)"},
		{"malformed key", []string{"-key", "xyz", "-device", "/dev/ttyUSB0"}, 2,
			"-key: invalid key: character 1 is not a hex digit (a key is 32 hex digits, 0-9 and A-F)"},
		{"malformed authKey", []string{"-key", keyHex, "-authKey", "00", "-device", "/dev/ttyUSB0"}, 2,
			"-authKey: invalid key: a key is 32 hex digits (16 bytes), this one has 2"},
		{"unknown flag", []string{"-mqttBroker", "x"}, 2,
			"flag provided but not defined: -mqttBroker (see -h)"},
		{"negative count", []string{"-count", "-3"}, 2, "-count -3: must be 0 or more"},
		{"argument", []string{"-key", keyHex, "/dev/ttyUSB0"}, 2, `unexpected argument "/dev/ttyUSB0": every option is a flag (see -h)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runOnline(t, context.Background(), tc.args...)
			if r.status != tc.status {
				t.Errorf("exit status %d, want %d (%s)", r.status, tc.status, r.exit)
			}
			if strings.Count(r.exit, "\n") != 1 || !strings.HasSuffix(r.exit, ": "+tc.want+"\n") {
				t.Errorf("printed %q, want one line ending in %q", r.exit, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
	t.Run("list", func(t *testing.T) {
		r := runOnline(t, context.Background(), "-list")
		if r.status != 0 {
			t.Errorf("exit status %d: %s", r.status, r.exit)
		}
		ports, err := p1.ListPorts()
		if err != nil {
			t.Skipf("this machine cannot list its serial ports: %v", err)
		}
		if r.stdout != cli.PortLines(ports) {
			t.Errorf("-list printed %q, want the library's list %q", r.stdout, cli.PortLines(ports))
		}
	})
}

// TestBadInput writes bad input between two good frames into a
// pseudo-terminal, so that OnlineDecryption reads it through the real
// serial code: both good telegrams come out, and the bad frame is reported
// with its reason.
func TestBadInput(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	key, _ := smarty.ParseKey(keyHex)
	c := smarty.NewCipher(key, smarty.LuxembourgAuthKey)
	m := sim.New(sim.Config{Seed: 90})
	fr := &sim.Framer{Cipher: c, SystemTitle: sim.SystemTitle(90), Counter: 1}
	frame := func() ([]byte, []byte) {
		tg := m.AppendTelegram(nil)
		b, err := fr.AppendFrame(nil, tg)
		if err != nil {
			t.Fatal(err)
		}
		return b, tg
	}
	bad, _ := frame()
	withLength := func(n int) []byte {
		b := append([]byte(nil), bad[:10]...)
		return append(b, 0x82, byte(n>>8), byte(n), 0x30, 0, 0, 0, 1, 'x', 'y', 'z')
	}
	flipped := append([]byte(nil), bad...)
	flipped[300] ^= 1
	plain := m.AppendTelegram(nil)
	rnd := make([]byte, 3000)
	for i := range rnd {
		rnd[i] = byte(i*i*7 + i>>3)
	}
	tests := []struct {
		name, reason string
		data         []byte
	}{
		{"random bytes", "", rnd},
		{"0xDB flood", "", bytes.Repeat([]byte{0xDB}, 64<<10)},
		{"length 0", "malformed frame header", withLength(0)},
		{"length 65535", "frame too large", withLength(65535)},
		{"flipped bit", "authentication failed", flipped},
		{"cut frame", "frame cut short", bad[:400]},
		{"plain, wrong CRC", "CRC mismatch", bytes.Replace(plain, []byte("(42)"), []byte("(43)"), 1)},
		{"plain, 100 KB line", "", append([]byte("/XYZ5\r\n\r\n1-0:1.8.0("), bytes.Repeat([]byte("9"), 100_000)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			master, slave, err := pty.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer master.Close()
			defer slave.Close()
			if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
				t.Fatal(err)
			}
			first, tg1 := frame()
			second, tg2 := frame()
			go func() {
				for _, b := range [][]byte{first, tc.data, second} {
					if _, err := master.Write(b); err != nil {
						return
					}
				}
			}()
			r := runOnline(t, context.Background(), "-key", keyHex, "-device", slave.Name(), "-count", "2")
			if r.status != 0 {
				t.Fatalf("exit status %d: %s%s", r.status, r.stderr, r.exit)
			}
			if r.stdout != string(tg1)+string(tg2) {
				t.Errorf("stdout is not the two good telegrams; stderr:\n%s", r.stderr)
			}
			if want := fmt.Sprintf("at byte %d", len(first)); tc.reason != "" &&
				(!strings.Contains(r.stderr, tc.reason) || !strings.Contains(r.stderr, want)) {
				t.Errorf("stderr does not name %q %s:\n%s", tc.reason, want, r.stderr)
			}
		})
	}
}

// firstWrite is a writer that closes seen at the first write.
type firstWrite struct {
	once sync.Once
	seen chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.seen) })
	return len(p), nil
}

// simProcess runs the simulator binary until stop is called, and returns
// the first line it printed.
func simProcess(t *testing.T, args ...string) (first string, stop func()) {
	t.Helper()
	cmd := exec.Command(simulator(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	l, _ := bufio.NewReader(out).ReadString('\n')
	go io.Copy(io.Discard, out)
	return strings.TrimSpace(l), stop
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestReconnect: the network adapter goes away and comes back (the
// simulator is stopped and another one started on the same port);
// OnlineDecryption carries on by itself with the new one's telegrams.
func TestReconnect(t *testing.T) {
	addr := freeAddr(t)
	const step = 20 * time.Millisecond
	common := []string{"-key", keyHex, "-listen", addr, "-interval", step.String(), "-start", start}
	device, stop1 := simProcess(t, append(common, "-seed", "31")...)
	stdout := &lineWatcher{seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	const n = 10
	go func() {
		done <- run(ctx, []string{"-key", keyHex, "-device", device, "-count", fmt.Sprint(n)}, nil, stdout, io.Discard)
	}()
	select {
	case <-stdout.seen:
	case <-time.After(hangGuard):
		t.Fatal("no telegram from the first simulator")
	}
	stop1()
	simProcess(t, append(common, "-seed", "32")...)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatal("OnlineDecryption did not come back")
	}
	got := splitTelegrams(stdout.bytes())
	if len(got) != n {
		t.Fatalf("%d telegrams, want %d", len(got), n)
	}
	from31, from32 := expected(t, 31, step, 20_000), expected(t, 32, step, 20_000)
	// The first simulator's telegrams are consecutive: count them from
	// where the first of them is in its sequence.
	k, first := 0, from31.index(got[0])
	for first >= 0 && k < len(got) && bytes.Equal(got[k], from31.at(first+k)) {
		k++
	}
	if k == 0 || k == n {
		t.Fatalf("%d telegrams from the first simulator, want some but not all", k)
	}
	checkSequence(t, got[:k], from31)
	checkSequence(t, got[k:], from32)
}

// TestWait: with -wait, a device that is not there yet at start is waited
// for; without it, that is an error at once.
func TestWait(t *testing.T) {
	addr := freeAddr(t)
	r := runOnline(t, context.Background(), "-key", keyHex, "-device", "tcp://"+addr, "-count", "1")
	if r.status != 1 || !strings.Contains(r.exit, "connection refused") {
		t.Errorf("without -wait: status %d, %q", r.status, r.exit)
	}
	stdout := &lineWatcher{seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-key", keyHex, "-device", "tcp://" + addr, "-count", "2", "-wait"}, nil, stdout, io.Discard)
	}()
	// The meter comes up after OnlineDecryption has started (usually
	// after its first attempt was refused; the test cannot see that).
	simProcess(t, "-key", keyHex, "-listen", addr, "-interval", "20ms")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatal("-wait did not pick up the device")
	}
	if got := splitTelegrams(stdout.bytes()); len(got) != 2 {
		t.Errorf("%d telegrams, want 2", len(got))
	}
}

// index returns where b is in the sequence, or -1.
func (s *simSequence) index(b []byte) int {
	for k := 0; s.at(k) != nil; k++ {
		if bytes.Equal(s.at(k), b) {
			return k
		}
	}
	return -1
}

// lineWatcher collects what is written to it and closes seen at the first
// write.
type lineWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	seen chan struct{}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.seen) })
	return w.buf.Write(p)
}

func (w *lineWatcher) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf.Bytes()...)
}
