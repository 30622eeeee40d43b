package p1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.bug.st/serial"
)

type srcReadResult struct {
	n   int
	err error
	b   []byte
}

// srcReadAsync reads once from r in a new goroutine.
func srcReadAsync(r io.Reader) <-chan srcReadResult {
	ch := make(chan srcReadResult, 1)
	go func() {
		buf := make([]byte, 256)
		n, err := r.Read(buf)
		ch <- srcReadResult{n, err, buf[:n]}
	}()
	return ch
}

func srcAwait(t *testing.T, ch <-chan srcReadResult) srcReadResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(hangGuard):
		t.Fatal("Read did not return: it is still blocked")
		return srcReadResult{}
	}
}

// TestSerialCloseUnblocksRead proves the property the live commands rely
// on: closing a go.bug.st/serial port from another goroutine makes a Read
// that is blocked waiting for bytes return. The port has no read timeout,
// so nothing but Close can end that Read.
func TestSerialCloseUnblocksRead(t *testing.T) {
	_, path := srcPty(t)
	p, err := serial.Open(path, p1Mode())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(serial.NoTimeout); err != nil {
		t.Fatal(err)
	}
	ch := srcReadAsync(p)
	waitBlockedIn(t, "serial.(*unixPort).Read")
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := srcAwait(t, ch)
	if r.n != 0 || r.err == nil {
		t.Fatalf("Read after Close = %d, %v; want 0 and an error", r.n, r.err)
	}
}

// TestSourceCloseUnblocksRead: the same through Source, whose Read returns
// an error wrapping fs.ErrClosed.
func TestSourceCloseUnblocksRead(t *testing.T) {
	_, path := srcPty(t)
	src, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ch := srcReadAsync(src)
	waitBlockedIn(t, "serial.(*unixPort).Read")
	src.Close()
	r := srcAwait(t, ch)
	if !errors.Is(r.err, fs.ErrClosed) {
		t.Fatalf("Read after Close: %v; want fs.ErrClosed", r.err)
	}
	if errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("Read after our own Close claims a disconnect: %v", r.err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestSourceOutlivesOpenContext: the context of Open bounds the opening
// only. Cancelling it afterwards leaves the Source open: bytes written
// later are read.
func TestSourceOutlivesOpenContext(t *testing.T) {
	m, path := srcPty(t)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ch := srcReadAsync(src)
	waitBlockedIn(t, "serial.(*unixPort).Read")
	cancel()
	if _, err := m.Write([]byte("/ISK5")); err != nil {
		t.Fatal(err)
	}
	r := srcAwait(t, ch)
	if r.err != nil || string(r.b) != "/ISK5" {
		t.Fatalf("Read after the cancel of Open's context = %q, %v; want the bytes written", r.b, r.err)
	}
}

// TestSerialPty reads bytes written to a pseudo-terminal through the real
// serial code, then sees the device go away when the master side closes,
// as a USB cable does when unplugged.
func TestSerialPty(t *testing.T) {
	m, path := srcPty(t)
	src, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := []byte{0xDB, 0x08, 'S', 'A', 'G', 0x00, 0xFF, '\r', '\n', 0x11, 0x13}
	if _, err := m.Write(want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(src, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read % X, want % X (the line must be raw: no translation, no flow control)", got, want)
	}

	ch := srcReadAsync(src)
	waitBlockedIn(t, "serial.(*unixPort).Read")
	m.Close()
	r := srcAwait(t, ch)
	if !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("Read after unplug: %v; want ErrDisconnected", r.err)
	}
	if want := "p1: " + path + " disconnected"; !strings.HasPrefix(r.err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", r.err, want)
	}
}

// srcSilentPort answers a number of reads with (0, nil), as a serial port with
// a read timeout does while the line is silent, then with data.
type srcSilentPort struct {
	empty int
	data  []byte
	reads int
}

func (p *srcSilentPort) Read(b []byte) (int, error) {
	p.reads++
	if p.empty > 0 {
		p.empty--
		return 0, nil
	}
	if len(p.data) == 0 {
		return 0, nil
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}

func (p *srcSilentPort) Close() error { return nil }

// TestSourceNeverReturnsZeroNil: silence reported as (0, nil) is waited
// out inside Read, and ends when the Source is closed.
func TestSourceNeverReturnsZeroNil(t *testing.T) {
	p := &srcSilentPort{empty: 1000, data: []byte("/Lux5")}
	src := &Source{device: "fake", kind: kindSerial, rc: p}
	buf := make([]byte, 16)
	n, err := src.Read(buf)
	if n != 5 || err != nil || string(buf[:n]) != "/Lux5" {
		t.Fatalf("Read = %d, %v, %q; want 5, nil, /Lux5", n, err, buf[:n])
	}
	if p.reads != 1001 {
		t.Errorf("port read %d times, want 1001", p.reads)
	}
	// Now silence for ever: only Close ends the wait.
	ch := srcReadAsync(src)
	src.Close()
	r := srcAwait(t, ch)
	if r.n != 0 || !errors.Is(r.err, fs.ErrClosed) {
		t.Fatalf("Read = %d, %v; want 0, fs.ErrClosed", r.n, r.err)
	}
}

// srcErrPort returns bytes together with an error, then the error again.
type srcErrPort struct {
	data []byte
	err  error
}

func (p *srcErrPort) Read(b []byte) (int, error) {
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, p.err
}
func (p *srcErrPort) Close() error { return nil }

// TestSourceBytesBeforeError: bytes that come with an error are delivered
// first, and the error after them.
func TestSourceBytesBeforeError(t *testing.T) {
	src := &Source{device: "tcp://meter:2001", kind: kindTCP, rc: &srcErrPort{data: []byte("!CFDE\r\n"), err: io.EOF}}
	buf := make([]byte, 16)
	n, err := src.Read(buf)
	if n != 7 || err != nil {
		t.Fatalf("first Read = %d, %v; want 7, nil", n, err)
	}
	n, err = src.Read(buf)
	if n != 0 || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("second Read = %d, %v; want 0, ErrDisconnected", n, err)
	}
}

func TestSourceFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "dump.bin")
	want := bytes.Repeat([]byte{0xDB, 0x08}, 1000)
	if err := os.WriteFile(name, want, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := io.ReadAll(src)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAll = %d bytes, %v; want %d bytes, nil", len(got), err, len(want))
	}
}

