// SmartySimulator is a software Smarty meter, for everyone without one and
// for the tests: it sends full-readout telegrams with readings that move
// like a household's, encrypted with -key or plain with -plain, one every
// -interval.
//
//	SmartySimulator -key KEY -pty              # a serial port to open
//	SmartySimulator -key KEY -listen :2001     # a network P1 adapter
//	SmartySimulator -key KEY -o dump.bin -count 1000
//
// With -pty the first line on standard output is the path of the
// pseudo-terminal to give OnlineDecryption as -device; with -listen it is
// the tcp:// address. Without an output flag the frames go to standard
// output.
package main

import (
	"context"
	"errors"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/internal/simserve"
)

func main() { cli.Main(run) }

const name = "SmartySimulator"

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -plain] [-pty | -listen ADDR | -o FILE] [-interval 10s] [-count N]\n\n"+
		"A software Smarty meter. With -pty the first line of standard output is the\n"+
		"pseudo-terminal to open (OnlineDecryption -device PATH), with -listen the tcp://\n"+
		"address; without an output flag the frames go to standard output.", stdout, stderr)
	keys := cli.AddKeyFlags(fset, false)
	flags := simserve.AddFlags(fset)
	household := sim.AddFlags(fset)
	if err := cli.Parse(fset, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fset); err != nil {
		return err
	}
	c, err := keys.Cipher()
	switch {
	case flags.Plain && (keys.Key != "" || keys.KeyFile != ""):
		return cli.Usagef("-plain sends unencrypted telegrams: leave out the key")
	case flags.Plain:
		c = nil
	case err != nil:
		return err
	case c == nil:
		return cli.Usagef("give the key to encrypt with (-key, -keyFile or $%s), or -plain", cli.KeyEnv)
	}
	cfg, err := household.Config()
	if err != nil {
		return cli.Usagef("%w", err)
	}
	s, err := flags.Simulator(cfg, c)
	if err != nil {
		return cli.Usagef("%w", err)
	}
	err = s.Run(ctx, stdout, cli.Logger(""))
	var fe *simserve.FlagError
	if errors.As(err, &fe) {
		return &cli.UsageError{Err: err}
	}
	return err
}
