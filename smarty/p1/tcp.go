package p1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Network settings of TCP sources.
const (
	// tcpDialTimeout bounds one connection attempt.
	tcpDialTimeout = 10 * time.Second
	// tcpKeepAlive is the keep-alive period of the connection, so that an
	// adapter that vanished from the network is noticed.
	tcpKeepAlive = 15 * time.Second
)

// tcpAddress returns host:port from tcp://host:port.
func tcpAddress(device string) (string, error) {
	addr := device[len(tcpScheme):]
	addr = strings.TrimSuffix(addr, "/")
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return "", &DeviceError{Device: device, Op: "open", Err: err, Kind: ErrInvalidDevice,
			msg: fmt.Sprintf("invalid device %q: a network adapter is tcp://host:port, for example tcp://192.168.1.20:2001", device)}
	}
	return addr, nil
}

func dialTCP(ctx context.Context, device string) (io.ReadCloser, error) {
	addr, err := tcpAddress(device)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: tcpDialTimeout, KeepAlive: tcpKeepAlive}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, dialError(device, err)
	}
	return c, nil
}

// dialError describes a failed connection to a network adapter.
func dialError(device string, err error) error {
	e := &DeviceError{Device: device, Op: "open", Err: err, Kind: ErrUnreachable}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.msg = fmt.Sprintf("connection refused by %s: is the adapter on, and is it (or ser2net) listening on that port?", device)
	case errors.As(err, &dnsErr):
		e.msg = fmt.Sprintf("cannot find the host of %s: %v; check the name or use the adapter's IP address", device, dnsErr.Err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.msg = fmt.Sprintf("%s is unreachable: check the address and that this machine is on the adapter's network", device)
	case errors.As(err, &netErr) && netErr.Timeout():
		e.msg = fmt.Sprintf("no answer from %s: check the address and that the adapter is on", device)
	default:
		e.Kind = nil
		e.msg = fmt.Sprintf("cannot connect to %s: %v", device, err)
	}
	return e
}

// tcpReadError describes the end of a connection the Source did not close
// itself.
func tcpReadError(device string, err error) error {
	e := &DeviceError{Device: device, Op: "read", Err: err, Kind: ErrDisconnected}
	switch {
	case err == io.EOF:
		// Not io.EOF itself: a loop that stops at the end of a stream
		// must not stop because an adapter hung up.
		e.Err = io.ErrUnexpectedEOF
		e.msg = fmt.Sprintf("%s closed the connection", device)
	case errors.Is(err, syscall.ECONNRESET):
		e.msg = fmt.Sprintf("%s reset the connection", device)
	default:
		e.msg = fmt.Sprintf("connection to %s lost: %v", device, err)
	}
	return e
}