// srcRefusedAddr returns a loopback address where nothing listens.
func srcRefusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenDeviceErrors(t *testing.T) {
	dir := t.TempDir()
	refused := "tcp://" + srcRefusedAddr(t)
	sock := filepath.Join(dir, "p1.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	notSerial := ", not a serial port: give the port of the P1 cable, or tcp://host:port for a network adapter"
	tests := []struct {
		name   string
		device string
		is     []error
		msg    string
	}{
		{
			name:   "missing serial port",
			device: "/dev/ttyUSB-smarty-test-none",
			is:     []error{fs.ErrNotExist, syscall.ENOENT},
			msg:    "p1: no such device /dev/ttyUSB-smarty-test-none: is the P1 cable plugged in?",
		},
		{
			name:   "missing in a missing directory",
			device: filepath.Join(dir, "by-id", "usb-FTDI-if00-port0"),
			is:     []error{fs.ErrNotExist},
			msg:    "p1: no such device " + filepath.Join(dir, "by-id", "usb-FTDI-if00-port0") + ": is the P1 cable plugged in?",
		},
		{
			name:   "host:port without tcp://",
			device: "192.168.1.20:2001",
			is:     []error{ErrInvalidDevice},
			msg:    "p1: no such device 192.168.1.20:2001: a network adapter is written with tcp:// before it, tcp://192.168.1.20:2001",
		},
		{
			name:   "name:port without tcp://",
			device: "p1-adapter.local:23",
			is:     []error{ErrInvalidDevice},
			msg:    "p1: no such device p1-adapter.local:23: a network adapter is written with tcp:// before it, tcp://p1-adapter.local:23",
		},
		{
			name:   "a directory",
			device: dir,
			is:     []error{ErrNotSerial},
			msg:    "p1: " + dir + " is a directory" + notSerial,
		},
		{
			name:   "a socket",
			device: sock,
			is:     []error{ErrNotSerial},
			msg:    "p1: " + sock + " is a socket" + notSerial,
		},
		{
			name:   "a character device that is no terminal",
			device: "/dev/null",
			is:     []error{ErrNotSerial},
			msg:    "p1: /dev/null is a character device but not a serial port: give the port of the P1 cable, or tcp://host:port for a network adapter",
		},
		{
			name:   "connection refused",
			device: refused,
			is:     []error{ErrUnreachable, syscall.ECONNREFUSED},
			msg:    "p1: connection refused by " + refused + ": is the adapter on, and is it (or ser2net) listening on that port?",
		},
		{
			name:   "no port",
			device: "tcp://192.0.2.1",
			is:     []error{ErrInvalidDevice},
			msg:    `p1: invalid device "tcp://192.0.2.1": a network adapter is tcp://host:port, for example tcp://192.168.1.20:2001`,
		},
		{
			name:   "no host",
			device: "tcp://:2001",
			is:     []error{ErrInvalidDevice},
			msg:    `p1: invalid device "tcp://:2001": a network adapter is tcp://host:port, for example tcp://192.168.1.20:2001`,
		},
	}
	if runtime.GOOS != "linux" {
		tests = tests[:2] // the rest names Linux devices
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Open(context.Background(), tt.device)
			if err == nil {
				src.Close()
				t.Fatalf("Open(%q) succeeded", tt.device)
			}
			var de *DeviceError
			if !errors.As(err, &de) || de.Device != tt.device || de.Op != "open" {
				t.Errorf("error %#v is not a *DeviceError for %q", err, tt.device)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			if err.Error() != tt.msg {
				t.Errorf("error\n got %q\nwant %q", err, tt.msg)
			}
		})
	}
}

