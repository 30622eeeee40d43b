// OfflineDecryption decrypts captured P1 dumps: what `cat /dev/ttyUSB0 >
// dump.bin` records, or the same bytes as hex text.
//
//	OfflineDecryption -key KEY [-format text|json] [FILE...]
//	OfflineDecryption -key KEY -quarters [-refPower KW] [FILE...]
//
// With -quarters it prints the quarter-hours of the energy registers as
// CSV instead of the telegrams (docs/quarter-hour.md).
// With no FILE, or with "-", it reads standard input. Raw and hex dumps are
// told apart by themselves; plain telegrams in a dump are passed through.
// Telegrams go to standard output, a summary of what was found to standard
// error. The exit status is 0 when every frame decoded, 1 when some failed
// or none was found, 2 when the command line is wrong.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/offline"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func main() { cli.Main(run) }

const name = "OfflineDecryption"

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] [-format text|json] [FILE...]\n\n"+
		"Decrypts captured P1 dumps (raw bytes or hex text) from the FILEs, or standard input\n"+
		"when there are none or FILE is -. Telegrams go to standard output, the summary to\n"+
		"standard error. Exit status: 0 every frame decoded, 1 some failed or none found, 2 usage.", stdout, stderr)
	keys := cli.AddKeyFlags(fset, true)
	kind := cli.AddFormatFlag(fset)
	qf := addQuarterFlags(fset)
	if err := cli.Parse(fset, args); err != nil {
		return err
	}
	c, err := keys.Cipher()
	if err != nil {
		return err
	}
	names := fset.Args()
	if len(names) == 0 {
		names = []string{"-"}
	}
	// Every file must be there before the first telegram is written.
	for _, n := range names {
		if n == "-" {
			continue
		}
		if err := offline.CheckFile(n); err != nil {
			return cli.Usagef("%w", err)
		}
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	quarters, err := qf.output(fset, out)
	if err != nil {
		return err
	}
	w := format.NewWriter(out, *kind)
	d := &offline.Decoder{
		Name:      name,
		NewReader: func(r io.Reader) *smarty.Reader { return keys.NewReader(r, c) },
		Write:     w.WriteMessage,
		Flush:     out.Flush,
		Stderr:    stderr,
		Progress:  cli.IsTerminal(stderr),
		Log:       cli.Logger(""),
	}
	if quarters != nil {
		d.Write = quarters.write
	}
	var total offline.Summary
	for _, n := range names {
		s, err := d.Decode(ctx, n, stdin)
		total.Add(s)
		if err != nil {
			out.Flush()
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if quarters != nil {
		if err := quarters.finish(stderr); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing the telegrams: %w", err)
	}
	if len(names) > 1 {
		fmt.Fprintf(stderr, "%s: all %d inputs: %s\n", name, len(names), total.Counts())
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: interrupted\n", name)
		return cli.ErrReported
	}
	if total.Failed() > 0 || total.Decoded() == 0 {
		return cli.ErrReported
	}
	return nil
}
