package p1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/backoff"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// DefaultTimeout is how long a device may stay silent, delivering no
// complete frame, before a [Stream] closes and reopens it: three of the
// meter's 10-second intervals.
const DefaultTimeout = 30 * time.Second

// Config says what a [Stream] reads and how it reports. Only Device is
// required.
type Config struct {
	// Device is what to read, as [Open] takes it: a serial port,
	// tcp://host:port, a file.
	Device string
	// Cipher decrypts the meter's frames. With none, plain telegrams are
	// read and encrypted frames end the Stream with a [*KeyError]
	// wrapping [ErrNoKey].
	Cipher *smarty.Cipher
	// AllowUnauthenticated is [smarty.Reader.AllowUnauthenticated].
	AllowUnauthenticated bool
	// AllowPlain is [smarty.Reader.AllowPlain]: with a Cipher, plain
	// telegrams are refused (a [*smarty.FrameError] of class "plain")
	// unless it is set.
	AllowPlain bool
	// Location is [smarty.Reader.Location], the time zone of the meter's
	// clock; nil is Luxembourg's.
	Location *time.Location
	// Wait makes a device that is not there at the start be waited for,
	// as one that goes away later is. Without it, [NewStream] opens the
	// device once and returns the error, which is what a person who
	// starts a program by hand wants to hear; a service wants Wait.
	Wait bool
	// Timeout is how long the device may deliver no complete frame
	// before it is closed and reopened: [DefaultTimeout] when 0, never
	// when negative.
	Timeout time.Duration
	// NoByteAfter and NoFrameAfter are how long the first connection may
	// bring no byte at all, or bytes but no frame, before the Logger is
	// told at Warn what that likely means (the P1 port not opened yet,
	// the wrong port or a cable out of its socket; an inverted signal,
	// the wrong speed, not a P1 port), while reading goes on: 5 s and
	// 25 s when 0, so that both come before the watchdog's
	// DefaultTimeout; never when negative. Neither applies to a file.
	NoByteAfter, NoFrameAfter time.Duration
	// MinBackoff and MaxBackoff bound the waits between attempts to open
	// the device: the wait doubles from MinBackoff (1 s when 0) up to
	// MaxBackoff (30 s when 0).
	MinBackoff, MaxBackoff time.Duration
	// Logger gets what a person watching would want to know: the device
	// opened, lost (the first failure of an outage, at Warn; each retry
	// at Debug) and back (Info), a silent device, a key that looks
	// wrong, the frame counter's anomalies (rate-limited), and on a
	// first run the likely causes of a device that sends nothing or no
	// frame. Frames that fail are not logged: Next returns them. nil
	// discards.
	Logger *slog.Logger
	// Link, when set, is called when the link to the meter changes
	// state (see [LinkState]): telegrams flow, the meter went silent
	// past Timeout, the device is gone. It is called from the Stream's
	// goroutines, one call at a time, in order; it must return quickly
	// and must not call the Stream's Close.
	Link func(LinkState)

	// open opens Device; nil means Open. Tests replace it.
	open func(ctx context.Context, device string) (io.ReadCloser, error)
}

// LinkState is the state of the link to the meter.
type LinkState int

// The states of the link, as [Config.Link] learns them.
const (
	// LinkWaiting: no telegram yet.
	LinkWaiting LinkState = iota
	// LinkUp: telegrams flow.
	LinkUp
	// LinkSilent: the device delivered no complete frame for
	// Config.Timeout; the last readings are stale. The device is being
	// reopened.
	LinkSilent
	// LinkDown: the device is gone (unplugged, the adapter closed the
	// connection, it cannot be opened) and is being reopened.
	LinkDown
)

var linkNames = [...]string{LinkWaiting: "waiting", LinkUp: "up", LinkSilent: "silent", LinkDown: "down"}

// String returns "waiting", "up", "silent" or "down".
func (s LinkState) String() string {
	if s >= 0 && int(s) < len(linkNames) {
		return linkNames[s]
	}
	return fmt.Sprintf("LinkState(%d)", int(s))
}