// TestOpenFileAndFIFO: a regular file and a named pipe are read as they
// are, captures of the port, to their end.
func TestOpenFileAndFIFO(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dump.bin")
	if err := os.WriteFile(file, []byte("/ISK5"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got, err := io.ReadAll(src); err != nil || string(got) != "/ISK5" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	go func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Write([]byte("/ISK5"))
			w.Close()
		}
	}()
	src, err = Open(context.Background(), fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got, err := io.ReadAll(src); err != nil || string(got) != "/ISK5" {
		t.Fatalf("ReadAll of a FIFO = %q, %v", got, err)
	}
}

func TestOpenDeviceCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "tcp://127.0.0.1:1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context: %v", err)
	}
}

// TestOpenDeviceErrorKinds covers the causes a test cannot provoke as root or
// without hardware: permission denied, a busy port.
func TestOpenDeviceErrorKinds(t *testing.T) {
	tests := []struct {
		cause error
		is    error
		msg   string
	}{
		{syscall.EACCES, fs.ErrPermission, "p1: permission denied on /dev/ttyUSB-smarty-test-none: run as a user allowed to use serial ports"},
		{syscall.EBUSY, ErrBusy, "p1: /dev/ttyUSB-smarty-test-none is busy: another program has it open (another reader, a terminal program, ModemManager?); stop it and try again"},
		// The zero PortError has the code PortBusy.
		{serialCause(&serial.PortError{}), ErrBusy, "p1: /dev/ttyUSB-smarty-test-none is busy: another program has it open (another reader, a terminal program, ModemManager?); stop it and try again"},
		{syscall.ENOENT, fs.ErrNotExist, "p1: no such device /dev/ttyUSB-smarty-test-none: is the P1 cable plugged in?"},
		{syscall.EIO, syscall.EIO, "p1: cannot open /dev/ttyUSB-smarty-test-none: " + syscall.EIO.Error()},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cause), func(t *testing.T) {
			err := openError("/dev/ttyUSB-smarty-test-none", tt.cause)
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("the cause %v is not wrapped", tt.cause)
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("error\n got %q\nwant %q", err, tt.msg)
			}
		})
	}
}

// TestPermissionDenied opens a port the user may not read, when the test
// does not run as root (root may open anything).
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may open any device; TestOpenDeviceErrorKinds covers the message")
	}
	_, path := srcPty(t)
	if err := os.Chmod(path, 0); err != nil {
		t.Skip(err)
	}
	_, err := Open(context.Background(), path)
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Open of a port without permission: %v", err)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	device := "tcp://" + ln.Addr().String()
	for _, mode := range []string{"close", "reset"} {
		t.Run(mode, func(t *testing.T) {
			src, err := Open(context.Background(), device)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("/Lux5\\253663629_D\r\n")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 19)
			if _, err := io.ReadFull(src, got); err != nil {
				t.Fatal(err)
			}
			ch := srcReadAsync(src)
			waitBlockedIn(t, "p1.(*Source).Read")
			if mode == "reset" {
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			r := srcAwait(t, ch)
			if !errors.Is(r.err, ErrDisconnected) || errors.Is(r.err, io.EOF) {
				t.Fatalf("Read after the adapter's %s: %v; want ErrDisconnected and not io.EOF", mode, r.err)
			}
			want := map[string]string{"close": " closed the connection", "reset": " reset the connection"}[mode]
			if r.err.Error() != "p1: "+device+want {
				t.Errorf("error %q, want %q", r.err, "p1: "+device+want)
			}
		})
	}
	t.Run("close unblocks", func(t *testing.T) {
		src, err := Open(context.Background(), device)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ch := srcReadAsync(src)
		waitBlockedIn(t, "p1.(*Source).Read")
		src.Close()
		if r := srcAwait(t, ch); !errors.Is(r.err, fs.ErrClosed) {
			t.Fatalf("Read after Close: %v; want fs.ErrClosed", r.err)
		}
	})
}

func TestListPorts(t *testing.T) {
	ports, err := ListPorts()
	if err != nil {
		t.Fatalf("ListPorts: %v", err)
	}
	for _, p := range ports {
		if p.Name == "" {
			t.Errorf("a port without a name: %+v", p)
		}
	}
}

func TestPortInfoString(t *testing.T) {
	tests := []struct {
		p    PortInfo
		want string
	}{
		{PortInfo{Name: "/dev/ttyS0"}, "/dev/ttyS0"},
		{PortInfo{Name: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", SerialNumber: "A10KZP45"}, "/dev/ttyUSB0  USB 0403:6001 serial A10KZP45"},
		{PortInfo{Name: "COM3", USB: true, VID: "1A86", PID: "7523", Product: "USB-SERIAL CH340"}, "COM3  USB 1a86:7523 (USB-SERIAL CH340)"},
		{PortInfo{Name: "/dev/ttyACM0", USB: true}, "/dev/ttyACM0  USB"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
