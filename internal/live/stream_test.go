package live

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

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"defaults", Backoff{}, []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, 30 * s}},
		{"custom", Backoff{Min: 100 * time.Millisecond, Max: time.Second},
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, s, s}},
		{"max below min", Backoff{Min: 5 * s, Max: s}, []time.Duration{5 * s, 5 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			var got []time.Duration
			for range tt.want {
				got = append(got, b.Next())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if b.Attempts() != len(tt.want) {
				t.Errorf("Attempts() = %d, want %d", b.Attempts(), len(tt.want))
			}
			b.Reset()
			if d := b.Next(); d != tt.want[0] {
				t.Errorf("after Reset, Next() = %s, want %s", d, tt.want[0])
			}
		})
	}
	// Many attempts do not overflow.
	var b Backoff
	for range 1000 {
		b.Next()
	}
	if d := b.Next(); d != DefaultMaxBackoff {
		t.Errorf("after 1000 attempts, Next() = %s, want %s", d, DefaultMaxBackoff)
	}
}

func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		barks := 0
		start := time.Now()
		var barkedAt time.Duration
		w := NewWatchdog(30*time.Second, func() { barks++; barkedAt = time.Since(start) })
		// Kicked every 10 s for ten minutes: quiet.
		for range 60 {
			time.Sleep(10 * time.Second)
			w.Kick()
		}
		synctest.Wait()
		if barks != 0 || w.Fired() {
			t.Fatalf("the watchdog barked %d times while kicked", barks)
		}
		// Then silence: it barks once, 30 s after the last kick.
		time.Sleep(time.Hour)
		synctest.Wait()
		if barks != 1 || !w.Fired() {
			t.Fatalf("the watchdog barked %d times in an hour of silence, want 1", barks)
		}
		if want := 10*time.Minute + 30*time.Second; barkedAt != want {
			t.Errorf("barked at %s, want %s", barkedAt, want)
		}
		w.Kick() // no effect after firing
		time.Sleep(time.Hour)
		synctest.Wait()
		if barks != 1 {
			t.Errorf("barked %d times; a watchdog barks once", barks)
		}
		if !w.Stop() {
			t.Error("Stop() = false after it fired")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		w := NewWatchdog(time.Second, func() { t.Error("a stopped watchdog barked") })
		if w.Stop() {
			t.Error("Stop() = true before it fired")
		}
		time.Sleep(time.Hour)
		w.Kick()
		time.Sleep(time.Hour)
	})
}

// fakeDeadline is the context of the tests in a synctest bubble: its
// deadline, a day of fake time, turns a Stream that retries for ever
// (a bug) into a failure instead of a hang.
func fakeDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
	t.Cleanup(cancel)
	return ctx
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