// Stream reads telegrams from a meter for as long as it runs, healing
// what goes wrong on the way: it opens the device, reads it with a
// [smarty.Reader], and when the device goes away (a USB cable unplugged, a
// network adapter that closes or resets the connection, a device that is
// not there yet) it closes it, waits with capped exponential backoff and
// opens it again, for as long as it takes. A watchdog closes and reopens
// a device that stays open but delivers no complete frame for
// [Config.Timeout]. It follows the frame counter with a [smarty.Tracker]
// and counts everything in [Stats].
//
// The Stream's lifetime is set when it is made and ends with Close: the
// context given to Next bounds that call only. A call that gives up (a
// per-call timeout) leaves the connection open, and the telegram it was
// waiting for is returned by the next call.
//
// Two rules end a Stream whose frames can never decode. Before the first
// telegram, when three frames from one system title fail authentication,
// the key is wrong; when three come encrypted and there is no key, one is
// needed. Next then returns a [*KeyError]. Frames from system titles seen
// once (noise from a bad adapter looks like a frame now and then) never
// end the Stream.
//
// Next must be called from one goroutine at a time; Close, Stats and the
// Link callback's goroutine may be any.
type Stream struct {
	cfg     Config
	log     *slog.Logger
	timeout time.Duration
	life    context.Context // the Stream's lifetime, cancelled by Close
	cancel  context.CancelFunc

	// Next and the worker goroutine. Next asks for results (reqs) when
	// the worker waits: at the start, and after each telegram, whose
	// memory the worker may not touch until Next is called again. Frame
	// errors hold none of it, so the worker reads on after one, results
	// buffering up to resultBuffer.
	reqs    chan struct{}
	results chan result
	done    chan struct{} // closed when the worker has returned
	final   error         // the worker's last error, sticky; read after done
	needReq bool          // the worker waits for a request (Next's goroutine)

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex    // guards the fields below
	closed  bool          //
	src     io.ReadCloser // the open device, nil between connections
	wd      *time.Timer   // the watchdog, made at its first arming
	wdOn    bool          // its timer runs
	armed   bool          // a read is going on, watched
	armedAt time.Time     // since when
	barked  bool          // the watchdog closed src
	diag    []*time.Timer // the first run's diagnostics
	everOut bool          // a frame, good or bad, has come

	linkMu sync.Mutex
	link   LinkState

	bytes atomic.Int64 // bytes read from every connection

	// Owned by the worker.
	reader     *smarty.Reader
	base       int64 // stream offset of the current reader's first byte
	tracker    smarty.Tracker
	keys       keyRule
	everOpened bool
	down       bool // an outage is going on
	downSince  time.Time
	backoff    backoff.Backoff
	events     limiter

	statsMu sync.Mutex
	past    Stats        // counts, without the current reader's
	cur     smarty.Stats // the current reader's counts
	outage  time.Time    // start of the outage going on, for Stats.Down
}

type result struct {
	m   *smarty.Message
	err error
}

