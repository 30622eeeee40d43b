package p1

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"go.bug.st/serial"
)

// serialPoll is the read timeout set on serial ports: how long one read of
// the port waits for a byte before Source.Read looks at its context again.
// Closing the port unblocks a read at once; the timeout is a second way out
// on systems where it might not.
const serialPoll = time.Second

// p1Mode is the line setting of the P1 port: 115200 baud, 8N1.
func p1Mode() *serial.Mode {
	return &serial.Mode{
		BaudRate: baudRate,
		DataBits: dataBits,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	}
}

func openSerial(name string) (io.ReadCloser, error) {
	p, err := serial.Open(name, p1Mode())
	if err != nil {
		return nil, openError(name, serialCause(err))
	}
	if err := p.SetReadTimeout(serialPoll); err != nil {
		p.Close()
		return nil, openError(name, serialCause(err))
	}
	return p, nil
}

// portError is the cause behind a serial.PortError, with the kind the
// error code stands for, so that errors.Is finds both.
type portError struct {
	kind error
	err  *serial.PortError
}

func (e *portError) Error() string   { return e.err.Error() }
func (e *portError) Unwrap() []error { return []error{e.kind, e.err} }

// serialCause adds to an error of the serial library the kind its code
// stands for. Other errors (the operating system's, such as ENOENT on
// Linux) already answer errors.Is and pass unchanged.
func serialCause(err error) error {
	var pe *serial.PortError
	if !errors.As(err, &pe) {
		return err
	}
	var kind error
	switch pe.Code() {
	case serial.PortNotFound:
		kind = fs.ErrNotExist
	case serial.PermissionDenied:
		kind = fs.ErrPermission
	case serial.PortBusy:
		kind = ErrBusy
	case serial.InvalidSerialPort:
		kind = ErrNotSerial
	case serial.PortClosed:
		kind = ErrDisconnected
	default:
		return err
	}
	return &portError{kind: kind, err: pe}
}

// serialReadError describes the failure of a read of a serial port that
// the Source did not close itself: on Linux the port reads as closed when
// its device went away (the USB cable was unplugged).
func serialReadError(device string, err error) error {
	cause := serialCause(err)
	e := &DeviceError{Device: device, Op: "read", Err: cause, Kind: ErrDisconnected}
	if errors.Is(cause, ErrDisconnected) {
		e.msg = fmt.Sprintf("%s disconnected (cable unplugged?)", device)
	} else {
		e.msg = fmt.Sprintf("%s failed: %v (cable unplugged?)", device, err)
	}
	return e
}
