package p1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/backoff"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func TestLimiter(t *testing.T) {
	l := limiter{burst: 2, interval: time.Minute}
	t0 := time.Unix(0, 0)
	var got []string
	for i, at := range []time.Duration{0, 1, 2, 3, 59, 60, 61, 62, 200} {
		held, ok := l.allow(t0.Add(at * time.Second))
		got = append(got, fmt.Sprintf("%d:%v/%d", i, ok, held))
	}
	want := []string{"0:true/0", "1:true/0", "2:false/0", "3:false/0", "4:false/0", "5:true/3", "6:true/0", "7:false/0", "8:true/1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// inBubble runs f in a synctest bubble with a context whose deadline, a
// day of fake time, turns a Stream that retries for ever (a bug) into a
// failure instead of a hang.
func inBubble(t *testing.T, f func(t *testing.T, ctx context.Context)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
		defer cancel()
		f(t, ctx)
	})
}

// newTestStream makes a Stream over the opener, with the test cipher and
// the Wait of a service, unless cfg says otherwise.
func newTestStream(t *testing.T, op *scriptedOpener, cfg Config) *Stream {
	t.Helper()
	if cfg.Device == "" {
		cfg.Device = "/dev/ttyUSB0"
	}
	cfg.Cipher = testCipher()
	cfg.open = op.open
	cfg.Wait = true
	st, err := NewStream(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// next calls st.Next and fails the test on anything but a message.
func next(t *testing.T, ctx context.Context, st *Stream) *smarty.Message {
	t.Helper()
	m, err := st.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

// TestStreamAbsentAtStart: the device is not there when the program
// starts; the Stream waits for it with backoff, warns once, and says when
// it is back.
func TestStreamAbsentAtStart(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		missing := &DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}
		conn := newFakeConn(nil, f.frame(100))
		op := &scriptedOpener{steps: []any{missing, missing, missing, conn}}
		var log logRecorder
		var links linkRecorder
		st := newTestStream(t, op, log.config(Config{Link: links.set}))
		start := time.Now()
		m := next(t, ctx, st)
		if !isReal(t, m.Telegram.Bytes()) || m.Header.FrameCounter != 100 {
			t.Errorf("got counter %d, want the real telegram with counter 100", m.Header.FrameCounter)
		}
		if got, want := time.Since(start), 7*time.Second; got != want {
			t.Errorf("the device was found after %s, want %s (backoff 1s, 2s, 4s)", got, want)
		}
		if op.count() != 4 {
			t.Errorf("%d opens, want 4", op.count())
		}
		warn := log.level("W")
		if len(warn) != 1 || !strings.Contains(warn[0], missing.Error()) {
			t.Errorf("warnings %q, want one naming the missing device", warn)
		}
		info := log.level("I")
		wantInfo := []string{"reading /dev/ttyUSB0", "/dev/ttyUSB0 is back: frames again after 7s without them (3 retries)"}
		if diff := cmp.Diff(wantInfo, info); diff != "" {
			t.Errorf("info lines (-want +got):\n%s", diff)
		}
		if n := len(log.level("D")); n < 3 {
			t.Errorf("%d debug lines, want one per retry at least", n)
		}
		if got := links.String(); got != "[down up]" {
			t.Errorf("link states %s, want [down up]", got)
		}
		st.Close()
		if !conn.isClosed() {
			t.Error("Close left the device open")
		}
		s := st.Stats()
		if s.Opens != 1 || s.Losses != 3 || s.Telegrams != 1 || s.Down != 7*time.Second || s.Link != LinkUp || !s.LastTelegram.Equal(start.Add(7*time.Second)) {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestStreamUnworkable: a device that cannot work as given ends the
// Stream at once instead of being retried for ever.
func TestStreamUnworkable(t *testing.T) {
	for _, kind := range []error{ErrNotSerial, ErrInvalidDevice, ErrBusy, fs.ErrPermission} {
		t.Run(kind.Error(), func(t *testing.T) {
			inBubble(t, func(t *testing.T, ctx context.Context) {
				bad := &DeviceError{Device: "/dev/x", Op: "open", Kind: kind}
				op := &scriptedOpener{steps: []any{bad}}
				st := newTestStream(t, op, Config{Device: "/dev/x"})
				_, err := st.Next(ctx)
				if !errors.Is(err, kind) || op.count() != 1 {
					t.Fatalf("Next = %v after %d opens; want %v after 1", err, op.count(), kind)
				}
				if _, err2 := st.Next(ctx); err2 != err {
					t.Fatalf("Next after the end = %v, want the same error again", err2)
				}
			})
		})
	}
	// Once the device has worked, the same errors are waited out: a
	// replugged port may belong to root for a moment until udev is done.
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		denied := &DeviceError{Device: "/dev/x", Op: "open", Kind: fs.ErrPermission}
		op := &scriptedOpener{steps: []any{
			newFakeConn(&DeviceError{Kind: ErrDisconnected}, f.frame(1)),
			denied,
			newFakeConn(nil, f.frame(2)),
		}}
		st := newTestStream(t, op, Config{Device: "/dev/x"})
		next(t, ctx, st)
		if m := next(t, ctx, st); m.Header.FrameCounter != 2 {
			t.Fatalf("counter %d, want 2", m.Header.FrameCounter)
		}
	})
}

// TestNewStreamOpensFirst: without Wait, NewStream opens the device before
// it returns. A device that is not there is an error at once, not waited
// for; one that opens is the connection Next reads, without a second
// open; and Close closes it even when Next was never called.
func TestNewStreamOpensFirst(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		missing := &DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}
		op := &scriptedOpener{steps: []any{missing, newFakeConn(nil)}}
		st, err := NewStream(ctx, Config{Device: "/dev/ttyUSB0", open: op.open})
		if st != nil || !errors.Is(err, fs.ErrNotExist) || op.count() != 1 {
			t.Fatalf("NewStream = %v, %v after %d opens; want the error after 1", st, err, op.count())
		}

		f := newFramer(t)
		conn := newFakeConn(nil, f.frame(7))
		op = &scriptedOpener{steps: []any{conn}}
		var log logRecorder
		st, err = NewStream(ctx, log.config(Config{Device: "/dev/ttyUSB0", Cipher: testCipher(), open: op.open}))
		if err != nil {
			t.Fatal(err)
		}
		if m := next(t, ctx, st); m.Header.FrameCounter != 7 {
			t.Errorf("counter %d, want 7", m.Header.FrameCounter)
		}
		if op.count() != 1 {
			t.Errorf("%d opens, want 1", op.count())
		}
		if info := log.level("I"); len(info) != 1 || info[0] != "reading /dev/ttyUSB0" {
			t.Errorf("info lines %q, want one saying the device is read", info)
		}
		st.Close()
		if !conn.isClosed() {
			t.Error("Close left the device open")
		}

		conn = newFakeConn(nil)
		op = &scriptedOpener{steps: []any{conn}}
		st, err = NewStream(ctx, Config{Device: "/dev/ttyUSB0", open: op.open})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if !conn.isClosed() {
			t.Error("Close before any Next left the device open")
		}
	})
}

