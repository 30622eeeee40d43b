package live

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// fakeSource hands out scripted results, then blocks until ctx is done
// (or returns end, when set).
type fakeSource struct {
	steps []fakeStep
	end   error
	m     smarty.Message
}

type fakeStep struct {
	wait  time.Duration // before the result
	frame []byte        // a frame to decode, or nil
	err   error         // a *smarty.FrameError, or an end
}

func (s *fakeSource) Next(ctx context.Context) (*smarty.Message, error) {
	if len(s.steps) == 0 {
		if s.end != nil {
			return nil, s.end
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.wait > 0 {
		select {
		case <-time.After(st.wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if st.err != nil {
		return nil, st.err
	}
	r := smarty.NewReader(bytes.NewReader(st.frame), testCipher())
	m, err := r.Next()
	if err != nil {
		return nil, err
	}
	s.m = *m
	return &s.m, nil
}

// recorder is an Output that records what it is handed.
type recorder struct {
	mu       sync.Mutex
	readings []*Reading
	links    []LinkState
	runErr   error // returned by Run at once when set
	drained  bool
}

func (r *recorder) Reading(x *Reading) {
	r.mu.Lock()
	r.readings = append(r.readings, x)
	r.mu.Unlock()
}
func (r *recorder) Link(s LinkState) { r.mu.Lock(); r.links = append(r.links, s); r.mu.Unlock() }
func (r *recorder) Run(ctx context.Context) error {
	if r.runErr != nil {
		return r.runErr
	}
	<-ctx.Done()
	return nil
}

type drainer struct{ recorder }

func (d *drainer) Drain(context.Context) error { d.drained = true; return nil }

// logBuffer is a slog logger into a buffer, one "LEVEL msg" a line.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.b.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestLoopCountAndOutputs(t *testing.T) {
	f := newFramer(t)
	src := &fakeSource{steps: []fakeStep{{frame: f.frame(1)}, {frame: f.frame(2)}, {frame: f.frame(3)}}}
	a, b := new(recorder), new(drainer)
	l := NewLoop(src, LoopConfig{Device: "dev", Count: 2})
	l.Add(a)
	l.Add(b)
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(a.readings) != 2 || len(b.readings) != 2 || a.readings[0] != b.readings[0] {
		t.Fatalf("readings %d and %d, want the same 2 for both", len(a.readings), len(b.readings))
	}
	if !b.drained {
		t.Error("-count reached without draining")
	}
	r0, r1 := a.readings[0], a.readings[1]
	if r0.Message.Header.FrameCounter != 1 || r1.Message.Header.FrameCounter != 2 {
		t.Errorf("frame counters %d, %d", r0.Message.Header.FrameCounter, r1.Message.Header.FrameCounter)
	}
	// Each Reading has memory of its own: the source overwrote its
	// Message after the first.
	if !bytes.Equal(r0.Message.Telegram.Bytes(), realTelegram(t)) || r0.MeterID == "" || r0.Received.IsZero() {
		t.Errorf("first reading changed or incomplete: meter %q", r0.MeterID)
	}
	if want := []LinkState{LinkUp}; len(a.links) != 1 || a.links[0] != LinkUp {
		t.Errorf("links %v, want %v", a.links, want)
	}
}

func TestLoopEnd(t *testing.T) {
	f := newFramer(t)
	boom := errors.New("device on fire")
	tests := []struct {
		name    string
		end     error
		runErr  error
		want    error
		drained bool
	}{
		{"end of file", io.EOF, nil, nil, true},
		{"closed", fs.ErrClosed, nil, nil, false},
		{"device", boom, nil, boom, false},
		{"output fails", nil, boom, boom, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{steps: []fakeStep{{frame: f.frame(1)}}, end: tc.end}
			o := &drainer{recorder: recorder{runErr: tc.runErr}}
			l := NewLoop(src, LoopConfig{Device: "dev"})
			l.Add(o)
			err := l.Run(context.Background())
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Run = %v, want %v", err, tc.want)
			}
			if o.drained != tc.drained {
				t.Errorf("drained %v, want %v", o.drained, tc.drained)
			}
		})
	}
}

func TestLoopCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		l := NewLoop(&fakeSource{}, LoopConfig{Device: "dev"})
		o := new(recorder)
		l.Add(o)
		done := make(chan error)
		go func() { done <- l.Run(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel = %v", err)
		}
	})
}

// TestLoopSilence: the outputs learn that the link went silent after
// Silence without a telegram, and up again with the next one.
func TestLoopSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFramer(t)
		src := &fakeSource{steps: []fakeStep{
			{frame: f.frame(1)},
			{wait: 10 * time.Second, frame: f.frame(2)},
			{wait: 45 * time.Second, frame: f.frame(3)},
		}, end: io.EOF}
		o := new(recorder)
		l := NewLoop(src, LoopConfig{Device: "dev", Silence: 30 * time.Second})
		l.Add(o)
		if err := l.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := []LinkState{LinkUp, LinkSilent, LinkUp}
		if len(o.links) != len(want) {
			t.Fatalf("links %v, want %v", o.links, want)
		}
		for i := range want {
			if o.links[i] != want[i] {
				t.Fatalf("links %v, want %v", o.links, want)
			}
		}
	})
}

// TestLoopFailureLog: a flood of bad frames gives the first few in full,
// then one line with the count per interval, not one line a frame.
func TestLoopFailureLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var steps []fakeStep
		for range 1000 {
			steps = append(steps, fakeStep{wait: 100 * time.Millisecond, err: &smarty.FrameError{Offset: 1, Err: smarty.ErrTruncated}})
		}
		var log logBuffer
		l := NewLoop(&fakeSource{steps: steps, end: io.EOF}, LoopConfig{Device: "dev", Log: log.logger(),
			FailureInterval: 30 * time.Second, FailureBurst: 3})
		if err := l.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// 100 s of failures: four intervals, 3 in full in each, and a
		// count for the rest of each.
		var warn, counts int
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.HasPrefix(line, "level=WARN") {
				warn++
				if strings.Contains(line, "not logged one by one") {
					counts++
				}
			}
		}
		if warn != 4*3+4 || counts != 4 {
			t.Errorf("%d warnings of which %d counts, want 16 and 4:\n%s", warn, counts, log.String())
		}
		if !strings.Contains(log.String(), "297 more frames failed since") {
			t.Errorf("no count of the first interval:\n%s", log.String())
		}
	})
}

func TestMeterID(t *testing.T) {
	f := newFramer(t)
	m, err := smarty.NewReader(bytes.NewReader(f.frame(7)), testCipher()).Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := MeterID(m); got != m.Telegram.MeterID() || got == "" {
		t.Errorf("MeterID = %q, want the telegram's %q", got, m.Telegram.MeterID())
	}
	var none smarty.Message
	none.Encrypted, none.Header.SystemTitle = true, testTitle
	if got := MeterID(&none); got != testTitle.String() {
		t.Errorf("MeterID without an id in the telegram = %q, want the system title", got)
	}
	if got := MeterID(new(smarty.Message)); got != "" {
		t.Errorf("MeterID of nothing = %q", got)
	}
}