// TestStreamAbsentAtStart: the device is not there when the command
// starts; the Stream waits for it with backoff, warns once, and says when
// it is back.
func TestStreamAbsentAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		missing := &p1.DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}
		conn := newFakeConn(nil, f.frame(100))
		op := &scriptedOpener{steps: []any{missing, missing, missing, conn}}
		var log logRecorder
		st := New(log.config(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader}))
		start := time.Now()
		m := next(t, fakeDeadline(t), st)
		if !isReal(t, m.Telegram.Bytes()) || m.Header.FrameCounter != 100 {
			t.Errorf("got counter %d, want the real telegram with counter 100", m.Header.FrameCounter)
		}
		if got, want := time.Since(start), 7*time.Second; got != want {
			t.Errorf("the device was found after %s, want %s (backoff 1s, 2s, 4s)", got, want)
		}
		if op.calls != 4 {
			t.Errorf("%d opens, want 4", op.calls)
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
		st.Close()
		if !conn.isClosed() {
			t.Error("Close left the device open")
		}
		s := st.Stats()
		if s.Opens != 1 || s.Failures != 3 || s.Telegrams != 1 || s.Down != 7*time.Second {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestStreamUnworkable: a device that cannot work as given ends the
// Stream at once instead of being retried for ever.
func TestStreamUnworkable(t *testing.T) {
	for _, kind := range []error{p1.ErrNotSerial, p1.ErrInvalidDevice, p1.ErrBusy, fs.ErrPermission} {
		t.Run(kind.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bad := &p1.DeviceError{Device: "/dev/x", Op: "open", Kind: kind}
				op := &scriptedOpener{steps: []any{bad}}
				st := New(Config{Device: "/dev/x", Open: op.open})
				defer st.Close()
				_, err := st.Next(fakeDeadline(t))
				if !errors.Is(err, kind) || op.calls != 1 {
					t.Fatalf("Next = %v after %d opens; want %v after 1", err, op.calls, kind)
				}
			})
		})
	}
	// Once the device has worked, the same errors are waited out: a
	// replugged port may belong to root for a moment until udev is done.
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		denied := &p1.DeviceError{Device: "/dev/x", Op: "open", Kind: fs.ErrPermission}
		op := &scriptedOpener{steps: []any{
			newFakeConn(&p1.DeviceError{Kind: p1.ErrDisconnected}, f.frame(1)),
			denied,
			newFakeConn(nil, f.frame(2)),
		}}
		st := New(Config{Device: "/dev/x", Open: op.open, NewReader: newTestReader})
		defer st.Close()
		ctx := fakeDeadline(t)
		next(t, ctx, st)
		if m := next(t, ctx, st); m.Header.FrameCounter != 2 {
			t.Fatalf("counter %d, want 2", m.Header.FrameCounter)
		}
	})
}

// TestStreamCutFrame: the device goes away in the middle of a frame. The
// cut frame is reported as cut short, with its offset, and the next good
// frame after the reconnect is decoded; offsets go on across reconnects.
func TestStreamCutFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		f1, f2, f3 := f.frame(1), f.frame(2), f.frame(3)
		gone := &p1.DeviceError{Device: "/dev/ttyUSB0", Op: "read", Kind: p1.ErrDisconnected}
		op := &scriptedOpener{steps: []any{
			newFakeConn(gone, f1, f2[:300]),
			newFakeConn(nil, f2[300:], f3),
		}}
		var log logRecorder
		st := New(log.config(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader}))
		defer st.Close()
		ctx := fakeDeadline(t)

		if m := next(t, ctx, st); m.Header.FrameCounter != 1 || m.Offset != 0 {
			t.Fatalf("first: counter %d at %d", m.Header.FrameCounter, m.Offset)
		}
		_, err := st.Next(ctx)
		var fe *smarty.FrameError
		if !errors.As(err, &fe) || !errors.Is(err, smarty.ErrTruncated) || fe.Offset != int64(len(f1)) {
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
		want := Stats{Telegrams: 2, Failed: 1, Opens: 2, Failures: 1, Down: time.Second,
			BytesRead: int64(len(f1) + len(f2) + len(f3)), Skipped: int64(len(f2)),
			Tracker: smarty.TrackerCounts{Telegrams: 2, Gaps: 1, Missed: 1}}
		want.ByFailure = map[smarty.Failure]int64{smarty.FailureTruncated: 1}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

// TestStreamWatchdog: a device that stays open but silent is closed after
// Timeout, which interrupts the blocked read, and reopened.
func TestStreamWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		c1 := newFakeConn(nil, f.frame(1))
		c2 := newFakeConn(nil, f.frame(2))
		op := &scriptedOpener{steps: []any{c1, c2}}
		var log logRecorder
		st := New(log.config(Config{Device: "tcp://p1:2001", Open: op.open, NewReader: newTestReader}))
		defer st.Close()
		ctx := fakeDeadline(t)
		next(t, ctx, st)
		start := time.Now()
		if m := next(t, ctx, st); m.Header.FrameCounter != 2 {
			t.Fatalf("counter %d, want 2", m.Header.FrameCounter)
		}
		if got, want := time.Since(start), DefaultTimeout+DefaultMinBackoff; got != want {
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
	})
}