// TestStreamCutFrame: the device goes away in the middle of a frame. The
// cut frame is reported as cut short, with its offset, and the next good
// frame after the reconnect is decoded; offsets go on across reconnects.
func TestStreamCutFrame(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		f1, f2, f3 := f.frame(1), f.frame(2), f.frame(3)
		gone := &DeviceError{Device: "/dev/ttyUSB0", Op: "read", Kind: ErrDisconnected}
		op := &scriptedOpener{steps: []any{
			newFakeConn(gone, f1, f2[:300]),
			newFakeConn(nil, f2[300:], f3),
		}}
		var log logRecorder
		st := newTestStream(t, op, log.config(Config{}))

		if m := next(t, ctx, st); m.Header.FrameCounter != 1 || m.Offset != 0 {
			t.Fatalf("first: counter %d at %d", m.Header.FrameCounter, m.Offset)
		}
		_, err := st.Next(ctx)
		var fe *smarty.FrameError
		if !errors.As(err, &fe) || fe.Failure() != smarty.FailureTruncated || fe.Offset != int64(len(f1)) {
			t.Fatalf("second: %v; want a frame cut short at byte %d", err, len(f1))
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("at byte %d", len(f1))) {
			t.Errorf("the message %q does not name the offset", err)
		}
		m := next(t, ctx, st)
		// The rest of the cut frame is skipped as noise.
		if wantAt := int64(len(f1) + len(f2)); m.Header.FrameCounter != 3 || m.Offset != wantAt {
			t.Fatalf("third: counter %d at %d, want 3 at %d", m.Header.FrameCounter, m.Offset, wantAt)
		}
		warn := log.level("W")
		if len(warn) != 2 || !strings.Contains(warn[0], gone.Error()) || !strings.Contains(warn[1], "jumped from 1 to 3: 1 frame missed") {
			t.Errorf("warnings:\n%s\nwant the disconnect, then the counter gap", strings.Join(warn, "\n"))
		}
		s := st.Stats()
		s.LastTelegram = time.Time{}
		want := Stats{Telegrams: 2, Failed: 1, Opens: 2, Losses: 1, Down: time.Second, Link: LinkUp,
			ByFailure: map[smarty.Failure]int64{smarty.FailureTruncated: 1},
			BytesRead: int64(len(f1) + len(f2) + len(f3)), Skipped: int64(len(f2)),
			Tracker: smarty.TrackerCounts{Telegrams: 2, Gaps: 1, Missed: 1}}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

// TestStreamWatchdog: a device that stays open but silent is closed after
// Timeout, which interrupts the blocked read, and reopened; the link goes
// silent, then up with the next telegram.
func TestStreamWatchdog(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		c1 := newFakeConn(nil, f.frame(1))
		c2 := newFakeConn(nil, f.frame(2))
		op := &scriptedOpener{steps: []any{c1, c2}}
		var log logRecorder
		var links linkRecorder
		st := newTestStream(t, op, log.config(Config{Device: "tcp://p1:2001", Link: links.set}))
		next(t, ctx, st)
		start := time.Now()
		if m := next(t, ctx, st); m.Header.FrameCounter != 2 {
			t.Fatalf("counter %d, want 2", m.Header.FrameCounter)
		}
		if got, want := time.Since(start), DefaultTimeout+backoff.DefaultMin; got != want {
			t.Errorf("reopened after %s, want %s (timeout, then the first backoff)", got, want)
		}
		if !c1.isClosed() {
			t.Error("the silent connection was not closed")
		}
		warn := log.level("W")
		if len(warn) != 1 || !strings.HasPrefix(warn[0], "no complete frame from tcp://p1:2001 for 30s: closing it; ") {
			t.Errorf("warnings %q, want one about the silence", warn)
		}
		if s := st.Stats(); s.Timeouts != 1 || s.Opens != 2 || s.Reconnects() != 1 {
			t.Errorf("stats %+v, want 1 timeout and 2 opens", s)
		}
		if got := links.String(); got != "[up silent up]" {
			t.Errorf("link states %s, want [up silent up]", got)
		}
	})
}

