package p1

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// These tests run the real device code (Open on a pseudo-terminal
// or a TCP connection) in real time. They assert no durations: the
// context's deadline only turns a hang into a failure.

func guardCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// fastBackoff keeps real-time reconnect tests short.
func fastBackoff(c Config) Config {
	c.MinBackoff, c.MaxBackoff = time.Millisecond, 20*time.Millisecond
	return c
}

// newDeviceStream makes a Stream of a real device that waits for it.
func newDeviceStream(t *testing.T, c Config) *Stream {
	t.Helper()
	c.Wait = true
	if c.Cipher == nil {
		c.Cipher = testCipher()
	}
	st, err := NewStream(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// countingOpener opens real devices and counts the bytes read from them,
// so that a test knows what has reached the reader.
type countingOpener struct{ n atomic.Int64 }

func (o *countingOpener) open(ctx context.Context, device string) (io.ReadCloser, error) {
	rc, err := Open(ctx, device)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc, &o.n}, nil
}

// waitRead waits until n bytes in all have been read.
func (o *countingOpener) waitRead(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for o.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes read, want %d", o.n.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestStreamReplug unplugs and replugs a "USB cable": the device is a
// symbolic link (as /dev/serial/by-id/... is) to a pseudo-terminal. The
// link disappears and the terminal hangs up, then the link comes back to
// a new terminal. Every frame sent while the device is there is decoded.
func TestStreamReplug(t *testing.T) {
	f := newFramer(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "usb-FTDI_FT232R_USB_UART_A10KZP45-if00-port0")
	m1, s1 := rawPty(t)
	p1 := s1.Name()
	if err := os.Symlink(p1, link); err != nil {
		t.Fatal(err)
	}
	var log logRecorder
	var op countingOpener
	st := newDeviceStream(t, fastBackoff(log.config(Config{Device: link, open: op.open})))
	ctx := guardCtx(t)

	if _, err := m1.Write(f.frames(1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	for want := uint32(1); want <= 3; want++ {
		if m := next(t, ctx, st); m.Header.FrameCounter != want || !isReal(t, m.Telegram.Bytes()) {
			t.Fatalf("counter %d, want %d", m.Header.FrameCounter, want)
		}
	}

	// Next reads on in a goroutine: it reports the cut frame, then waits
	// for the device while the test plugs a new one in.
	type result struct {
		m   *smarty.Message
		err error
	}
	results := make(chan result)
	go func() {
		for {
			m, err := st.Next(ctx)
			var fe *smarty.FrameError
			if errors.As(err, &fe) {
				results <- result{nil, err}
				continue
			}
			results <- result{m, err}
			return
		}
	}()
	// Unplug in the middle of frame 4, once the reader has its first
	// 200 bytes (a hang-up discards what is still queued in the tty).
	frame4 := f.frame(4)
	if _, err := m1.Write(frame4[:200]); err != nil {
		t.Fatal(err)
	}
	op.waitRead(t, int64(3*len(frame4)+200))
	os.Remove(link)
	m1.Close()

	r := <-results
	if !errors.Is(r.err, smarty.ErrTruncated) {
		t.Fatalf("after the unplug: %v; want the cut frame reported\n%s", r.err, &log)
	}
	m2, s2 := rawPty(t)
	if err := os.Symlink(s2.Name(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Write(f.frames(5)); err != nil {
		t.Fatal(err)
	}
	r = <-results
	if r.err != nil || r.m.Header.FrameCounter != 5 {
		t.Fatalf("after the replug: %v; want frame 5", r.err)
	}
	if want := int64(3*len(frame4) + 200); r.m.Offset != want {
		t.Errorf("frame 5 at byte %d, want %d (offsets go on across reconnects)", r.m.Offset, want)
	}

	warn := log.level("W")
	if len(warn) != 2 || !strings.HasPrefix(warn[0], "p1: "+link+" disconnected (cable unplugged?); ") ||
		!strings.Contains(warn[1], "jumped from 3 to 5") {
		t.Errorf("warnings:\n%s\nwant the unplug once (not every retry), then the counter gap", strings.Join(warn, "\n"))
	}
	if info := log.level("I"); len(info) != 2 || !strings.HasPrefix(info[1], link+" is back: ") {
		t.Errorf("info lines %q, want the recovery", info)
	}
	s := st.Stats()
	if s.Opens != 2 || s.Telegrams != 4 || s.ByFailure[smarty.FailureTruncated] != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestStreamPtyCancel: Ctrl-C while the read is blocked on a real serial
// port ends that Next at once, and leaves the port open: the frame the
// meter sends next is the next call's. Close then ends a blocked read.
func TestStreamPtyCancel(t *testing.T) {
	f := newFramer(t)
	m, slave := rawPty(t)
	st := newDeviceStream(t, Config{Device: slave.Name(), Timeout: -1})
	ctx, cancel := context.WithCancel(guardCtx(t))
	done := make(chan error)
	go func() {
		_, err := st.Next(ctx)
		done <- err
	}()
	waitBlockedIn(t, "serial.(*unixPort).Read")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
	if _, err := m.Write(f.frame(4)); err != nil {
		t.Fatal(err)
	}
	if msg := next(t, guardCtx(t), st); msg.Header.FrameCounter != 4 {
		t.Fatalf("counter %d, want 4", msg.Header.FrameCounter)
	}
	if s := st.Stats(); s.Opens != 1 || s.Losses != 0 {
		t.Errorf("stats %v: want the port opened once and never lost", s)
	}
	go func() {
		_, err := st.Next(guardCtx(t))
		done <- err
	}()
	waitBlockedIn(t, "serial.(*unixPort).Read")
	st.Close()
	if err := <-done; !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// TestStreamPtyWatchdog: a real port that stays silent is closed by the
// watchdog, which unblocks the read, and reopened.
func TestStreamPtyWatchdog(t *testing.T) {
	f := newFramer(t)
	m, slave := rawPty(t)
	st := newDeviceStream(t, fastBackoff(Config{Device: slave.Name(), Timeout: 50 * time.Millisecond}))
	ctx := guardCtx(t)
	// Only once the watchdog has fired does the meter speak.
	go func() {
		for st.Stats().Timeouts == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		m.Write(f.frame(9))
	}()
	if msg := next(t, ctx, st); msg.Header.FrameCounter != 9 {
		t.Fatalf("counter %d, want 9", msg.Header.FrameCounter)
	}
	if s := st.Stats(); s.Timeouts < 1 || s.Opens < 2 {
		t.Errorf("stats %+v, want a timeout and a reopen", s)
	}
}

// TestStreamTCP: a network adapter closes the connection in the middle of
// a frame, then resets the next one, then refuses a few connections; the
// Stream reports the cut frame and decodes every complete one.
func TestStreamTCP(t *testing.T) {
	f := newFramer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var log logRecorder
	st := newDeviceStream(t, fastBackoff(log.config(Config{Device: "tcp://" + addr})))
	ctx := guardCtx(t)

	served := make(chan error, 1)
	got4 := make(chan struct{})
	go func() {
		served <- func() error {
			// Connection 1: two frames and the start of a third, then a
			// clean close.
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			c.Write(append(f.frames(1, 2), f.frame(3)[:100]...))
			c.Close()
			// Connection 2: a frame, then a reset once it has been read
			// (a reset discards what the peer has not read yet).
			c, err = ln.Accept()
			if err != nil {
				return err
			}
			c.Write(f.frame(4))
			select {
			case <-got4:
			case <-ctx.Done():
				return ctx.Err()
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			// The adapter goes away: connections are refused until
			// the Stream has failed a few more times.
			ln.Close()
			for st.Stats().Losses < 5 {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(time.Millisecond)
			}
			ln, err = net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			c, err = ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write(f.frames(5))
			return err
		}()
	}()
	var got []uint32
	var failed []error
	for len(got) < 4 {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			failed = append(failed, err)
		case err != nil:
			t.Fatalf("Next: %v (frames so far %v)", err, got)
		default:
			got = append(got, m.Header.FrameCounter)
			if m.Header.FrameCounter == 4 {
				close(got4)
			}
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("the adapter: %v", err)
	}
	if want := []uint32{1, 2, 4, 5}; !equalU32(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	if len(failed) != 1 || !errors.Is(failed[0], smarty.ErrTruncated) {
		t.Errorf("frame errors %v, want the frame cut by the close", failed)
	}
	warn := log.level("W")
	if len(warn) != 3 || !strings.Contains(warn[0], "closed the connection") || !strings.Contains(warn[1], "jumped from 2 to 4") ||
		!strings.Contains(warn[2], "reset the connection") {
		t.Errorf("warnings:\n%s\nwant the close, the counter gap, the reset (the refused retries after it belong to the same outage)", strings.Join(warn, "\n"))
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