// NewStream returns a Stream of cfg.Device that runs until Close. Unless
// cfg.Wait is set, it opens the device before it returns, and an error
// (a [*DeviceError]) means there is no Stream; ctx bounds that opening
// only. Otherwise it returns at once, and the device is opened, and
// waited for, in the background.
func NewStream(ctx context.Context, cfg Config) (*Stream, error) {
	s := &Stream{
		cfg:     cfg,
		log:     cfg.Logger,
		timeout: cfg.Timeout,
		reqs:    make(chan struct{}),
		results: make(chan result, resultBuffer),
		needReq: true,
		done:    make(chan struct{}),
		backoff: backoff.Backoff{Min: cfg.MinBackoff, Max: cfg.MaxBackoff},
		events:  limiter{burst: eventBurst, interval: eventInterval},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.open == nil {
		s.cfg.open = func(ctx context.Context, device string) (io.ReadCloser, error) { return Open(ctx, device) }
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if !cfg.Wait {
		src, err := s.cfg.open(ctx, cfg.Device)
		if err != nil {
			return nil, err
		}
		s.attach(src)
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	go s.work()
	return s, nil
}

// Next returns the next telegram. The Message belongs to the Stream and
// is overwritten by the next call ([smarty.Telegram.Clone] makes a copy
// to keep); its Offset counts the bytes read from the device since the
// Stream began, across reconnects.
//
// A [*smarty.FrameError] means one frame was bad and skipped (a frame cut
// by a reconnect is reported as cut short): call Next again. ctx's error
// means this call gave up; the Stream goes on, and the next call returns
// what this one waited for. Any other error ends the Stream and is
// returned again by every later call: [io.EOF] when the device is a file
// that has ended, a [*KeyError] for a wrong or missing key, an error
// wrapping [fs.ErrClosed] after Close, or the error of the first attempt
// to open a device that cannot work as given (not a serial port,
// permission denied, busy, a malformed name). A device that is merely
// absent, or goes away, is waited for.
func (s *Stream) Next(ctx context.Context) (*smarty.Message, error) {
	if s.isClosed() {
		return nil, s.closedError()
	}
	if s.needReq {
		select {
		case s.reqs <- struct{}{}:
			s.needReq = false
		case <-s.done:
			return nil, s.end()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case r := <-s.results:
		return s.deliver(r)
	case <-s.done:
		// The results read before the end come first.
		select {
		case r := <-s.results:
			return s.deliver(r)
		default:
			return nil, s.end()
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// deliver returns a result of the worker from Next.
func (s *Stream) deliver(r result) (*smarty.Message, error) {
	if r.err == nil {
		s.needReq = true // the worker waits until Next is done with it
	}
	if s.isClosed() {
		// What a read that Close cut short made of its bytes.
		return nil, s.closedError()
	}
	return r.m, r.err
}

// end is the error of Next once the worker has returned.
func (s *Stream) end() error {
	if s.isClosed() || s.final == nil {
		return s.closedError()
	}
	return s.final
}

func (s *Stream) closedError() error {
	return fmt.Errorf("p1: stream of %s closed: %w", s.cfg.Device, fs.ErrClosed)
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the device, makes a pending or later Next return an error
// wrapping [fs.ErrClosed], stops every timer and goroutine of the Stream,
// and logs its counts at Info. It may be called from any goroutine; calls
// after the first do nothing and return the first one's error.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		src := s.src
		s.stopWatchdog()
		for _, t := range s.diag {
			t.Stop()
		}
		s.mu.Unlock()
		s.cancel()
		if src != nil {
			s.closeErr = src.Close()
		}
		<-s.done
		held := ""
		if n := s.events.suppressed; n > 0 {
			held = fmt.Sprintf(" (%d more frame counter events were not logged)", n)
		}
		s.log.Info(fmt.Sprintf("%s at exit: %s%s", s.cfg.Device, s.Stats(), held))
	})
	return s.closeErr
}

// Stats returns the counts so far.
func (s *Stream) Stats() Stats {
	s.statsMu.Lock()
	st := s.past
	st.ByFailure = maps.Clone(s.past.ByFailure)
	st.Telegrams += s.cur.Frames
	st.Failed += s.cur.Errors
	st.BytesRead += s.cur.BytesRead
	st.Skipped += s.cur.Skipped
	if !s.outage.IsZero() {
		st.Down += time.Since(s.outage)
	}
	s.statsMu.Unlock()
	s.linkMu.Lock()
	st.Link = s.link
	s.linkMu.Unlock()
	return st
}

// resultBuffer bounds the frame errors the worker reads ahead of Next.
const resultBuffer = 64

// work is the Stream's goroutine: it reads results for Next, until Close
// or an error that ends the Stream. After a telegram it waits for Next to
// ask again; after a frame error it reads on.
func (s *Stream) work() {
	defer close(s.done)
	defer s.drop()
	for {
		select {
		case <-s.reqs:
		case <-s.life.Done():
			return
		}
		for {
			m, err := s.next()
			select {
			case s.results <- result{m, err}:
			case <-s.life.Done():
				return
			}
			if err == nil {
				break // a telegram: its memory is Next's until it asks again
			}
			if _, ok := err.(*smarty.FrameError); !ok {
				s.final = err
				return
			}
		}
	}
}

// next reads the next result, opening and reopening the device as
// needed.
func (s *Stream) next() (*smarty.Message, error) {
	for {
		if s.life.Err() != nil {
			return nil, s.closedError()
		}
		if s.reader == nil {
			if err := s.connect(); err != nil {
				return nil, err
			}
		}
		s.armWatchdog()
		m, err := s.reader.Next()
		s.disarmWatchdog()
		s.statsMu.Lock()
		s.cur = s.reader.Stats()
		s.statsMu.Unlock()
		if err == nil {
			s.gotFrame()
			s.gotTelegram(m)
			return m, nil
		}
		if fe, ok := err.(*smarty.FrameError); ok {
			s.gotFrame()
			fe.Offset += s.base
			f := fe.Failure()
			s.statsMu.Lock()
			if s.past.ByFailure == nil {
				s.past.ByFailure = map[smarty.Failure]int64{}
			}
			s.past.ByFailure[f]++
			s.statsMu.Unlock()
			if kerr := s.keys.failed(s, fe, f); kerr != nil {
				return nil, kerr
			}
			return nil, err
		}
		// The device failed, the watchdog closed it, or the Stream was
		// closed: drop this connection.
		timedOut := s.drop()
		if s.life.Err() != nil {
			return nil, s.closedError()
		}
		if err == io.EOF && !timedOut {
			return nil, io.EOF // the end of a file
		}
		if timedOut {
			s.lost(fmt.Errorf("no complete frame from %s for %s%s: closing it", s.cfg.Device, s.timeout, s.silenceHint()), true)
		} else {
			s.lost(err, false)
		}
		if err := s.wait(); err != nil {
			return nil, err
		}
	}
}

// gotTelegram notes a telegram: offsets, the tracker, the link.
func (s *Stream) gotTelegram(m *smarty.Message) {
	m.Offset += s.base
	s.keys.decoded = true
	if m.Skipped > 0 {
		s.log.Debug(fmt.Sprintf("skipped %d bytes before byte %d that were not a frame (the end of a frame the reading started in, or noise on the line)", m.Skipped, m.Offset))
	}
	for _, e := range s.tracker.Observe(m) {
		if n, ok := s.events.allow(time.Now()); ok {
			if n > 0 {
				s.log.Warn(fmt.Sprintf("%d more frame counter or meter identity events in the last %s were not logged", n, eventInterval))
			}
			s.log.Warn(fmt.Sprintf("%s (telegram at byte %d)", e, e.Offset))
		} else {
			s.log.Debug(fmt.Sprintf("%s (telegram at byte %d)", e, e.Offset))
		}
	}
	s.statsMu.Lock()
	s.past.Tracker = s.tracker.Counts()
	s.past.LastTelegram = time.Now()
	s.statsMu.Unlock()
	s.setLink(LinkUp)
}

// connect opens the device, retrying with backoff until it opens or the
// Stream is closed.
func (s *Stream) connect() error {
	for {
		src, err := s.cfg.open(s.life, s.cfg.Device)
		if err == nil {
			s.attach(src)
			if s.isClosed() {
				return s.closedError()
			}
			return nil
		}
		if s.life.Err() != nil {
			return s.closedError()
		}
		if !s.everOpened && unworkable(err) {
			return err
		}
		s.lost(err, false)
		if err := s.wait(); err != nil {
			return err
		}
	}
}

// unworkable reports whether an error of the first open means that
// waiting will not help: the user has to change something.
func unworkable(err error) bool {
	return errors.Is(err, ErrNotSerial) ||
		errors.Is(err, ErrInvalidDevice) ||
		errors.Is(err, ErrBusy) ||
		errors.Is(err, fs.ErrPermission)
}

// attach starts reading src.
func (s *Stream) attach(src io.ReadCloser) {
	file := false
	if ps, ok := src.(*Source); ok {
		file = ps.kind == kindFile
	}
	s.reader = smarty.NewReader(&counter{src, &s.bytes}, s.cfg.Cipher)
	s.reader.AllowUnauthenticated = s.cfg.AllowUnauthenticated
	s.reader.AllowPlain = s.cfg.AllowPlain
	s.reader.Location = s.cfg.Location
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		src.Close()
		return
	}
	s.src = src
	first := !s.everOpened
	if first && !file {
		s.startDiagnostics()
	}
	s.mu.Unlock()
	s.statsMu.Lock()
	s.past.Opens++
	s.cur = smarty.Stats{}
	s.statsMu.Unlock()
	switch {
	case first && file:
		s.log.Info(fmt.Sprintf("reading %s, a file (not a serial port): its frames, then the end", s.cfg.Device))
	case first:
		s.log.Info(fmt.Sprintf("reading %s", s.cfg.Device))
	default:
		s.log.Debug(fmt.Sprintf("reopened %s", s.cfg.Device))
	}
	s.everOpened = true
}

// drop closes the current connection, if any, and folds its counts into
// the Stream's. It reports whether the watchdog had closed it.
func (s *Stream) drop() (timedOut bool) {
	s.mu.Lock()
	src := s.src
	s.src = nil
	timedOut, s.barked = s.barked, false
	s.mu.Unlock()
	if src != nil {
		src.Close()
	}
	if s.reader == nil {
		return timedOut
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
	s.everOut = true
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
	s.outage = time.Time{}
	s.statsMu.Unlock()
	s.log.Info(fmt.Sprintf("%s is back: frames again after %s without them (%d %s)", s.cfg.Device, d.Round(time.Millisecond), attempts, plural(attempts, "retry", "retries")))
}

// lost notes a failure: a read error, a failed open, a watchdog timeout.
// Only the first failure of an outage is logged as a warning; the rest
// are at Debug.
func (s *Stream) lost(err error, timedOut bool) {
	s.statsMu.Lock()
	s.past.Losses++
	s.statsMu.Unlock()
	if !timedOut {
		s.setLink(LinkDown)
	}
	if s.down {
		s.log.Debug(err.Error())
		return
	}
	s.down = true
	s.downSince = time.Now()
	s.statsMu.Lock()
	s.outage = s.downSince
	s.statsMu.Unlock()
	lo, hi := s.backoff.Bounds()
	s.log.Warn(fmt.Sprintf("%v; reopening it, retrying every %s to %s until it is back", err, lo, hi))
}

// wait waits before the next attempt to open the device.
func (s *Stream) wait() error {
	d := s.backoff.Next()
	s.log.Debug(fmt.Sprintf("opening %s again in %s (attempt %d)", s.cfg.Device, d, s.backoff.Attempts()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.life.Done():
		return s.closedError()
	}
}

// setLink moves the link to state st and tells Config.Link.
func (s *Stream) setLink(st LinkState) {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	if s.link == st {
		return
	}
	s.link = st
	if s.cfg.Link != nil {
		s.cfg.Link(st)
	}
}

// The watchdog is armed while the worker waits in the Reader for a frame,
// and disarmed when one comes: a Stream whose caller is slow to call Next
// again does not time out. It is one timer, which does not follow every
// frame: arming notes the time, and when the timer fires it looks at how
// long the read in force has waited, and sets itself again for the rest
// if that is not the whole timeout. So a timer that fired while its frame
// came (its bark running after the next read has begun, on this connection
// or the next) closes nothing: a late watchdog can never close the next
// connection. Close stops it for good.

func (s *Stream) armWatchdog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timeout < 0 || s.closed || s.src == nil {
		return
	}
	s.armed, s.armedAt = true, time.Now()
	switch {
	case s.wd == nil:
		s.wd = time.AfterFunc(s.timeout, s.bark)
	case !s.wdOn:
		s.wd.Reset(s.timeout)
	}
	s.wdOn = true
}

func (s *Stream) disarmWatchdog() {
	s.mu.Lock()
	s.armed = false
	s.mu.Unlock()
}

// stopWatchdog stops the watchdog for good; s.mu is held.
func (s *Stream) stopWatchdog() {
	s.armed = false
	if s.wd != nil {
		s.wd.Stop()
	}
}

// bark is the watchdog's: it closes the silent device, which makes the
// blocked read return, when the read in force has waited the whole
// timeout.
func (s *Stream) bark() {
	s.mu.Lock()
	s.wdOn = false
	if !s.armed || s.closed || s.src == nil {
		s.mu.Unlock()
		return
	}
	if waited := time.Since(s.armedAt); waited < s.timeout {
		s.wd.Reset(s.timeout - waited)
		s.wdOn = true
		s.mu.Unlock()
		return
	}
	s.armed, s.barked = false, true
	s.src.Close()
	s.mu.Unlock()
	s.statsMu.Lock()
	s.past.Timeouts++
	s.statsMu.Unlock()
	s.setLink(LinkSilent)
}

// counter counts the bytes read through it.
type counter struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