// TestStreamWatchdogQuiet: a meter sending every 10 s for an hour never
// trips the watchdog, and bad frames count as frames too (a wrong key is
// not cured by reopening the port).
func TestStreamWatchdogQuiet(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		wrongKey := smarty.NewCipher(smarty.Key{1}, smarty.LuxembourgAuthKey)
		conn := newFakeConn(nil)
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			for i := range uint32(360) {
				time.Sleep(10 * time.Second)
				if i%2 == 0 {
					conn.data <- f.frame(i)
				} else {
					conn.data <- wrongKey.Seal(nil, testTitle, i, f.plain)
				}
			}
		}()
		op := &scriptedOpener{steps: []any{conn}}
		st := newTestStream(t, op, Config{})
		good, bad := 0, 0
		for good+bad < 360 {
			_, err := st.Next(ctx)
			switch {
			case err == nil:
				good++
			case errors.Is(err, smarty.ErrAuth):
				bad++
			default:
				t.Fatal(err)
			}
		}
		cancel()
		if s := st.Stats(); s.Timeouts != 0 || s.Opens != 1 || good != 180 || bad != 180 || s.ByFailure[smarty.FailureAuth] != 180 {
			t.Errorf("%d good, %d bad, stats %+v", good, bad, s)
		}
	})
}

