package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// A Reading is one telegram as the outputs get it. It is immutable once
// handed over: outputs may keep it, and share it across goroutines, but
// must not modify it.
type Reading struct {
	// Received is when the loop got the telegram, by the process clock.
	Received time.Time
	// Message is the telegram with its envelope. Message.Telegram is a
	// copy with memory of its own, valid for as long as the Reading is
	// kept.
	Message smarty.Message
	// MeterID is the meter's identity by the one rule every output
	// shares: see MeterID.
	MeterID string
	// Quarter is the current quarter-hour against the reference power as
	// of this telegram (energy so far, projection, margin, excess, the
	// warning), nil without one (-refPower). LoopConfig.Annotate fills
	// it in before any output sees the Reading.
	Quarter *quarter.Status

	json     []byte // JSON's, and a newline; made once, by jsonOnce
	jsonOnce sync.Once
}

// JSON returns the telegram as one JSON object in the contract of
// -format json (format.AppendMessage: the envelope, the objects, their
// units and times in the telegram's zone), without a newline. It is made
// at the first call, by whichever output asks first, and shared by all
// the outputs that send it (standard output, MQTT's telegram topic, the
// HTTP API and its events), so that a telegram's JSON is made once
// whatever the outputs. It is safe to call from any goroutine; the slice
// must not be modified.
func (r *Reading) JSON() []byte {
	b := r.jsonLine()
	return b[: len(b)-1 : len(b)-1]
}

// jsonLine returns JSON's and a newline, as the Printer writes it.
func (r *Reading) jsonLine() []byte {
	r.jsonOnce.Do(func() {
		// A telegram's JSON is four to eight times its size.
		b := make([]byte, 0, 8*len(r.Message.Telegram.Bytes())+256)
		r.json = append(format.AppendMessage(b, &r.Message), '\n')
	})
	return r.json
}

// LinkState is the state of the link to the meter, as the outputs learn
// it: an output that publishes availability (MQTT, the metrics' up gauge)
// follows it. It is the Stream's own ([p1.LinkState]): the loop passes
// on what the Stream says (SetLink), and says LinkUp at each telegram and
// LinkSilent after LoopConfig.Silence without one.
type LinkState = p1.LinkState

// The states of the link.
const (
	LinkWaiting = p1.LinkWaiting // no telegram yet
	LinkUp      = p1.LinkUp      // telegrams flow
	LinkSilent  = p1.LinkSilent  // none for the watchdog's timeout: the last readings are stale
	LinkDown    = p1.LinkDown    // the device is gone and is being reopened
)

// Output is where the loop hands each telegram: standard output, an MQTT
// broker, a TCP feed, an HTTP server.
//
// Reading and Link are called on the loop's goroutine, one at a time and
// in order, from the first call of Run until the context given to Run is
// done. They must return quickly: an output that talks to a network peer
// queues and lets Run do the talking, so that one slow peer never delays
// the meter nor the other outputs.
type Output interface {
	// Reading hands over one telegram. r must not be modified.
	Reading(r *Reading)
	// Link says that the link to the meter changed state.
	Link(s LinkState)
	// Run runs the output until ctx is done, then flushes what it can and
	// returns. A Run that returns before ctx is done ends the loop, with
	// its error.
	Run(ctx context.Context) error
}

// Drainer is an Output that can wait until what it was handed is
// delivered (an MQTT broker has acknowledged it). At the end of the input
// (-count telegrams, the end of a file) the loop calls Drain before it
// stops the outputs; Drain returns when all is delivered or ctx is done.
type Drainer interface {
	Drain(ctx context.Context) error
}

// Source is what the loop reads telegrams from: a *p1.Stream. Next returns
// a *smarty.FrameError for a frame that was skipped, and any other error
// at the end: ctx's error, io.EOF at the end of a file, an error wrapping
// fs.ErrClosed, a *p1.KeyError, or the device's error. The Message may be overwritten by the next call.
type Source interface {
	Next(ctx context.Context) (*smarty.Message, error)
}

// LoopConfig says how a Loop reads and reports.
type LoopConfig struct {
	// Device names the device in messages.
	Device string
	// Count stops the loop after this many telegrams (0: never).
	Count int
	// Silence is how long without a telegram makes the link LinkSilent
	// (the watchdog's timeout); 0 or less: never.
	Silence time.Duration
	// Log gets the frames that failed (the first few of an interval in
	// full at Warn, the rest counted; each at Debug), the first frame that
	// fails authentication, the end of a file, and the lines left out of
	// telegrams whose CRC vouches for the rest (dsmr.Telegram.LineErrors:
	// at Warn, once per identification line and line); nil discards.
	Log *slog.Logger
	// Describe turns an error of a skipped frame into the line logged for
	// it; the command layer adds what the user should do. nil: Error().
	Describe func(error) string
	// FailureInterval is the interval of the failure log (default
	// DefaultFailureInterval), FailureBurst how many failures an interval
	// logs in full (default DefaultFailureBurst).
	FailureInterval time.Duration
	FailureBurst    int
	// Annotate, when set, is called with each Reading before any output
	// sees it: internal/quarterlive attaches the quarter-hour figures
	// there (Reading.Quarter).
	Annotate func(r *Reading)
}

// Loop reads a Source and feeds its outputs. Make one with NewLoop, add
// outputs with Add, and call Run once.
type Loop struct {
	src     Source
	cfg     LoopConfig
	outputs []Output
	log     *slog.Logger
	links   chan LinkState
}

// NewLoop returns a Loop that reads src.
func NewLoop(src Source, cfg LoopConfig) *Loop {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Describe == nil {
		cfg.Describe = func(err error) string { return err.Error() }
	}
	return &Loop{src: src, cfg: cfg, log: log, links: make(chan LinkState, 8)}
}

