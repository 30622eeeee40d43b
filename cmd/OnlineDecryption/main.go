// OnlineDecryption reads a Smarty meter's P1 port and prints every
// telegram as it arrives, one every 10 seconds, until Ctrl-C or -count.
//
//	OnlineDecryption -keyFile smarty.key -device /dev/ttyUSB0
//	OnlineDecryption -key KEY -device tcp://192.168.1.20:2001 -format json
//	OnlineDecryption -list
//
// Telegrams go to standard output (-format text: exactly as the meter sent
// them; json: one object per line); a frame that fails is reported on
// standard error and the next one is read. Before the first telegram, a
// frame that fails authentication is said at once to mean a wrong key if
// the next two fail too, and the third ends the command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

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

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-format text|json] [-count N]\n\n"+
		"Reads the meter and prints every telegram as it arrives (one every 10 s) until\n"+
		"Ctrl-C or -count. -list shows the serial ports of this machine.", stdout, stderr)
	flags := cli.AddLiveFlags(fset, "stop after `n` telegrams (0: run until interrupted)")
	kind := cli.AddFormatFlag(fset)
	wait := fset.Bool("wait", false, "wait for a device that is not there yet at start (a service started before the\nUSB cable or the network adapter is ready) instead of stopping with an error")
	c, done, err := flags.Parse(fset, args, stdout, stderr)
	if done || err != nil {
		return err // -list has printed the ports, or the command line is wrong
	}
	// The stream reopens the device whenever it fails (a USB cable
	// unplugged, a network adapter restarted). Unless -wait is given, the
	// device is opened once first, so that a device that is not there, or
	// that this user may not open, is one clear error at start.
	cfg := cli.LiveConfig(flags.Device, *flags.Timeout, func(r io.Reader) *smarty.Reader { return flags.NewReader(r, c) })
	var src *live.Stream
	if *wait {
		src = live.New(cfg)
	} else if src, err = live.Open(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			// The one case where waiting may be what the user wants.
			return cli.Usagef("%s (or -wait to wait for it)", cli.DeviceError(err))
		}
		return cli.DeviceError(err)
	}
	defer src.Close()
	go src.ReportEvery(ctx, live.DefaultReportInterval)

	w := format.NewWriter(stdout, *kind)
	var keyCheck cli.KeyCheck
	decoded := 0
	for *flags.Count == 0 || decoded < *flags.Count {
		m, err := src.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			if n, wrongKey := keyCheck.AuthFailed(err, flags.Device); n > 0 {
				// Before the first telegram, a failed tag most likely
				// means a wrong key: say so at the first, which a
				// person with a new key is waiting for, and end at
				// the third, instead of once a frame.
				glog.V(1).Info(err)
				if wrongKey != nil {
					return wrongKey
				}
				if n == 1 {
					fmt.Fprintf(stderr, "%s: the frame at byte %d failed authentication; if the next %d fail too, the key is wrong\n",
						name, fe.Offset, cli.AuthFailuresToGiveUp-1)
				}
				continue
			}
			fmt.Fprintf(stderr, "%s: %s\n", name, cli.FrameMessage(err))
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil // Ctrl-C: a clean end
			}
			if err == io.EOF || errors.Is(err, live.ErrClosed) {
				return nil // a file given as -device has ended
			}
			return cli.DeviceError(err)
		}
		keyCheck.Decoded()
		decoded++
		if err := w.WriteMessage(m); err != nil {
			return fmt.Errorf("writing the telegrams: %w", err)
		}
	}
	return nil
}
