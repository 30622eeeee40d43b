package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

const (
	keyHex = "0F0E0D0C0B0A09080706050403020100"
	start  = "2025-10-26T00:30:00Z" // summer time ends in this run
)

var key, _ = smarty.ParseKey(keyHex)

// hangGuard bounds how long a test waits for something that must happen;
// it only fails a test that would otherwise hang.
const hangGuard = 30 * time.Second

// expected returns the first n telegrams of the meter with the given seed,
// start and step, as the simulator must send them.
func expected(t testing.TB, seed uint64, step time.Duration, n int) [][]byte {
	t.Helper()
	st, err := time.Parse(time.RFC3339, start)
	if err != nil {
		t.Fatal(err)
	}
	m := sim.New(sim.Config{Seed: seed, Start: st, Step: step})
	out := make([][]byte, n)
	for i := range out {
		out[i] = m.AppendTelegram(nil)
	}
	return out
}

// readFrames reads n telegrams from r and checks that they are the
// simulator's, in order, with frame counters that follow each other. It
// returns the index of the first one: a reader that connects late starts
// later in the sequence.
func readFrames(t *testing.T, r io.Reader, c *smarty.Cipher, want [][]byte, firstCounter uint32, n int) int {
	t.Helper()
	sr := smarty.NewReader(r, c)
	first := -1
	for i := 0; i < n; i++ {
		m, err := sr.Next()
		if err != nil {
			var fe *smarty.FrameError
			if smartyFrameError(err, &fe) && i == 0 {
				i-- // a reader may start inside a frame
				continue
			}
			t.Fatalf("frame %d: %v", i, err)
		}
		k := int(m.Header.FrameCounter - firstCounter)
		if c == nil {
			k = indexOf(want, m.Telegram.Bytes())
		}
		if first < 0 {
			first = k
		}
		if k != first+i || k < 0 || k >= len(want) {
			t.Fatalf("frame %d is the simulator's telegram %d, want %d", i, k, first+i)
		}
		if !bytes.Equal(m.Telegram.Bytes(), want[k]) {
			t.Fatalf("telegram %d differs from the simulator's:\n%s\nwant\n%s", k, m.Telegram.Bytes(), want[k])
		}
	}
	return first
}

func smartyFrameError(err error, fe **smarty.FrameError) bool {
	e, ok := err.(*smarty.FrameError)
	*fe = e
	return ok
}

func indexOf(all [][]byte, b []byte) int {
	for i, x := range all {
		if bytes.Equal(x, b) {
			return i
		}
	}
	return -1
}

// startSim runs the simulator in the background and returns the first
// line it prints and a function that stops it and returns its error.
func startSim(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		err := run(ctx, args, nil, pw, &stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- strings.TrimSpace(l)
		io.Copy(io.Discard, pr)
	}()
	var first string
	select {
	case first = <-lines:
	case <-time.After(hangGuard):
		t.Fatal("the simulator printed nothing")
	}
	var (
		once    sync.Once
		stopErr error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(hangGuard):
				t.Error("the simulator does not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	if first == "" {
		t.Fatalf("the simulator failed: %v", stop())
	}
	return first, stop
}

func TestPTY(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	const step = 20 * time.Millisecond
	path, stop := startSim(t, "-key", keyHex, "-pty", "-interval", step.String(), "-seed", "4", "-start", start, "-counter", "7000")
	if !strings.HasPrefix(path, "/dev/") {
		t.Fatalf("first line %q is not a device path", path)
	}
	// Read it as OnlineDecryption does: through the library's serial code.
	src, err := p1.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(t, 4, step, 2000)
	readFrames(t, src, smarty.NewCipher(key, smarty.LuxembourgAuthKey), want, 7000, 10)
	src.Close()
	// A second reader after the first has gone.
	src, err = p1.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	readFrames(t, src, smarty.NewCipher(key, smarty.LuxembourgAuthKey), want, 7000, 3)
	src.Close()
	if err := stop(); err != nil {
		t.Errorf("simulator: %v", err)
	}
}

// TestPTYInterruptWhileFull: Ctrl-C ends the simulator at once while it
// is blocked writing to a pseudo-terminal that nobody reads (before, only
// SIGKILL stopped it there).
func TestPTYInterruptWhileFull(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	// As fast as the terminal takes them: it is full in a moment.
	path, stop := startSim(t, "-plain", "-pty", "-interval", "0", "-seed", "6", "-start", start)
	if !strings.HasPrefix(path, "/dev/") {
		t.Fatalf("first line %q is not a device path", path)
	}
	waitBlockedWrite(t)
	// stop cancels the context and fails the test if run does not return
	// within hangGuard.
	if err := stop(); err != nil {
		t.Errorf("simulator: %v", err)
	}
}

// waitBlockedWrite waits until the simulator's goroutine is found inside
// a Write to the pseudo-terminal in several stack samples in a row: a write
// to a terminal that has room returns in microseconds, one to a full
// terminal stays.
func waitBlockedWrite(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	buf := make([]byte, 1<<20)
	for inWrite := 0; inWrite < 5; {
		if time.Now().After(deadline) {
			t.Fatal("the simulator never blocked writing to the pseudo-terminal")
		}
		time.Sleep(10 * time.Millisecond)
		stacks := string(buf[:runtime.Stack(buf, true)])
		found := false
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "simserve.ServePTY(") && strings.Contains(g, "os.(*File).Write(") {
				found = true
			}
		}
		if found {
			inWrite++
		} else {
			inWrite = 0
		}
	}
}

