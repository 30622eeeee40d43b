// Package offline is the body of OfflineDecryption: it decodes captured P1
// dumps, raw bytes or hex text told apart by themselves, hands every
// telegram to a sink, and sums up per input what it found, keyed by the
// class of each failure (smarty.Failure).
package offline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// peekSize is how much of a dump is looked at to tell hex text from raw
// bytes.
const peekSize = 4096

// Decoder decodes dumps. Set every field but Log and Progress.
type Decoder struct {
	// Name is the command's name, before each line of a summary.
	Name string
	// NewReader makes the Reader of an input (cipher and options).
	NewReader func(io.Reader) *smarty.Reader
	// Write gets every telegram; an error from it stops everything.
	Write func(m *smarty.Message) error
	// Flush, when set, is called after each telegram of an input that is
	// not a regular file (a pipe, a terminal), so that telegrams show up
	// as they come.
	Flush func() error
	// Stderr gets the summary of each input, and the progress.
	Stderr io.Writer
	// Progress redraws a progress line on Stderr (a terminal).
	Progress bool
	// Log gets each failed frame (Debug) and the frame counter's
	// anomalies (Warn); nil discards.
	Log *slog.Logger
}

// CheckFile says in one line why a named input cannot be read, before
// anything is written: it does not exist, may not be read, or is a
// directory.
//
// Only a regular file is opened to try it: opening a named pipe (bash's
// <(...)) would take the one stream its writer sends and leave nothing
// for Decode.
func CheckFile(n string) error {
	fi, err := os.Stat(n)
	if err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory, not a dump", n)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		var f *os.File
		if f, err = os.Open(n); err == nil {
			return f.Close()
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", n)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied: make it readable by this user", n)
	}
	return err
}

// Decode decodes one input, the file named input or stdin for "-", and
// prints its summary. The error is for what stops everything (a failed
// write of the output, a file that went away); what is wrong with the
// input goes into the summary.
func (d *Decoder) Decode(ctx context.Context, input string, stdin io.Reader) (Summary, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var s Summary
	var src io.Reader
	var size int64 = -1
	label := input
	streaming := true
	if input == "-" {
		src, label = stdin, "standard input"
	} else {
		f, err := os.Open(input)
		if err != nil {
			return s, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size, streaming = fi.Size(), false
		}
		src = f
	}

	counted := &countingReader{r: src}
	br := bufio.NewReaderSize(counted, 64<<10)
	head, _ := br.Peek(peekSize)
	var in io.Reader = br
	var hex *hexReader
	if looksLikeHex(head) {
		hex = newHexReader(br)
		in = hex
		log.Debug(label + ": hex text")
	}

	if d.Progress {
		stop := d.showProgress(label, size, &counted.n, &s.decoded)
		defer stop()
	}

	r := d.NewReader(in)
	var tracker smarty.Tracker
	var last *smarty.FrameError
	// fe escapes to the heap through errors.As: declared here, it costs
	// one allocation per input instead of one per frame.
	var fe *smarty.FrameError
	for ctx.Err() == nil {
		m, err := r.Next()
		if errors.As(err, &fe) {
			s.record(fe)
			copyFE := *fe
			last = &copyFE
			if log.Enabled(ctx, slog.LevelDebug) {
				log.Debug(fmt.Sprintf("%s: %v", label, err))
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(d.Stderr, "%s: %s: reading stopped at byte %d: %v\n", d.Name, label, r.Stats().BytesRead, err)
			s.readErrors++
			s.readErrorAt = r.Stats().BytesRead
			break
		}
		last = nil
		atomic.AddInt64(&s.decoded, 1)
		for _, e := range tracker.Observe(m) {
			log.Warn(fmt.Sprintf("%s: byte %d: %v", label, e.Offset, e))
		}
		if err := d.Write(m); err != nil {
			return s, fmt.Errorf("writing the telegrams: %w", err)
		}
		if streaming && d.Flush != nil {
			if err := d.Flush(); err != nil {
				return s, fmt.Errorf("writing the telegrams: %w", err)
			}
		}
	}
	// A frame cut by the end of the input is how a capture ends, not a
	// failure.
	st := r.Stats()
	if last != nil && last.Failure() == smarty.FailureTruncated && last.Offset+int64(last.Size) == st.BytesRead && ctx.Err() == nil {
		s.unrecord(last)
		s.tail = last
	}
	s.skipped = st.Skipped
	if hex != nil {
		s.invalid = hex.invalid
	}
	s.tracker = tracker.Counts()
	if d.Progress {
		fmt.Fprint(d.Stderr, "\r\033[K")
	}
	s.Print(d.Stderr, d.Name, label)
	return s, nil
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n int64 // atomic
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(&c.n, int64(n))
	return n, err
}

// showProgress redraws a progress line on stderr five times a second
// until the returned function is called.
func (d *Decoder) showProgress(label string, size int64, read, decoded *int64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			n, k := atomic.LoadInt64(read), atomic.LoadInt64(decoded)
			line := fmt.Sprintf("%s: %.1f MB", label, float64(n)/1e6)
			if size > 0 {
				const width = 30
				frac := min(1, float64(n)/float64(size))
				bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
				line = fmt.Sprintf("%s: [%s] %3.0f%% of %.1f MB", label, bar, 100*frac, float64(size)/1e6)
			}
			fmt.Fprintf(d.Stderr, "\r\033[K%s, %d telegrams", line, k)
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