// TestStreamWatchdogQuiet: a meter sending every 10 s for an hour never
// trips the watchdog, and bad frames count as frames too (a wrong key is
// not cured by reopening the port).
func TestStreamWatchdogQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		wrongKey := smarty.NewCipher(smarty.Key{1}, smarty.LuxembourgAuthKey)
		conn := newFakeConn(nil)
		ctx, cancel := context.WithCancel(fakeDeadline(t))
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
		st := New(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader})
		defer st.Close()
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

// TestStreamCancel: cancelling the context ends a Next that is blocked in
// a read, closes the device, and a later Next with a live context opens it
// again.
func TestStreamCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		c1 := newFakeConn(nil)
		c2 := newFakeConn(nil, f.frame(5))
		op := &scriptedOpener{steps: []any{c1, c2}}
		st := New(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader, Timeout: -1})
		defer st.Close()
		ctx, cancel := context.WithCancel(fakeDeadline(t))
		done := make(chan error)
		go func() {
			_, err := st.Next(ctx)
			done <- err
		}()
		synctest.Wait() // Next is blocked in Read
		start := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v", err)
		}
		if time.Since(start) != 0 || !c1.isClosed() {
			t.Errorf("Next took %s to return, device closed: %v", time.Since(start), c1.isClosed())
		}
		if m := next(t, fakeDeadline(t), st); m.Header.FrameCounter != 5 {
			t.Errorf("counter %d, want 5", m.Header.FrameCounter)
		}
	})
}

// TestStreamCancelDuringBackoff: a cancel while waiting to retry returns
// at once, not after the wait.
func TestStreamCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		op := &scriptedOpener{} // the device never shows up
		st := New(Config{Device: "/dev/ttyUSB0", Open: op.open})
		defer st.Close()
		ctx, cancel := context.WithTimeout(fakeDeadline(t), 100*time.Second)
		defer cancel()
		start := time.Now()
		_, err := st.Next(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Second {
			t.Fatalf("Next = %v after %s; want the deadline after 100s", err, time.Since(start))
		}
		// 1+2+4+8+16+30 = 61 s, then 30 s: 8 opens before the deadline.
		if op.calls != 8 {
			t.Errorf("%d opens in 100 s, want 8", op.calls)
		}
	})
}

// TestStreamClose: Close from another goroutine ends a blocked Next, and
// logs the summary.
func TestStreamClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newFakeConn(nil)
		op := &scriptedOpener{steps: []any{c}}
		var log logRecorder
		st := New(log.config(Config{Device: "/dev/ttyUSB0", Open: op.open, Timeout: -1}))
		done := make(chan error)
		go func() {
			_, err := st.Next(fakeDeadline(t))
			done <- err
		}()
		synctest.Wait()
		st.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if _, err := st.Next(fakeDeadline(t)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
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

// TestStreamEOF: a file ends the Stream with io.EOF after its telegrams.
func TestStreamEOF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, f.frames(1, 2))}}
		st := New(Config{Device: "dump.bin", Open: op.open, NewReader: newTestReader})
		defer st.Close()
		next(t, fakeDeadline(t), st)
		next(t, fakeDeadline(t), st)
		if _, err := st.Next(fakeDeadline(t)); err != io.EOF {
			t.Fatalf("Next at the end of a file: %v, want io.EOF", err)
		}
	})
}

// TestReportEvery: the counts are logged every interval.
func TestReportEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		op := &scriptedOpener{steps: []any{newFakeConn(nil, f.frames(1, 2, 4))}}
		var log logRecorder
		st := New(log.config(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader, Timeout: -1}))
		ctx, cancel := context.WithCancel(fakeDeadline(t))
		for range 3 {
			next(t, ctx, st)
		}
		go st.ReportEvery(ctx, time.Hour)
		time.Sleep(3*time.Hour + time.Minute)
		cancel()
		synctest.Wait()
		var reports []string
		for _, l := range log.level("I") {
			if strings.HasPrefix(l, "/dev/ttyUSB0: ") {
				reports = append(reports, l)
			}
		}
		want := "/dev/ttyUSB0: telegrams 3, failed 0, bytes read 1941, skipped 0, reconnects 0, watchdog timeouts 0, time without device 0s; frame counter gaps 1 (1 frames missed), repeats 0, steps back 0, system title changes 0, meter id changes 0"
		if len(reports) != 3 || reports[0] != want {
			t.Errorf("reports:\n%s\nwant 3 of\n%s", strings.Join(reports, "\n"), want)
		}
		st.Close()
	})
}