func TestListen(t *testing.T) {
	const step = 10 * time.Millisecond
	addr, stop := startSim(t, "-plain", "-listen", "127.0.0.1:0", "-interval", step.String(), "-seed", "5", "-start", start)
	if !strings.HasPrefix(addr, "tcp://127.0.0.1:") {
		t.Fatalf("first line %q is not a tcp:// address", addr)
	}
	want := expected(t, 5, step, 5000)
	// Two clients at once get the same stream.
	var conns []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.SetDeadline(time.Now().Add(hangGuard))
		readFrames(t, conn, nil, want, 0, 5)
	}
	if err := stop(); err != nil {
		t.Errorf("simulator: %v", err)
	}
	// The server is gone: its clients see the end of the stream.
	conns[0].SetDeadline(time.Now().Add(hangGuard))
	if _, err := io.Copy(io.Discard, conns[0]); err != nil {
		t.Errorf("after the simulator stopped: %v", err)
	}
}

// TestDump writes a dump with -o and reads it back: every frame, in order,
// with the right counters, and the same dump for the same seed.
func TestDump(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	var dumps [][]byte
	for _, name := range []string{"a.bin", "b.bin"} {
		p := filepath.Join(dir, name)
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"-key", keyHex, "-o", p, "-count", "300", "-seed", "9", "-start", start, "-counter", "4294966000"}, nil, &stdout, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout %q, want nothing", stdout.String())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dumps = append(dumps, b)
	}
	if !bytes.Equal(dumps[0], dumps[1]) {
		t.Error("two dumps with the same seed differ")
	}
	want := expected(t, 9, 10*time.Second, n)
	r := bytes.NewReader(dumps[0])
	if first := readFrames(t, r, smarty.NewCipher(key, smarty.LuxembourgAuthKey), want, 4294966000, n); first != 0 {
		t.Errorf("the dump starts with telegram %d", first)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes after the last frame", r.Len())
	}
}

func TestStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-plain", "-count", "3", "-interval", "0", "-seed", "2", "-start", start}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Join(expected(t, 2, 10*time.Second, 3), nil); !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("stdout is not the three telegrams:\n%s", stdout.Bytes())
	}
}

func TestCounterExhausted(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-key", keyHex, "-interval", "0", "-counter", "4294967293"}, nil, &stdout, &stderr)
	var exit bytes.Buffer
	if status := cli.Exit(&exit, err); status != 1 || !strings.Contains(exit.String(), "frame counter exhausted") {
		t.Errorf("status %d, %q", status, exit.String())
	}
	sr := smarty.NewReader(&stdout, smarty.NewCipher(key, smarty.LuxembourgAuthKey))
	var counters []uint32
	for {
		m, err := sr.Next()
		if err != nil {
			break
		}
		counters = append(counters, m.Header.FrameCounter)
	}
	if len(counters) != 2 || counters[1] != 0xFFFFFFFE {
		t.Errorf("frame counters %v, want the last two before 0xFFFFFFFF", counters)
	}
}

func TestUsage(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"-pty"}, "give the key to encrypt with (-key, -keyFile or $SMARTY_KEY), or -plain"},
		{"bad key", []string{"-key", "123"}, "-key: invalid key: a key is 32 hex digits (16 bytes), this one has 3"},
		{"plain with key", []string{"-plain", "-key", keyHex}, "-plain sends unencrypted telegrams: leave out the key"},
		{"two outputs", []string{"-key", keyHex, "-pty", "-listen", ":0"}, "choose one output: -pty, -listen or -o"},
		{"endless dump", []string{"-key", keyHex, "-o", filepath.Join(dir, "x.bin")}, "-o needs -count N: a dump without end would fill the disk"},
		{"counter", []string{"-key", keyHex, "-counter", "4294967296"}, "-counter 4294967296: a frame counter is at most 4294967295"},
		{"negative count", []string{"-key", keyHex, "-count", "-1"}, "-count -1: must be 0 or more"},
		{"bad start", []string{"-key", keyHex, "-start", "yesterday"}, `-start "yesterday": want a time like 2025-06-02T06:00:00+02:00`},
		{"argument", []string{"-key", keyHex, "extra"}, `unexpected argument "extra": every option is a flag (see -h)`},
		{"bad listen", []string{"-key", keyHex, "-listen", "nonsense"}, "-listen nonsense: listen tcp: address nonsense: missing port in address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, nil, &stdout, &stderr)
			var exit bytes.Buffer
			status := cli.Exit(&exit, err)
			if status != cli.ExitUsage {
				t.Errorf("exit status %d, want %d", status, cli.ExitUsage)
			}
			if got := strings.TrimSuffix(exit.String(), "\n"); !strings.HasSuffix(got, ": "+tc.want) || strings.Count(got, "\n") > 0 {
				t.Errorf("stderr %q, want one line ending in %q", got, tc.want)
			}
		})
	}
}
