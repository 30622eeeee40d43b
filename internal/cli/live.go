package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang/glog"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/quarterlive"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// What the live commands (OnlineDecryption, MQTTPublisher) share: their
// common flags, -list, how a device error or a bad frame reaches the user,
// the Stream's configuration, and telling a wrong key from a damaged frame.

// LiveFlags are the flags of a command that reads a meter live: the key
// flags (with -allowUnauthenticated), -device and -list, -count, the
// watchdog's -timeout, and the quarter-hour guard's -refPower and
// -excessPrice.
type LiveFlags struct {
	*KeyFlags
	*DeviceFlags
	Count   *int
	Timeout *time.Duration
	Quarter *quarterlive.Flags
	// Wait is -wait, for a command that has it (AddWaitFlag); nil for a
	// service, which always waits for its device.
	Wait *bool
	// OnStream, when set, is called by RunLive with the Stream it reads,
	// before the loop starts: an output that shows the link's counts (the
	// gateway's metrics and page) keeps it to call Stats.
	OnStream func(*p1.Stream)
}

// AddWaitFlag adds -wait: without it the device is opened once at start,
// so that a device that is not there is one clear error.
func (l *LiveFlags) AddWaitFlag(fs *flag.FlagSet) {
	l.Wait = fs.Bool("wait", false, "wait for a device that is not there yet at start (a service started before the\nUSB cable or the network adapter is ready) instead of stopping with an error")
}

// AddLiveFlags adds the flags of LiveFlags to fs; countUsage is the help
// text of -count.
func AddLiveFlags(fs *flag.FlagSet, countUsage string) *LiveFlags {
	return &LiveFlags{
		KeyFlags:    AddKeyFlags(fs, true),
		DeviceFlags: AddDeviceFlags(fs),
		Count:       AddCountFlag(fs, countUsage),
		Timeout: fs.Duration("timeout", p1.DefaultTimeout,
			"close and reopen a device that delivers no complete frame for this `long` (0: never)"),
		Quarter: quarterlive.AddFlags(fs),
	}
}

// Parse parses args into fs (see Parse) and checks them as a live command
// needs: no arguments left, a -count and a -timeout of 0 or more, and a -device unless
// -list is given. With -list it prints the ports (ListPorts) and returns
// done. c is the cipher of the key, or nil when no key is given: a meter
// whose encryption is switched off needs none, and a warning says that
// only plain telegrams can then be read.
func (l *LiveFlags) Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (c *smarty.Cipher, done bool, err error) {
	if err := Parse(fs, args); err != nil {
		return nil, false, err
	}
	if err := NoArgs(fs); err != nil {
		return nil, false, err
	}
	if err := CheckCount(*l.Count); err != nil {
		return nil, false, err
	}
	if *l.Timeout < 0 {
		return nil, false, Usagef("-timeout %v: must be 0 (never) or more", *l.Timeout)
	}
	if err := l.Quarter.Check(); err != nil {
		return nil, false, &UsageError{Err: err}
	}
	if l.List {
		return nil, true, ListPorts(stdout, stderr, fs.Name())
	}
	if l.Device == "" {
		return nil, false, Usagef("-device is required: the meter's serial port (/dev/ttyUSB0, COM3; -list shows them) or tcp://host:port")
	}
	c, err = l.Cipher()
	if err != nil {
		return nil, false, err
	}
	if c == nil {
		glog.WarningDepth(1, "no key given: only plain telegrams can be read ("+NoKeyHint+")")
	}
	return c, false, nil
}

// ListPorts prints the serial ports of this machine to stdout, one a line,
// for -list. When there is none it says so on stderr, after the command's
// name, with where to look.
func ListPorts(stdout, stderr io.Writer, name string) error {
	ports, err := p1.ListPorts()
	if err != nil {
		return err
	}
	if len(ports) == 0 {
		fmt.Fprintf(stderr, "%s: no serial ports found: is the P1 cable plugged in? (a network adapter is used as -device tcp://host:port)\n", name)
		return nil
	}
	_, err = io.WriteString(stdout, PortLines(ports))
	return err
}

// PortLines is how -list prints ports: one a line, as PortInfo.String
// writes it.
func PortLines(ports []p1.PortInfo) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// DeviceError is what a live command returns for an error of its device:
// a device the user named wrong (not there, permission denied, not a
// serial port, a malformed name) is a *UsageError, exit status 2, and
// anything else a plain error. The library's message says what went
// wrong; for a device that is not there or not a serial port, a hint at
// -list follows it.
func DeviceError(err error) error {
	msg := err.Error()
	if de := (*p1.DeviceError)(nil); errors.As(err, &de) {
		msg = de.Message()
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, p1.ErrNotSerial) {
		msg += " (try -list)"
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, p1.ErrNotSerial) || errors.Is(err, p1.ErrInvalidDevice) {
		return Usagef("%s", msg)
	}
	return errors.New(msg)
}

// FrameMessage is how a live command reports a frame that was skipped
// (a *smarty.FrameError): the error in one line, with what to do when the
// frame was encrypted and no key was given.
func FrameMessage(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, smarty.ErrNoKey):
		msg += ": " + NoKeyHint
	case errors.Is(err, smarty.ErrPlain):
		msg += ": if this meter really sends plain telegrams (its encryption switched off), give -allowPlain"
	}
	return OneLine(msg)
}

