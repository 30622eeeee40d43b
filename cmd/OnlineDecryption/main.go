// OnlineDecryption reads a Smarty meter's P1 port and prints every
// telegram as it arrives, one every 10 seconds, until Ctrl-C or -count.
//
//	OnlineDecryption -keyFile smarty.key -device /dev/ttyUSB0
//	OnlineDecryption -key KEY -device tcp://192.168.1.20:2001 -format json
//	OnlineDecryption -list
//
// Telegrams go to standard output (-format text: exactly as the meter sent
// them; json: one object per line); a frame that fails is reported on
// standard error and the next one is read.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit(os.Stderr, err))
}

const name = "OnlineDecryption"

// authFailuresToGiveUp is how many frames in a row must fail
// authentication, with none decoded before, for the key to be called
// wrong: a meter sends nothing else that would ever decode.
const authFailuresToGiveUp = 3

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-format text|json] [-count N]\n\n"+
		"Reads the meter and prints every telegram as it arrives (one every 10 s) until\n"+
		"Ctrl-C or -count. -list shows the serial ports of this machine.", stderr)
	keys := cli.AddKeyFlags(fset, true)
	dev := cli.AddDeviceFlags(fset)
	kind := cli.AddFormatFlag(fset)
	count := cli.AddCountFlag(fset, "stop after `n` telegrams (0: run until interrupted)")
	timeout := fset.Duration("timeout", live.DefaultTimeout, "close and reopen a device that sends no complete frame for this long (0: never)")
	wait := fset.Bool("wait", false, "wait for a device that is not there yet at start (a service started before the\nUSB cable or the network adapter is ready) instead of stopping with an error")
	if err := cli.Parse(fset, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fset); err != nil {
		return err
	}
	if err := cli.CheckCount(*count); err != nil {
		return err
	}
	if dev.List {
		return listPorts(stdout, stderr)
	}
	if dev.Device == "" {
		return cli.Usagef("-device is required: the meter's serial port (/dev/ttyUSB0, COM3; -list shows them) or tcp://host:port")
	}
	c, err := keys.Cipher()
	if err != nil {
		return err
	}
	if c == nil {
		glog.Warningf("no key given: only plain telegrams can be read (%s)", cli.NoKeyHint)
	}

	if *timeout < 0 {
		return cli.Usagef("-timeout %v: must be 0 (never) or more", *timeout)
	}
	if *timeout == 0 {
		*timeout = -1 // live: never
	}
	src, err := open(ctx, dev.Device, *wait, *timeout, func(r io.Reader) *smarty.Reader { return keys.NewReader(r, c) })
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return deviceError(err)
	}
	defer src.Close()
	go src.ReportEvery(ctx, live.DefaultReportInterval)

	w := format.NewWriter(stdout, *kind)
	decoded, authFailures := 0, 0
	for *count == 0 || decoded < *count {
		m, err := src.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			if errors.Is(err, smarty.ErrAuth) && decoded == 0 {
				// Before the first telegram, a failed tag most likely
				// means a wrong key: say so once, not once a frame.
				glog.V(1).Info(err)
				if authFailures++; authFailures == authFailuresToGiveUp {
					return fmt.Errorf("authentication failed for the first %d frames from %s: wrong key, or the meter uses another authentication key (-authKey)", authFailures, dev.Device)
				}
				continue
			}
			msg := err.Error()
			if errors.Is(err, smarty.ErrNoKey) {
				msg += ": " + cli.NoKeyHint
			}
			fmt.Fprintf(stderr, "%s: %s\n", name, cli.OneLine(msg))
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil // Ctrl-C: a clean end
			}
			if err == io.EOF || errors.Is(err, live.ErrClosed) {
				return nil // a file given as -device has ended
			}
			return deviceError(err)
		}
		authFailures = 0
		decoded++
		if err := w.WriteMessage(m); err != nil {
			return fmt.Errorf("writing the telegrams: %w", err)
		}
	}
	return nil
}

// deviceError makes a device the user named wrong a usage error (exit
// status 2); the library's message already says what to do.
func deviceError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "smarty: ")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, smarty.ErrNotSerial) || errors.Is(err, smarty.ErrInvalidDevice) {
		return cli.Usagef("%s", msg)
	}
	return errors.New(msg)
}

func listPorts(stdout, stderr io.Writer) error {
	ports, err := smarty.ListPorts()
	if err != nil {
		return err
	}
	if len(ports) == 0 {
		fmt.Fprintf(stderr, "%s: no serial ports found: is the P1 cable plugged in? (a network adapter is used as -device tcp://host:port)\n", name)
		return nil
	}
	for _, p := range ports {
		fmt.Fprintln(stdout, p)
	}
	return nil
}

// open returns the stream of telegrams from device, which reopens the
// device whenever it fails (a USB cable unplugged, a network adapter
// restarted) and reopens a device silent for timeout. Unless wait is set,
// the device is opened once first, so that a device that is not there, or
// that this user may not open, is one clear error at start.
func open(ctx context.Context, device string, wait bool, timeout time.Duration, newReader func(io.Reader) *smarty.Reader) (*live.Stream, error) {
	var first io.ReadCloser
	if !wait {
		src, err := smarty.Open(ctx, device)
		if err != nil {
			return nil, err
		}
		first = src
	}
	opener := func(ctx context.Context, device string) (io.ReadCloser, error) {
		if first != nil {
			src := first
			first = nil
			return src, nil
		}
		return live.OpenDevice(ctx, device)
	}
	return live.New(live.Config{
		Device:    device,
		Open:      opener,
		NewReader: newReader,
		Timeout:   timeout,
		Infof:     glog.Infof,
		Warnf:     glog.Warningf,
		Debugf:    glog.V(1).Infof,
	}), nil
}
