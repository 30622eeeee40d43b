package p1

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// testKey is the key of the frames the tests make; never a real one.
var testKey = smarty.Key{0x0F, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78, 0x87, 0x96, 0xA5, 0xB4, 0xC3, 0xD2, 0xE1, 0xF0}

var testTitle = smarty.SystemTitle{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x54}

// testCipher returns the cipher of testKey with Luxembourg's
// authentication key.
func testCipher() *smarty.Cipher { return smarty.NewCipher(testKey, smarty.LuxembourgAuthKey) }

// realTelegram returns the plaintext of the real 2018 capture.
func realTelegram(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/smarty-2018.txt")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// framer seals the real telegram with testKey under a given frame counter.
type framer struct {
	c     *smarty.Cipher
	plain []byte
}

func newFramer(t testing.TB) *framer { return &framer{c: testCipher(), plain: realTelegram(t)} }

func (f *framer) frame(counter uint32) []byte {
	return f.c.Seal(nil, testTitle, counter, f.plain)
}

// frames returns the frames with the given counters back to back.
func (f *framer) frames(counters ...uint32) []byte {
	var b []byte
	for _, c := range counters {
		b = append(b, f.frame(c)...)
	}
	return b
}

// logRecorder is a slog.Handler that keeps each record as its level's
// first letter and its message.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()[:1]+" "+r.Message)
	return nil
}

// config returns c logging into l.
func (l *logRecorder) config(c Config) Config {
	c.Logger = slog.New(l)
	return c
}

// level returns the messages logged at a level ("I", "W", "D").
func (l *logRecorder) level(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, level+" ") {
			out = append(out, s[2:])
		}
	}
	return out
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// fakeConn is a device connection made of channels, so that
// testing/synctest sees a Read waiting on it as durably blocked. It
// delivers its chunks, then fails with end, or when end is nil stays
// silent until closed.
type fakeConn struct {
	data    chan []byte
	end     error
	closed  chan struct{}
	once    sync.Once
	pending []byte
}

func newFakeConn(end error, chunks ...[]byte) *fakeConn {
	c := &fakeConn{data: make(chan []byte, len(chunks)+16), end: end, closed: make(chan struct{})}
	for _, b := range chunks {
		c.data <- b
	}
	if end != nil {
		close(c.data)
	}
	return c
}

func (c *fakeConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		select {
		case <-c.closed:
			return 0, fs.ErrClosed
		default:
		}
		select {
		case b, ok := <-c.data:
			if !ok {
				return 0, c.end
			}
			c.pending = b
		case <-c.closed:
			return 0, fs.ErrClosed
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// scriptedOpener answers each call with the next step: a connection or an
// error. Past the end of the script it fails with fs.ErrNotExist.
type scriptedOpener struct {
	mu    sync.Mutex
	steps []any // *fakeConn or error
	calls int
}

func (o *scriptedOpener) open(_ context.Context, device string) (io.ReadCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if len(o.steps) == 0 {
		return nil, &DeviceError{Device: device, Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}
	}
	s := o.steps[0]
	o.steps = o.steps[1:]
	if c, ok := s.(*fakeConn); ok {
		return c, nil
	}
	return nil, s.(error)
}

func (o *scriptedOpener) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// isReal reports whether a telegram is the real one.
func isReal(t testing.TB, got []byte) bool { return bytes.Equal(got, realTelegram(t)) }

// hangGuard bounds how long a real-time test waits for something that
// must happen; it only turns a hang into a failure and measures nothing.
const hangGuard = 20 * time.Second

// waitBlockedIn waits until a goroutine is blocked in a function whose name
// contains fn, so that a test knows a read has started to wait before it
// interrupts it.
func waitBlockedIn(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, fn) && (strings.Contains(g, "[syscall") || strings.Contains(g, "[IO wait") || strings.Contains(g, "[select")) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no goroutine blocked in %s", fn)
}

// linkRecorder records the link states a Stream reports.
type linkRecorder struct {
	mu     sync.Mutex
	states []LinkState
}

func (r *linkRecorder) set(s LinkState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *linkRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.states)
}

// srcPty opens a pseudo-terminal and returns its master side and the path
// of its slave side, which is opened like a serial port. The slave is left
// as the system makes it, cooked: the serial code must make it raw.
func srcPty(t *testing.T) (master *os.File, path string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// The slave stays open through the test's own descriptor until the
	// code under test has opened it too; closing ours then leaves theirs.
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s.Name()
}

// rawPty opens a pseudo-terminal in raw mode, so that bytes written to the
// master before the serial code has set up the slave are not translated,
// and returns the master and the slave. The test keeps its own slave
// descriptor open until cleanup, so that the slave stays usable when the
// code under test closes its own; the code under test opens the slave by
// its name.
func rawPty(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if _, err := term.MakeRaw(int(s.Fd())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
