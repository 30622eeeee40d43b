// Package live is what the live commands (OnlineDecryption,
// MQTTPublisher) share to run unattended for months: a Stream of telegrams
// from a device that heals itself.
//
// A Stream opens the device, reads it with a smarty.Reader, and when the
// device goes away (a USB cable unplugged, a network adapter that closes or
// resets the connection, a device that is not there yet) it closes it,
// waits with capped exponential backoff and opens it again, for as long as
// it takes. A watchdog closes and reopens a device that stays open but
// delivers no complete frame for Config.Timeout. It logs the first failure
// of an outage and the recovery, not every retry, follows the frame counter
// with a smarty.Tracker, and counts everything in Stats:
//
//	st := live.New(live.Config{Device: "/dev/ttyUSB0", NewReader: newReader,
//		Infof: glog.Infof, Warnf: glog.Warningf})
//	defer st.Close() // logs the summary
//	go st.ReportEvery(ctx, time.Hour)
//	for {
//		m, err := st.Next(ctx)
//		var fe *smarty.FrameError
//		switch {
//		case errors.As(err, &fe):
//			glog.Warning(err) // one bad frame; go on
//			continue
//		case err != nil:
//			return err // ctx done, io.EOF at the end of a file, or a device that cannot work
//		}
//		write(m)
//	}
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"sync"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// DefaultReportInterval is how often the live commands log their counts.
const DefaultReportInterval = time.Hour

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("live: stream closed")

// Opener opens a device. The ReadCloser's Close must be safe to call while
// a Read is blocked in another goroutine, and must make that Read return.
type Opener func(ctx context.Context, device string) (io.ReadCloser, error)

