package format

import (
	"context"
	"fmt"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

// Output is a live.Output that writes every telegram to an io.Writer
// (standard output) in one Kind, as it arrives. A write that fails ends
// the loop: Run returns its error.
type Output struct {
	w      *Writer
	failed chan error // holds the first write error
	done   bool
}

// NewOutput returns an Output that writes to w in kind.
func NewOutput(w io.Writer, kind Kind) *Output {
	return &Output{w: NewWriter(w, kind), failed: make(chan error, 1)}
}

// Reading writes r's telegram. After a write has failed it does nothing.
func (o *Output) Reading(r *live.Reading) {
	if o.done {
		return
	}
	if err := o.w.WriteMessage(&r.Message); err != nil {
		o.done = true
		o.failed <- fmt.Errorf("writing the telegrams: %w", err)
	}
}

// Link does nothing: the telegrams say it all.
func (o *Output) Link(live.LinkState) {}

// Run waits until ctx is done or a write fails, and returns that write's
// error.
func (o *Output) Run(ctx context.Context) error {
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
