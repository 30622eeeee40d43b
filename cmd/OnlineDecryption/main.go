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
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

func main() { cli.Main(run) }

const name = "OnlineDecryption"

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-format text|json] [-count N]\n\n"+
		"Reads the meter and prints every telegram as it arrives (one every 10 s) until\n"+
		"Ctrl-C or -count. -list shows the serial ports of this machine.", stdout, stderr)
	flags := cli.AddLiveFlags(fset, "stop after `n` telegrams (0: run until interrupted)")
	kind := cli.AddFormatFlag(fset)
	flags.AddWaitFlag(fset)
	c, done, err := flags.Parse(fset, args, stdout, stderr)
	if done || err != nil {
		return err // -list has printed the ports, or the command line is wrong
	}
	return flags.RunLive(ctx, c, cli.ConsoleLogger(name, stderr), live.NewPrinter(stdout, *kind))
}