// FirstRunWarnings are p1.Config.NoByteAfter and NoFrameAfter for every
// live command: how long a device may send no byte, or bytes but no frame,
// before the log says what that likely means. Zero is the library's 5 s
// and 25 s; tests shorten them so that they do not wait seconds.
var FirstRunWarnings struct{ NoByte, NoFrame time.Duration }

// RetryBackoff is p1.Config.MinBackoff and MaxBackoff for every live
// command: how long it waits before it opens a device again that went
// away. Zero is the library's 1 s doubling up to 30 s; tests shorten them
// so that a reconnection does not wait a second.
var RetryBackoff struct{ Min, Max time.Duration }

// StreamConfig returns the p1.Config of a live command: device, cipher
// c (nil: plain telegrams only), -allowUnauthenticated, -allowPlain, closed and
// reopened when it delivers no complete frame for -timeout (0: never),
// logging through glog (Logger), every retry at -v 1.
func (l *LiveFlags) StreamConfig(c *smarty.Cipher) p1.Config {
	timeout := *l.Timeout
	if timeout == 0 {
		timeout = -1 // p1: never
	}
	return p1.Config{
		Device:               l.Device,
		Cipher:               c,
		AllowUnauthenticated: l.AllowUnauthenticated,
		AllowPlain:           l.AllowPlain,
		Location:             l.Zone.Location(),
		Wait:                 l.Wait == nil || *l.Wait,
		Timeout:              timeout,
		NoByteAfter:          FirstRunWarnings.NoByte,
		NoFrameAfter:         FirstRunWarnings.NoFrame,
		MinBackoff:           RetryBackoff.Min,
		MaxBackoff:           RetryBackoff.Max,
		Logger:               Logger(""),
	}
}

// ReportInterval is how often the live commands log the Stream's counts.
const ReportInterval = time.Hour

// RunLive reads the device of the flags with the cipher c and feeds the
// outputs from one live.Loop until ctx is done, -count telegrams, the end
// of a file given as -device, a wrong or missing key, an output that
// fails or a device that cannot work. log gets what the loop tells the
// user (frames that failed).
//
// Unless the command always waits (l.Wait nil) or -wait is given, the
// device is opened once first, so that a device that is not there, or that
// this user may not open, is one clear error at start. Errors of the
// device come back as DeviceError makes them; a wrong or missing key as a
// *p1.KeyError (ErrorMessage says what to do).
func (l *LiveFlags) RunLive(ctx context.Context, c *smarty.Cipher, log *slog.Logger, outputs ...live.Output) error {
	cfg := l.StreamConfig(c)
	// The Stream may report its link from its own goroutine before the
	// loop exists: a state from then is the loop's LinkWaiting anyway.
	var loopOf atomic.Pointer[live.Loop]
	cfg.Link = func(s p1.LinkState) {
		if loop := loopOf.Load(); loop != nil {
			loop.SetLink(s)
		}
	}
	st, err := p1.NewStream(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			// The one case where waiting may be what the user wants.
			return Usagef("%s (or -wait to wait for it)", DeviceError(err))
		}
		return DeviceError(err)
	}
	defer st.Close()
	if l.OnStream != nil {
		l.OnStream(st)
	}
	go reportEvery(ctx, cfg.Logger, l.Device, st, ReportInterval)
	lc := live.LoopConfig{
		Device:   l.Device,
		Count:    *l.Count,
		Silence:  *l.Timeout,
		Log:      log,
		Describe: FrameMessage,
	}
	if w := l.Quarter.Watcher(log); w != nil {
		lc.Annotate = w.Annotate
	}
	loop := live.NewLoop(st, lc)
	loopOf.Store(loop)
	for _, o := range outputs {
		loop.Add(o)
	}
	err = loop.Run(ctx)
	if err == nil && ctx.Err() == nil {
		return fileWithoutTelegram(l.Device, st.Stats())
	}
	var ke *p1.KeyError
	if err == nil || errors.As(err, &ke) || !isDeviceError(err) {
		return err
	}
	return DeviceError(err)
}

// fileWithoutTelegram is the error of a -device that was a regular file
// whose bytes held not one telegram: a path given by mistake (a key file,
// a log), or a capture that OfflineDecryption reads better. A file that
// held telegrams was read as a replay of the meter, and an empty one as a
// meter with nothing to say: neither is an error.
func fileWithoutTelegram(device string, stats p1.Stats) error {
	fi, err := os.Stat(device)
	if err != nil || !fi.Mode().IsRegular() || stats.Telegrams > 0 || stats.BytesRead == 0 {
		return nil
	}
	return Usagef("%s is a file, not a serial port, and its %d bytes hold no telegram: give the port of the P1 cable (-list shows them) or tcp://host:port; to decrypt a capture, use OfflineDecryption", device, stats.BytesRead)
}

// reportEvery logs the Stream's counts every interval until ctx is done.
func reportEvery(ctx context.Context, log *slog.Logger, device string, st *p1.Stream, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			log.Info(fmt.Sprintf("%s: %s", device, st.Stats()))
		case <-ctx.Done():
			return
		}
	}
}

// isDeviceError reports whether err came from the device.
func isDeviceError(err error) bool {
	var de *p1.DeviceError
	return errors.As(err, &de) || errors.Is(err, p1.ErrInvalidDevice)
}
