package live

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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

// newTestReader is the Config.NewReader of the tests.
func newTestReader(r io.Reader) *smarty.Reader { return smarty.NewReader(r, testCipher()) }

// logRecorder collects log lines with their level.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *logRecorder) config(c Config) Config {
	c.Infof = func(f string, a ...any) { l.add("I", f, a...) }
	c.Warnf = func(f string, a ...any) { l.add("W", f, a...) }
	c.Debugf = func(f string, a ...any) { l.add("D", f, a...) }
	return c
}

// level returns the lines logged at a level ("I", "W", "D").
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
		return nil, &fs.PathError{Op: "open", Path: device, Err: fs.ErrNotExist}
	}
	s := o.steps[0]
	o.steps = o.steps[1:]
	if c, ok := s.(*fakeConn); ok {
		return c, nil
	}
	return nil, s.(error)
}

// isReal reports whether a telegram is the real one.
func isReal(t testing.TB, got []byte) bool { return bytes.Equal(got, realTelegram(t)) }

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
