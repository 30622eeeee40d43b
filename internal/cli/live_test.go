package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// TestLiveFlagsParse: the checks of a live command's command line, in
// the order the user meets them.
func TestLiveFlagsParse(t *testing.T) {
	t.Setenv(KeyEnv, "")
	tests := []struct {
		name       string
		args       []string
		wantCipher bool
		wantDone   bool
		wantMsg    string // what Exit prints; "" for no error
	}{
		{"key and device", []string{"-key", realKeyHex, "-device", "/dev/ttyUSB0"}, true, false, ""},
		{"no key: plain telegrams", []string{"-device", "/dev/ttyUSB0"}, false, false, ""},
		{"list", []string{"-list"}, false, true, ""},
		{"list needs no device", []string{"-list", "-key", "xyz"}, false, true, ""},
		{"no device", []string{"-key", realKeyHex}, false, false,
			"prog: -device is required: the meter's serial port (/dev/ttyUSB0, COM3; -list shows them) or tcp://host:port\n"},
		{"argument", []string{"-device", "/dev/ttyUSB0", "extra"}, false, false,
			"prog: unexpected argument \"extra\": every option is a flag (see -h)\n"},
		{"negative count", []string{"-device", "/dev/ttyUSB0", "-count", "-1"}, false, false, "prog: -count -1: must be 0 or more\n"},
		{"negative timeout", []string{"-device", "/dev/ttyUSB0", "-timeout", "-5s"}, false, false, "prog: -timeout -5s: must be 0 (never) or more\n"},
		{"bad key", []string{"-device", "/dev/ttyUSB0", "-key", "xyz"}, false, false,
			"prog: -key: invalid key: character 1 is not a hex digit (a key is 32 hex digits, 0-9 and A-F)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := NewFlagSet("prog", "-device PORT", &stdout, &stderr)
			flags := AddLiveFlags(fs, "stop after `n` telegrams")
			c, done, err := flags.Parse(fs, tc.args, &stdout, &stderr)
			var out bytes.Buffer
			report(&out, "prog", err)
			if (c != nil) != tc.wantCipher || done != tc.wantDone || out.String() != tc.wantMsg {
				t.Errorf("cipher %v, done %v, Exit prints %q; want cipher %v, done %v, %q", c != nil, done, out.String(), tc.wantCipher, tc.wantDone, tc.wantMsg)
			}
		})
	}
}

func TestFrameMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&smarty.FrameError{Offset: 5, Err: smarty.ErrNoKey}, "give the key with -key, -keyFile or $SMARTY_KEY"},
		{&smarty.FrameError{Offset: 5, Err: smarty.ErrTruncated}, "frame cut short"},
		{errors.New("two\nlines"), "two; lines"},
	}
	for _, tc := range tests {
		got := FrameMessage(tc.err)
		if !strings.HasSuffix(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("FrameMessage(%v) = %q, want one line ending in %q", tc.err, got, tc.want)
		}
	}
}

func TestDeviceError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		usage bool
		want  string
	}{
		{"missing", &p1.DeviceError{Device: "/dev/ttyUSB7", Op: "open", Kind: fs.ErrNotExist, Err: fs.ErrNotExist}, true,
			"open /dev/ttyUSB7: file does not exist (try -list)"},
		{"permission", &p1.DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: fs.ErrPermission, Err: fs.ErrPermission}, true,
			"open /dev/ttyUSB0: permission denied"},
		{"not serial", &p1.DeviceError{Device: "/etc/passwd", Op: "open", Kind: p1.ErrNotSerial, Err: errors.New("inappropriate ioctl for device")}, true,
			"open /etc/passwd: inappropriate ioctl for device (try -list)"},
		{"invalid name", fmt.Errorf("tcp://: %w", p1.ErrInvalidDevice), true, "tcp://: p1: invalid device name"},
		{"busy", &p1.DeviceError{Device: "/dev/ttyUSB0", Op: "open", Kind: p1.ErrBusy, Err: errors.New("in use")}, false,
			"open /dev/ttyUSB0: in use"},
		{"other", errors.New("connection reset"), false, "connection reset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := DeviceError(tc.err)
			var u *UsageError
			if got := errors.As(err, &u); got != tc.usage {
				t.Errorf("usage error %v, want %v", got, tc.usage)
			}
			if err.Error() != tc.want {
				t.Errorf("message %q, want %q", err.Error(), tc.want)
			}
		})
	}
}

func TestStreamConfig(t *testing.T) {
	tests := []struct {
		in, want time.Duration
		wait     *bool
	}{
		{0, -1, nil}, // never
		{-1, -1, new(bool)},
		{30 * time.Second, 30 * time.Second, new(bool)},
	}
	for _, tc := range tests {
		timeout := tc.in
		l := &LiveFlags{KeyFlags: &KeyFlags{AllowUnauthenticated: true}, DeviceFlags: &DeviceFlags{Device: "/dev/ttyUSB0"}, Timeout: &timeout, Wait: tc.wait}
		cfg := l.StreamConfig(nil)
		if cfg.Timeout != tc.want || cfg.Device != "/dev/ttyUSB0" || !cfg.AllowUnauthenticated || cfg.Wait != (tc.wait == nil) {
			t.Errorf("StreamConfig with -timeout %v: %+v", tc.in, cfg)
		}
		if cfg.Logger == nil {
			t.Error("StreamConfig leaves the logger nil")
		}
	}
}

// TestListPorts: the ports, one a line, or one line on stderr when there
// are none.
func TestListPorts(t *testing.T) {
	ports, err := p1.ListPorts()
	if err != nil {
		t.Skipf("cannot list the ports here: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if err := ListPorts(&stdout, &stderr, "Cmd"); err != nil {
		t.Fatal(err)
	}
	if len(ports) == 0 {
		want := "Cmd: no serial ports found: is the P1 cable plugged in? (a network adapter is used as -device tcp://host:port)\n"
		if stdout.Len() != 0 || stderr.String() != want {
			t.Errorf("stdout %q, stderr %q; want nothing and %q", stdout.String(), stderr.String(), want)
		}
		return
	}
	if got := bytes.Count(stdout.Bytes(), []byte("\n")); got != len(ports) || stderr.Len() != 0 {
		t.Errorf("%d lines for %d ports, stderr %q", got, len(ports), stderr.String())
	}
}