// TestStreamCallContext: a call's context bounds that call only. A Next
// that gives up (a per-call timeout, a common idiom) leaves the connection
// open and warns of nothing; the telegram it waited for comes with the
// next call, once. The Stream of internal/live reconnected, warned and
// backed off on every such call.
func TestStreamCallContext(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		conn := newFakeConn(nil)
		op := &scriptedOpener{steps: []any{conn}}
		var log logRecorder
		st := newTestStream(t, op, log.config(Config{}))
		go func() {
			time.Sleep(4 * time.Second)
			for i := uint32(1); i <= 6; i++ {
				if i > 1 {
					time.Sleep(10 * time.Second)
				}
				conn.data <- f.frame(i)
			}
		}()
		var got []uint32
		timeouts := 0
		for len(got) < 6 {
			call, cancel := context.WithTimeout(ctx, 3*time.Second)
			m, err := st.Next(call)
			cancel()
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				timeouts++
			case err != nil:
				t.Fatal(err)
			default:
				got = append(got, m.Header.FrameCounter)
			}
		}
		if diff := cmp.Diff([]uint32{1, 2, 3, 4, 5, 6}, got); diff != "" {
			t.Errorf("frame counters (-want +got):\n%s", diff)
		}
		if timeouts < 12 {
			t.Errorf("%d calls timed out, want at least 12 (3 a telegram)", timeouts)
		}
		if conn.isClosed() || op.count() != 1 {
			t.Errorf("the connection was closed (%v) or opened again (%d opens)", conn.isClosed(), op.count())
		}
		if w := log.level("W"); len(w) != 0 {
			t.Errorf("warnings %q, want none", w)
		}
		if s := st.Stats(); s.Losses != 0 || s.Timeouts != 0 || s.Tracker.Anomalies() != 0 {
			t.Errorf("stats %v", s)
		}
	})
}

// TestStreamCallContextDuringOutage: a call that gives up while the
// device is being waited for stops nothing: the waiting goes on at its
// own pace, and a later call gets the telegram.
func TestStreamCallContextDuringOutage(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		op := &scriptedOpener{steps: []any{
			&DeviceError{Kind: fs.ErrNotExist}, &DeviceError{Kind: fs.ErrNotExist},
			newFakeConn(nil, f.frame(9)),
		}}
		st := newTestStream(t, op, Config{})
		call, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		if _, err := st.Next(call); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next = %v, want the call's deadline", err)
		}
		cancel()
		time.Sleep(time.Hour)
		if n := op.count(); n != 3 {
			t.Errorf("%d opens after an hour, want 3 (the outage went on without a caller)", n)
		}
		start := time.Now()
		if m := next(t, ctx, st); m.Header.FrameCounter != 9 || time.Since(start) != 0 {
			t.Errorf("counter %d after %s, want 9 at once", m.Header.FrameCounter, time.Since(start))
		}
	})
}

// TestStreamCloseStopsWatchdog: Close stops the watchdog, whether a read
// is going on or not. The Stream of internal/live left it armed when Close
// came between two calls of Next: a timeout was counted after Close.
func TestStreamCloseStopsWatchdog(t *testing.T) {
	for _, reading := range []bool{false, true} {
		t.Run(fmt.Sprintf("reading %v", reading), func(t *testing.T) {
			inBubble(t, func(t *testing.T, ctx context.Context) {
				f := newFramer(t)
				op := &scriptedOpener{steps: []any{newFakeConn(nil, f.frame(1))}}
				var links linkRecorder
				st := newTestStream(t, op, Config{Link: links.set})
				next(t, ctx, st)
				done := make(chan error, 1)
				if reading {
					go func() {
						_, err := st.Next(ctx)
						done <- err
					}()
				}
				time.Sleep(10 * time.Second)
				st.Close()
				if reading {
					if err := <-done; !errors.Is(err, fs.ErrClosed) {
						t.Fatalf("Next after Close: %v", err)
					}
				}
				time.Sleep(time.Hour)
				if s := st.Stats(); s.Timeouts != 0 || s.Losses != 0 {
					t.Errorf("after Close: %d timeouts, %d losses; want none", s.Timeouts, s.Losses)
				}
				if got := links.String(); got != "[up]" {
					t.Errorf("link states %s, want [up] (nothing after Close)", got)
				}
			})
		})
	}
}