// OpenDevice is the Opener of real devices: p1.Open.
func OpenDevice(ctx context.Context, device string) (io.ReadCloser, error) {
	src, err := p1.Open(ctx, device)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// Config says what a Stream reads and how it reports.
type Config struct {
	// Device is the device to read: a serial port, tcp://host:port, a file.
	Device string
	// Open opens Device; nil means OpenDevice.
	Open Opener
	// NewReader makes the Reader of each new connection (the cipher,
	// AllowUnauthenticated and MaxFrameSize are set there); nil means
	// smarty.NewReader(r, nil), plain telegrams only.
	NewReader func(r io.Reader) *smarty.Reader
	// Timeout is how long the device may deliver no complete frame before
	// it is closed and reopened: DefaultTimeout when 0, never when < 0.
	Timeout time.Duration
	// Backoff bounds the waits between attempts to open the device
	// (DefaultMinBackoff to DefaultMaxBackoff when zero).
	Backoff Backoff
	// Infof, Warnf and Debugf log; each may be nil. Warnf gets the
	// failures and the frame counter's anomalies, Infof the recoveries
	// and the summaries, Debugf every retry.
	Infof, Warnf, Debugf func(format string, args ...any)
}

// Stream reads telegrams from a device, reopening it whenever it fails.
// Next must be called from one goroutine at a time; Close, Stats and
// ReportEvery may be called from any.
type Stream struct {
	cfg     Config
	timeout time.Duration
	backoff Backoff
	done    chan struct{} // closed by Close

	mu     sync.Mutex // guards src, wd and closed
	src    io.ReadCloser
	wd     *Watchdog
	closed bool

	// Owned by the goroutine that calls Next.
	reader     *smarty.Reader
	base       int64 // stream offset of the current reader's first byte
	tracker    smarty.Tracker
	everOpened bool
	down       bool // an outage is going on
	downSince  time.Time

	statsMu sync.Mutex
	past    Stats        // counts, without the current reader's
	cur     smarty.Stats // the current reader's counts
	down0   time.Time    // start of the outage going on, for Stats
}

// New returns a Stream of cfg.Device. It opens nothing until Next.
func New(cfg Config) *Stream {
	s := &Stream{cfg: cfg, backoff: cfg.Backoff, done: make(chan struct{})}
	if s.cfg.Open == nil {
		s.cfg.Open = OpenDevice
	}
	if s.cfg.NewReader == nil {
		s.cfg.NewReader = func(r io.Reader) *smarty.Reader { return smarty.NewReader(r, nil) }
	}
	s.timeout = cfg.Timeout
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// Open is New, except that it opens the device once before it returns,
// with cfg.Open: a device that is not there, or that this user may not
// open, is then an error at once instead of being waited for, which is
// what a person who starts a command by hand wants to hear. Next reads
// that connection first; later ones are opened as with New.
func Open(ctx context.Context, cfg Config) (*Stream, error) {
	s := New(cfg)
	src, err := s.cfg.Open(ctx, s.cfg.Device)
	if err != nil {
		return nil, err
	}
	s.attach(src)
	return s, nil
}

func (s *Stream) infof(format string, args ...any) {
	if s.cfg.Infof != nil {
		s.cfg.Infof(format, args...)
	}
}

func (s *Stream) warnf(format string, args ...any) {
	if s.cfg.Warnf != nil {
		s.cfg.Warnf(format, args...)
	}
}

func (s *Stream) debugf(format string, args ...any) {
	if s.cfg.Debugf != nil {
		s.cfg.Debugf(format, args...)
	}
}

// Next returns the next telegram, opening and reopening the device as
// needed. The Message belongs to the current Reader and is overwritten by
// the next call; its Offset counts the bytes read from the device since
// the Stream began, across reconnects.
//
// A *smarty.FrameError means one frame was bad and skipped; a frame cut by
// a reconnect is reported so, as cut short. Call Next again. Any other
// error ends the Stream: ctx's error when ctx is done (a blocked read is
// interrupted), io.EOF when the device is a file that has ended, ErrClosed
// after Close, or the error of the first attempt to open a device that
// cannot work as given (not a serial port, permission denied, busy, a
// malformed name). A device that is merely absent is waited for.
func (s *Stream) Next(ctx context.Context) (*smarty.Message, error) {
	stop := context.AfterFunc(ctx, s.closeSource)
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.isClosed() {
			return nil, ErrClosed
		}
		if s.reader == nil {
			if err := s.connect(ctx); err != nil {
				return nil, err
			}
		}
		m, err := s.reader.Next()
		s.statsMu.Lock()
		s.cur = s.reader.Stats()
		s.statsMu.Unlock()
		if err == nil {
			s.gotFrame()
			m.Offset += s.base
			if m.Skipped > 0 {
				s.infof("skipped %d bytes before byte %d that were not a frame (the end of a frame the reading started in, or noise on the line)", m.Skipped, m.Offset)
			}
			for _, e := range s.tracker.Observe(m) {
				s.warnf("%s (telegram at byte %d)", e, e.Offset)
			}
			s.statsMu.Lock()
			s.past.Tracker = s.tracker.Counts()
			s.statsMu.Unlock()
			return m, nil
		}
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			s.gotFrame()
			fe.Offset += s.base
			s.statsMu.Lock()
			if s.past.ByFailure == nil {
				s.past.ByFailure = map[smarty.Failure]int64{}
			}
			s.past.ByFailure[fe.Failure()]++
			s.statsMu.Unlock()
			return nil, err
		}
		// The device failed, the watchdog closed it, ctx is done or
		// the Stream was closed: drop this connection.
		timedOut := s.drop()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.isClosed() {
			return nil, ErrClosed
		}
		if err == io.EOF && !timedOut {
			return nil, io.EOF // the end of a file
		}
		if timedOut {
			s.lost(fmt.Errorf("no complete frame from %s for %s: closing it", s.cfg.Device, s.timeout), true)
		} else {
			s.lost(err, false)
		}
		if err := s.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// connect opens the device, retrying with backoff until it opens or ctx is
// done.
func (s *Stream) connect(ctx context.Context) error {
	for {
		src, err := s.cfg.Open(ctx, s.cfg.Device)
		if err == nil {
			s.attach(src)
			if s.isClosed() {
				src.Close()
				return ErrClosed
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !s.everOpened && unworkable(err) {
			return err
		}
		s.lost(err, false)
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
}

// unworkable reports whether an error of the first open means that
// waiting will not help: the user has to change something.
func unworkable(err error) bool {
	return errors.Is(err, p1.ErrNotSerial) ||
		errors.Is(err, p1.ErrInvalidDevice) ||
		errors.Is(err, p1.ErrBusy) ||
		errors.Is(err, fs.ErrPermission)
}

// attach starts reading src.
func (s *Stream) attach(src io.ReadCloser) {
	s.reader = s.cfg.NewReader(src)
	s.mu.Lock()
	s.src = src
	if s.timeout > 0 {
		s.wd = NewWatchdog(s.timeout, s.bark)
	}
	s.mu.Unlock()
	s.statsMu.Lock()
	s.past.Opens++
	s.cur = smarty.Stats{}
	s.statsMu.Unlock()
	if !s.everOpened {
		s.everOpened = true
		s.infof("reading %s", s.cfg.Device)
	} else {
		s.debugf("reopened %s", s.cfg.Device)
	}
}

// bark is the watchdog's: it closes the silent device, which makes the
// blocked read return.
func (s *Stream) bark() {
	s.statsMu.Lock()
	s.past.Timeouts++
	s.statsMu.Unlock()
	s.closeSource()
}

// closeSource closes the device, if open; the reader's next read fails.
func (s *Stream) closeSource() {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src != nil {
		src.Close()
	}
}

// drop closes the current connection and folds its counts into the
// Stream's. It reports whether the watchdog had fired.
func (s *Stream) drop() (timedOut bool) {
	s.mu.Lock()
	src, wd := s.src, s.wd
	s.src, s.wd = nil, nil
	s.mu.Unlock()
	if wd != nil {
		timedOut = wd.Stop()
	}
	if src != nil {
		src.Close()
	}
	st := s.reader.Stats()
	s.base += st.BytesRead
	s.reader = nil
	s.statsMu.Lock()
	s.past.Telegrams += st.Frames
	s.past.Failed += st.Errors
	s.past.BytesRead += st.BytesRead
	s.past.Skipped += st.Skipped
	s.cur = smarty.Stats{}
	s.statsMu.Unlock()
	return timedOut
}

// gotFrame notes a complete frame, good or bad: the device works.
func (s *Stream) gotFrame() {
	s.mu.Lock()
	if s.wd != nil {
		s.wd.Kick()
	}
	s.mu.Unlock()
	if !s.down {
		return
	}
	d := time.Since(s.downSince)
	attempts := s.backoff.Attempts()
	s.down = false
	s.backoff.Reset()
	s.statsMu.Lock()
	s.past.Down += d
	s.down0 = time.Time{}
	s.statsMu.Unlock()
	s.infof("%s is back: frames again after %s without them (%d %s)", s.cfg.Device, d.Round(time.Millisecond), attempts, plural(attempts, "retry", "retries"))
}

// lost notes a failure: a read error, a failed open, a watchdog timeout.
// Only the first failure of an outage is logged as a warning.
func (s *Stream) lost(err error, timedOut bool) {
	s.statsMu.Lock()
	s.past.Failures++
	s.statsMu.Unlock()
	if s.down {
		s.debugf("%v", err)
		return
	}
	s.down = true
	s.downSince = time.Now()
	s.statsMu.Lock()
	s.down0 = s.downSince
	s.statsMu.Unlock()
	lo, hi := s.backoffBounds()
	s.warnf("%v; reopening it, retrying every %s to %s until it is back", err, lo, hi)
}

func (s *Stream) backoffBounds() (lo, hi time.Duration) {
	lo, hi = s.cfg.Backoff.Min, s.cfg.Backoff.Max
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	return lo, max(lo, hi)
}

// wait waits before the next attempt to open the device.
func (s *Stream) wait(ctx context.Context) error {
	d := s.backoff.Next()
	s.debugf("opening %s again in %s (attempt %d)", s.cfg.Device, d, s.backoff.Attempts())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the device, makes a pending or later Next return
// ErrClosed, and logs the summary. It may be called from any goroutine;
// calls after the first do nothing.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	src := s.src
	s.mu.Unlock()
	var err error
	if src != nil {
		err = src.Close()
	}
	s.infof("%s at exit: %s", s.cfg.Device, s.Stats())
	return err
}

// Stats returns the counts so far.
func (s *Stream) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.past
	st.ByFailure = maps.Clone(s.past.ByFailure)
	st.Telegrams += s.cur.Frames
	st.Failed += s.cur.Errors
	st.BytesRead += s.cur.BytesRead
	st.Skipped += s.cur.Skipped
	if !s.down0.IsZero() {
		st.Down += time.Since(s.down0)
	}
	return st
}

// ReportEvery logs the Stats through Infof every interval until ctx is
// done or the Stream is closed. Run it in a goroutine of its own.
func (s *Stream) ReportEvery(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultReportInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.infof("%s: %s", s.cfg.Device, s.Stats())
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
