package live

import (
	"context"
	"fmt"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
)

// Printer is the Output that writes every telegram to an io.Writer
// (standard output) in one format.Kind, as it arrives: the meter's bytes,
// or the Reading's JSON (Reading.JSON), which it shares with the other
// outputs, and a newline. Each telegram goes to the writer in one Write
// call. A write that fails ends the loop: Run returns its error.
type Printer struct {
	w      io.Writer
	kind   format.Kind
	failed chan error // holds the first write error
	done   bool
}

// NewPrinter returns a Printer that writes to w in kind.
func NewPrinter(w io.Writer, kind format.Kind) *Printer {
	return &Printer{w: w, kind: kind, failed: make(chan error, 1)}
}

// Reading writes r's telegram. After a write has failed it does nothing.
func (o *Printer) Reading(r *Reading) {
	if o.done {
		return
	}
	var err error
	if o.kind == format.JSON {
		_, err = o.w.Write(r.jsonLine())
	} else {
		_, err = o.w.Write(r.Message.Telegram.Bytes())
	}
	if err != nil {
		o.done = true
		o.failed <- fmt.Errorf("writing the telegrams: %w", err)
	}
}

// Link does nothing: the telegrams say it all.
func (o *Printer) Link(LinkState) {}

// Run waits until ctx is done or a write fails, and returns that write's
// error.
func (o *Printer) Run(ctx context.Context) error {
	select {
	case err := <-o.failed:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-o.failed:
		return err
	default:
		return nil
	}
}
