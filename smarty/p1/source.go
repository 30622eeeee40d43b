package p1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Kinds of device errors. A [*DeviceError] wraps one of them, or
// [fs.ErrNotExist] (no such device) or [fs.ErrPermission] (not allowed to
// open it); test them with [errors.Is].
var (
	// ErrBusy means another program holds the serial port.
	ErrBusy = errors.New("p1: device busy")
	// ErrNotSerial means the device exists but is not a serial port: a
	// directory, a character device that is not a terminal (/dev/null), a
	// block device or a socket.
	ErrNotSerial = errors.New("p1: not a serial port")
	// ErrDisconnected means a source that was open went away: the USB
	// cable was unplugged, the network adapter closed or reset the
	// connection. Opening the device again may bring it back.
	ErrDisconnected = errors.New("p1: device disconnected")
	// ErrUnreachable means a network adapter could not be reached: the
	// connection was refused, timed out, or no route leads to the host.
	ErrUnreachable = errors.New("p1: device unreachable")
	// ErrInvalidDevice means the device name cannot be used as it is
	// written: tcp://host without a port, or host:port without tcp://.
	ErrInvalidDevice = errors.New("p1: invalid device name")
)

// DeviceError is the error of [Open], and of a [Source]'s Read when the
// device goes away. Its message says what went wrong with which device,
// and what to do when no command-line flag is involved ("add your user to
// the group dialout"). It wraps both a kind ([ErrBusy], [ErrNotSerial],
// [ErrDisconnected], [ErrUnreachable], [ErrInvalidDevice],
// [fs.ErrNotExist], [fs.ErrPermission]) and the cause reported by the
// operating system, so that [errors.Is] works with either:
//
//	if errors.Is(err, fs.ErrNotExist) { ... }
type DeviceError struct {
	// Device is the device as the user named it: /dev/ttyUSB0, COM3,
	// tcp://192.168.1.20:2001.
	Device string
	// Op is "open" or "read".
	Op string
	// Kind is one of the kinds listed above, or nil when the error fits
	// none of them.
	Kind error
	// Err is the cause as the operating system or the serial library
	// reported it; nil when the device was refused before it was opened
	// (a directory, a malformed name).
	Err error

	msg string // what happened and what to do, without the "p1: " prefix
}

func (e *DeviceError) Error() string { return "p1: " + e.Message() }

// Message is the error without its "p1: " prefix: what happened to the
// device and, when it is known, what to do. A program that names the
// device in its own words shows this.
func (e *DeviceError) Message() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Device, e.Err)
}

// Unwrap returns the kind and the cause.
func (e *DeviceError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Baud rate and framing of the P1 port: 115200 baud, 8 data bits, no
// parity, one stop bit.
const (
	baudRate = 115200
	dataBits = 8
)

// tcpScheme prefixes the device names of network P1 adapters.
const tcpScheme = "tcp://"

// Source is an open P1 byte stream: a serial port, a TCP connection to a
// network P1 adapter or ser2net, or a file (a capture, a FIFO).
//
// Read never returns (0, nil): the silence of a serial port between two
// telegrams is waited out inside Read. When the device goes away, Read
// fails with a [*DeviceError] wrapping [ErrDisconnected]; the Source is
// then dead and the device must be opened again. Only a file ends with
// [io.EOF].
//
// Close may be called at any time from any goroutine, also while a Read
// is blocked: that Read returns at once with an error wrapping
// [fs.ErrClosed]. Nothing else ends a Source: the context given to Open
// bounds the opening only.
type Source struct {
	device string
	kind   sourceKind
	rc     io.ReadCloser

	pending error // an error that came with the last bytes read

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

type sourceKind int

const (
	kindSerial sourceKind = iota
	kindTCP
	kindFile
)

// Open opens the P1 byte stream named by device:
//
//   - "tcp://host:port": a network P1 adapter or ser2net, over TCP;
//   - the path of a regular file or of a named pipe: its bytes (a
//     capture of the port), then [io.EOF];
//   - anything else: a serial port (/dev/ttyUSB0, COM3) at 115200 baud,
//     8N1.
//
// ctx bounds the opening only (a TCP dial gives up when it is done); once
// open, the Source lives until Close. Errors are [*DeviceError] values
// that name the real cause: a device that is not there, host:port written
// without tcp://, a directory or another file that is no serial port, a
// permission denied with the device's owner, group and mode.
func Open(ctx context.Context, device string) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		rc   io.ReadCloser
		kind sourceKind
		err  error
	)
	if strings.HasPrefix(strings.ToLower(device), tcpScheme) {
		kind = kindTCP
		rc, err = dialTCP(ctx, device)
	} else {
		kind, err = checkPath(device)
		if err == nil {
			if kind == kindFile {
				rc, err = openFile(device)
			} else {
				rc, err = openSerial(device)
			}
		}
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	return &Source{device: device, kind: kind, rc: rc}, nil
}

// Read reads up to len(p) bytes. It blocks until at least one byte has
// arrived, the device went away, or the Source was closed.
func (s *Source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.pending; err != nil {
		s.pending = nil
		return 0, err
	}
	for {
		if s.closed.Load() {
			return 0, s.closedError()
		}
		n, err := s.rc.Read(p)
		if n > 0 {
			// Bytes first; an error that came with them comes with
			// the next call.
			if err != nil {
				s.pending = s.readError(err)
			}
			return n, nil
		}
		if err == nil {
			// A serial port's read timeout expired: silence on the
			// line. Look at Close, then wait again.
			continue
		}
		if s.closed.Load() {
			return 0, s.closedError()
		}
		return 0, s.readError(err)
	}
}

// closedError is the error of a Read on a closed Source.
func (s *Source) closedError() error {
	return fmt.Errorf("p1: read %s: %w", s.device, fs.ErrClosed)
}

// Close closes the device. It is safe to call more than once and from any
// goroutine; a Read blocked in another goroutine returns.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.rc.Close()
	})
	return s.closeErr
}