// Add adds an output. It must be called before Run.
func (l *Loop) Add(o Output) { l.outputs = append(l.outputs, o) }

// SetLink tells the loop that the source's link changed state (a Stream
// that lost its device says LinkDown). It may be called from any
// goroutine; the outputs learn it on the loop's goroutine.
func (l *Loop) SetLink(s LinkState) {
	select {
	case l.links <- s:
	default: // the loop is behind; the next telegram says LinkUp anyway
	}
}

// item is what the reading goroutine hands the loop.
type item struct {
	r   *Reading
	err error
}

// Run starts every output, reads until ctx is done, Count telegrams, the
// end of a file, a wrong key, an output that fails or a device that
// cannot work, then stops the outputs and waits for them. It returns nil
// for ctx done, Count reached or the end of a file; otherwise the error
// of the first output that failed, or the error that ended reading
// (a *p1.KeyError for a wrong or missing key, the device's error).
func (l *Loop) Run(ctx context.Context) error {
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	outCtx, stopOut := context.WithCancel(context.Background())
	defer stopOut()

	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		outErr error
	)
	for _, o := range l.outputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := o.Run(outCtx)
			if err == nil && outCtx.Err() == nil {
				err = errors.New("live: an output stopped before the loop")
			}
			if err != nil {
				errMu.Lock()
				if outErr == nil {
					outErr = err
				}
				errMu.Unlock()
				stopRead() // one output failing ends reading
			}
		}()
	}

	readErr := l.read(readCtx)
	stopOut()
	wg.Wait()
	if outErr != nil {
		return outErr
	}
	return readErr
}

// read runs the loop proper until reading ends; it drains the outputs at
// the end of the input.
func (l *Loop) read(ctx context.Context) error {
	items := make(chan item)
	nextCtx, stopNext := context.WithCancel(ctx)
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		l.pump(nextCtx, items)
	}()
	defer func() {
		stopNext()
		readers.Wait()
	}()

	var silence *time.Timer
	var silenceC <-chan time.Time
	if l.cfg.Silence > 0 {
		silence = time.NewTimer(l.cfg.Silence)
		defer silence.Stop()
		silenceC = silence.C
	}
	state := LinkWaiting
	setLink := func(s LinkState) {
		if s == state {
			return
		}
		state = s
		for _, o := range l.outputs {
			o.Link(s)
		}
	}
	fails := newFailureLog(l.log, l.cfg.FailureInterval, l.cfg.FailureBurst, l.cfg.Describe)
	defer fails.flush()
	lines := newLineLog(l.log, l.cfg.Device)
	n := 0
	for {
		var it item
		select {
		case <-ctx.Done():
			return nil
		case s := <-l.links:
			setLink(s)
			continue
		case <-silenceC:
			setLink(LinkSilent)
			continue
		case it = <-items:
		}
		if it.err != nil {
			var fe *smarty.FrameError
			if errors.As(it.err, &fe) {
				fails.add(fe)
				continue
			}
			if ctx.Err() != nil || errors.Is(it.err, fs.ErrClosed) {
				return nil
			}
			if it.err == io.EOF {
				l.log.Info(fmt.Sprintf("%s has ended", l.cfg.Device))
				return l.drain(ctx)
			}
			return it.err
		}
		if silence != nil {
			silence.Reset(l.cfg.Silence)
		}
		setLink(LinkUp)
		lines.add(it.r)
		if l.cfg.Annotate != nil {
			l.cfg.Annotate(it.r)
		}
		for _, o := range l.outputs {
			o.Reading(it.r)
		}
		n++
		if l.cfg.Count > 0 && n >= l.cfg.Count {
			return l.drain(ctx)
		}
	}
}

// pump reads the source and hands each result to the loop, a telegram as
// a Reading of its own, until ctx is done or the source ends.
func (l *Loop) pump(ctx context.Context, items chan<- item) {
	for {
		m, err := l.src.Next(ctx)
		var it item
		if err != nil {
			it.err = err
		} else {
			it.r = NewReading(m, time.Now())
		}
		select {
		case items <- it:
		case <-ctx.Done():
			return
		}
		var fe *smarty.FrameError
		if err != nil && !errors.As(err, &fe) {
			return // the end
		}
	}
}

// drain waits until every Drainer has delivered what it was handed.
func (l *Loop) drain(ctx context.Context) error {
	for _, o := range l.outputs {
		if d, ok := o.(Drainer); ok {
			if err := d.Drain(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
	return nil
}

// NewReading returns the Reading of m received at t: a copy that stays
// valid when m is overwritten.
func NewReading(m *smarty.Message, t time.Time) *Reading {
	r := &Reading{Received: t, Message: *m}
	r.Message.Telegram = *m.Telegram.Clone()
	r.MeterID = MeterID(m)
	return r
}

// MeterID is the one rule for a meter's identity: the meter id its
// telegram gives (0-0:42.0.0, or 0-0:96.1.1 on Dutch and Belgian meters),
// else the system title of an encrypted frame, else "".
func MeterID(m *smarty.Message) string {
	return MeterIDOf(&m.Telegram, m.Encrypted, m.Header.SystemTitle)
}

// MeterIDOf is MeterID for a telegram kept apart from its envelope (a
// queue record): title counts only when encrypted.
func MeterIDOf(t *dsmr.Telegram, encrypted bool, title smarty.SystemTitle) string {
	if id := t.MeterID(); id != "" {
		return id
	}
	if encrypted {
		return title.String()
	}
	return ""
}