func TestStatsString(t *testing.T) {
	s := Stats{Telegrams: 8640, Failed: 3, BytesRead: 5_600_000, Skipped: 700, Opens: 3, Failures: 5, Timeouts: 1, Down: 95 * time.Second}
	s.ByFailure = map[smarty.Failure]int64{smarty.FailureAuth: 1, smarty.FailureTruncated: 2}
	s.Tracker = smarty.TrackerCounts{Telegrams: 8640, Gaps: 2, Missed: 9}
	want := "telegrams 8640, failed 3 (auth 1, truncated 2), bytes read 5600000, skipped 700, reconnects 2, watchdog timeouts 1, time without device 1m35s; frame counter gaps 2 (9 frames missed), repeats 0, steps back 0, system title changes 0, meter id changes 0"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

// TestOpen: Open opens the device before it returns. A device that is not
// there is an error at once, not waited for; one that opens is the
// connection Next reads, without a second open; and Close closes it even
// when Next was never called.
func TestOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		missing := &p1.DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}
		op := &scriptedOpener{steps: []any{missing, newFakeConn(nil)}}
		st, err := Open(fakeDeadline(t), Config{Device: "/dev/ttyUSB0", Open: op.open})
		if st != nil || !errors.Is(err, fs.ErrNotExist) || op.calls != 1 {
			t.Fatalf("Open = %v, %v after %d opens; want the error after 1", st, err, op.calls)
		}

		f := newFramer(t)
		conn := newFakeConn(nil, f.frame(7))
		op = &scriptedOpener{steps: []any{conn}}
		var log logRecorder
		st, err = Open(fakeDeadline(t), log.config(Config{Device: "/dev/ttyUSB0", Open: op.open, NewReader: newTestReader}))
		if err != nil {
			t.Fatal(err)
		}
		if m := next(t, fakeDeadline(t), st); m.Header.FrameCounter != 7 {
			t.Errorf("counter %d, want 7", m.Header.FrameCounter)
		}
		if op.calls != 1 {
			t.Errorf("%d opens, want 1", op.calls)
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
		st, err = Open(fakeDeadline(t), Config{Device: "/dev/ttyUSB0", Open: op.open})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if !conn.isClosed() {
			t.Error("Close before any Next left the device open")
		}
	})
}

// TestStreamNoise: noise before a frame (the reading started in the middle
// of one) is logged once, with its size and where the frame starts; line
// ends between frames are not.
func TestStreamNoise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		frame := f.frame(1)
		data := append(append([]byte{}, frame[300:]...), f.frames(2)...)
		data = append(data, "\r\n"...)
		data = append(data, f.frames(3)...)
		var log logRecorder
		op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, data)}}
		st := New(log.config(Config{Device: "dump.bin", Open: op.open, NewReader: newTestReader}))
		defer st.Close()
		for range 2 {
			next(t, fakeDeadline(t), st)
		}
		want := fmt.Sprintf("skipped %d bytes before byte %d that were not a frame", len(frame)-300-bytes.Count(frame[300:], []byte("\r"))-bytes.Count(frame[300:], []byte("\n")), len(frame)-300)
		var skips []string
		for _, l := range log.level("I") {
			if strings.HasPrefix(l, "skipped") {
				skips = append(skips, l)
			}
		}
		if len(skips) != 1 || !strings.HasPrefix(skips[0], want) {
			t.Fatalf("lines about skipped bytes %q, want one starting %q", skips, want)
		}
	})
}