// readError turns the error of a read of the underlying device into the
// error Read returns.
func (s *Source) readError(err error) error {
	switch s.kind {
	case kindSerial:
		return serialReadError(s.device, err)
	case kindTCP:
		return tcpReadError(s.device, err)
	}
	if err == io.EOF {
		return io.EOF
	}
	return &DeviceError{Device: s.device, Op: "read", Err: err}
}

// checkPath looks at a device that is not tcp://: a regular file or a
// named pipe is read as a file, a character device as a serial port, and
// anything else is refused with the reason. A name the system does not
// know is left to the serial library (COM3 is no file), unless it is
// host:port, a network adapter written without tcp://.
func checkPath(device string) (sourceKind, error) {
	fi, err := os.Stat(device)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && isHostPort(device) {
			return 0, &DeviceError{Device: device, Op: "open", Kind: ErrInvalidDevice,
				msg: fmt.Sprintf("no such device %s: a network adapter is written with tcp:// before it, tcp://%s", device, device)}
		}
		return kindSerial, nil
	}
	m := fi.Mode()
	notSerial := func(what string) error {
		return &DeviceError{Device: device, Op: "open", Kind: ErrNotSerial,
			msg: fmt.Sprintf("%s is %s, not a serial port: give the port of the P1 cable, or tcp://host:port for a network adapter", device, what)}
	}
	switch {
	case m.IsRegular() || m&fs.ModeNamedPipe != 0:
		return kindFile, nil
	case m.IsDir():
		return 0, notSerial("a directory")
	case m&fs.ModeSocket != 0:
		return 0, notSerial("a socket")
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return 0, notSerial("a block device")
	}
	return kindSerial, nil
}

// isHostPort reports whether name reads as host:port with a numeric port,
// as a network adapter's address does.
func isHostPort(name string) bool {
	host, port, err := net.SplitHostPort(name)
	if err != nil || host == "" || strings.ContainsAny(host, `/\`) {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 1<<16
}

func openFile(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, openError(name, err)
	}
	return f, nil
}

// openError describes a failure to open a serial port or a file. The
// kinds come from the cause: errors.Is sees through the serial library's
// errors and the operating system's.
func openError(device string, err error) error {
	e := &DeviceError{Device: device, Op: "open", Err: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Kind = fs.ErrNotExist
		e.msg = fmt.Sprintf("no such device %s: is the P1 cable plugged in?", device)
	case errors.Is(err, fs.ErrPermission):
		e.Kind = fs.ErrPermission
		e.msg = fmt.Sprintf("permission denied on %s%s", device, permissionAdvice(device))
	case errors.Is(err, ErrBusy), errors.Is(err, syscall.EBUSY):
		e.Kind = ErrBusy
		e.msg = fmt.Sprintf("%s is busy: another program has it open (another reader, a terminal program, ModemManager?); stop it and try again", device)
	case errors.Is(err, ErrNotSerial):
		e.Kind = ErrNotSerial
		e.msg = fmt.Sprintf("%s is a character device but not a serial port: give the port of the P1 cable, or tcp://host:port for a network adapter", device)
	default:
		e.msg = fmt.Sprintf("cannot open %s: %v", device, err)
	}
	return e
}