// TestStreamStaleWatchdog: a watchdog whose timer fired while its frame
// arrived, and whose bark runs only after the next read has begun (on the
// next connection, here), must not close that connection, nor count a
// timeout. internal/live's watchdog closed whatever connection was open
// when its bark ran.
func TestStreamStaleWatchdog(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		gone := &DeviceError{Device: "tcp://p1:2001", Op: "read", Kind: ErrDisconnected}
		c1 := newFakeConn(gone, f.frame(1))
		c2 := newFakeConn(nil, f.frame(2))
		op := &scriptedOpener{steps: []any{c1, c2}}
		st := newTestStream(t, op, Config{Device: "tcp://p1:2001"})
		next(t, ctx, st)
		// c1 goes away; the Stream reconnects to c2.
		if m := next(t, ctx, st); m.Header.FrameCounter != 2 {
			t.Fatalf("counter %d, want 2", m.Header.FrameCounter)
		}
		done := make(chan *smarty.Message)
		go func() {
			m, _ := st.Next(ctx)
			done <- m
		}()
		time.Sleep(10 * time.Second) // reading c2, its watchdog armed
		st.bark()                    // the late bark of an arming before
		if c2.isClosed() {
			t.Fatal("a stale watchdog closed the new connection")
		}
		c2.data <- f.frame(3)
		if m := <-done; m == nil || m.Header.FrameCounter != 3 {
			t.Fatalf("Next = %v, want frame 3", m)
		}
		if s := st.Stats(); s.Timeouts != 0 || s.Opens != 2 {
			t.Errorf("stats %v, want no timeout and 2 opens", s)
		}
	})
}

// TestStreamClose: Close from another goroutine ends a blocked Next, and
// logs the summary.
func TestStreamClose(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		c := newFakeConn(nil)
		op := &scriptedOpener{steps: []any{c}}
		var log logRecorder
		st := newTestStream(t, op, log.config(Config{Timeout: -1}))
		done := make(chan error)
		go func() {
			_, err := st.Next(ctx)
			done <- err
		}()
		synctest.Wait()
		st.Close()
		if err := <-done; !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if _, err := st.Next(ctx); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if !c.isClosed() {
			t.Error("Close left the device open")
		}
		info := log.level("I")
		if len(info) != 2 || !strings.HasPrefix(info[1], "/dev/ttyUSB0 at exit: telegrams 0, failed 0") {
			t.Errorf("info lines %q, want the summary at exit", info)
		}
		st.Close() // a second Close does nothing
		if n := len(log.level("I")); n != 2 {
			t.Errorf("%d info lines after a second Close, want 2", n)
		}
	})
}

// TestStreamCloseDuringBackoff: Close while waiting to retry returns at
// once, not after the wait.
func TestStreamCloseDuringBackoff(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		op := &scriptedOpener{} // the device never shows up
		st := newTestStream(t, op, Config{})
		go func() {
			time.Sleep(100 * time.Second)
			st.Close()
		}()
		start := time.Now()
		_, err := st.Next(ctx)
		if !errors.Is(err, fs.ErrClosed) || time.Since(start) != 100*time.Second {
			t.Fatalf("Next = %v after %s; want closed after 100s", err, time.Since(start))
		}
		// 1+2+4+8+16+30 = 61 s, then 30 s: 8 opens before the Close.
		if op.count() != 8 {
			t.Errorf("%d opens in 100 s, want 8", op.count())
		}
	})
}

// TestStreamEOF: a file ends the Stream with io.EOF after its telegrams,
// for good.
func TestStreamEOF(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, f.frames(1, 2))}}
		st := newTestStream(t, op, Config{Device: "dump.bin"})
		next(t, ctx, st)
		next(t, ctx, st)
		for range 2 {
			if _, err := st.Next(ctx); err != io.EOF {
				t.Fatalf("Next at the end of a file: %v, want io.EOF", err)
			}
		}
	})
}

// TestStreamNoise: noise before a frame (the reading started in the middle
// of one) is logged at Debug, once, with its size and where the frame
// starts; line ends between frames are not.
func TestStreamNoise(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		frame := f.frame(1)
		data := append(append([]byte{}, frame[300:]...), f.frames(2)...)
		data = append(data, "\r\n"...)
		data = append(data, f.frames(3)...)
		var log logRecorder
		op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, data)}}
		st := newTestStream(t, op, log.config(Config{Device: "dump.bin"}))
		for range 2 {
			next(t, ctx, st)
		}
		want := fmt.Sprintf("skipped %d bytes before byte %d that were not a frame", len(frame)-300-bytes.Count(frame[300:], []byte("\r"))-bytes.Count(frame[300:], []byte("\n")), len(frame)-300)
		var skips []string
		for _, l := range log.level("D") {
			if strings.HasPrefix(l, "skipped") {
				skips = append(skips, l)
			}
		}
		if len(skips) != 1 || !strings.HasPrefix(skips[0], want) {
			t.Fatalf("lines about skipped bytes %q, want one starting %q", skips, want)
		}
	})
}

// TestStreamEventsRateLimited: a capture full of frame counter anomalies
// logs the first few in full, then a count, not one line each.
func TestStreamEventsRateLimited(t *testing.T) {
	inBubble(t, func(t *testing.T, ctx context.Context) {
		f := newFramer(t)
		var data []byte
		for i := range uint32(100) {
			data = append(data, f.frame(i*2)...) // a gap every frame
		}
		var log logRecorder
		op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, data)}}
		st := newTestStream(t, op, log.config(Config{Device: "dump.bin"}))
		for range 100 {
			next(t, ctx, st)
		}
		st.Close()
		warn := log.level("W")
		if len(warn) != eventBurst {
			t.Errorf("%d warnings for 99 gaps, want %d:\n%s", len(warn), eventBurst, strings.Join(warn, "\n"))
		}
		if n := len(log.level("D")); n < 99-eventBurst {
			t.Errorf("%d debug lines, want every gap there", n)
		}
		if s := st.Stats(); s.Tracker.Gaps != 99 {
			t.Errorf("%d gaps counted, want 99", s.Tracker.Gaps)
		}
		info := log.level("I")
		if last := info[len(info)-1]; !strings.Contains(last, fmt.Sprintf("(%d more frame counter events were not logged)", 99-eventBurst)) {
			t.Errorf("the summary at exit %q does not count the events held back", last)
		}
	})
}

func TestStatsString(t *testing.T) {
	s := Stats{Telegrams: 8640, Failed: 3, BytesRead: 5_600_000, Skipped: 700, Opens: 3, Losses: 5, Timeouts: 1, Down: 95 * time.Second}
	s.ByFailure = map[smarty.Failure]int64{smarty.FailureAuth: 1, smarty.FailureTruncated: 2}
	s.Tracker = smarty.TrackerCounts{Telegrams: 8640, Gaps: 2, Missed: 9}
	want := "telegrams 8640, failed 3 (auth 1, truncated 2), bytes read 5600000, skipped 700, reconnects 2, watchdog timeouts 1, time without device 1m35s; frame counter gaps 2 (9 frames missed), repeats 0, steps back 0, system title changes 0, meter id changes 0"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestLinkStateString(t *testing.T) {
	for s, want := range map[LinkState]string{LinkWaiting: "waiting", LinkUp: "up", LinkSilent: "silent", LinkDown: "down", 9: "LinkState(9)"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", int(s), got, want)
		}
	}
}

// TestStreamCloseAfterPartialFrame: Close, while a Next waits on a read
// that holds part of a frame, makes that Next say closed, never report the
// frame Close cut short.
func TestStreamCloseAfterPartialFrame(t *testing.T) {
	for range 50 {
		inBubble(t, func(t *testing.T, ctx context.Context) {
			f := newFramer(t)
			op := &scriptedOpener{steps: []any{newFakeConn(nil, f.frame(1)[:300])}}
			st := newTestStream(t, op, Config{})
			go func() {
				time.Sleep(time.Second)
				st.Close()
			}()
			if _, err := st.Next(ctx); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("Next when Close came = %v, want fs.ErrClosed", err)
			}
		})
	}
}
