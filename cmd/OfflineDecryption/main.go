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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang/glog"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func main() { cli.Main(run) }

const name = "OfflineDecryption"

// peekSize is how much of a dump is looked at to tell hex text from raw
// bytes.
const peekSize = 4096

// maxOffsets bounds the byte offsets the summary lists per reason; -v 1
// logs every failed frame.
const maxOffsets = 10

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
		if err := checkFile(n); err != nil {
			return err
		}
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	quarters, err := qf.output(fset, out)
	if err != nil {
		return err
	}
	d := &decoder{
		quarters: quarters,
		keys:     keys,
		cipher:   c,
		out:      format.NewWriter(out, *kind),
		buffered: out,
		stderr:   stderr,
		progress: cli.IsTerminal(stderr),
	}
	var total summary
	for _, n := range names {
		s, err := d.file(ctx, n, stdin)
		total.add(s)
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
		fmt.Fprintf(stderr, "%s: all %d inputs: %s\n", name, len(names), total.counts())
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: interrupted\n", name)
		return cli.ErrReported
	}
	if total.failed() > 0 || total.decoded == 0 {
		return cli.ErrReported
	}
	return nil
}

// checkFile turns a file that cannot be read into one line that says why.
func checkFile(n string) error {
	f, err := os.Open(n)
	switch {
	case err == nil:
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return cli.Usagef("%s is a directory, not a dump", n)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return cli.Usagef("%s: no such file", n)
	case errors.Is(err, fs.ErrPermission):
		return cli.Usagef("%s: permission denied: make it readable by this user", n)
	}
	return &cli.UsageError{Err: err}
}

type decoder struct {
	quarters *quarterOutput // -quarters
	keys     *cli.KeyFlags
	cipher   *smarty.Cipher
	out      *format.Writer
	buffered *bufio.Writer
	stderr   io.Writer
	progress bool
}

// summary is what one input (or all of them) held.
type summary struct {
	decoded  int64
	skipped  int64
	invalid  int64 // characters of a hex dump that were not hex digits
	failures map[string]*failure
	tail     *smarty.FrameError // the input ended inside a frame
	tracker  smarty.TrackerCounts
}

// failure is one reason frames failed for, with where.
type failure struct {
	reason  string
	count   int64
	offsets []int64
	hint    string
}

func (s *summary) failed() int64 {
	var n int64
	for _, f := range s.failures {
		n += f.count
	}
	return n
}

func (s *summary) add(o summary) {
	s.decoded += o.decoded
	s.skipped += o.skipped
	s.invalid += o.invalid
	for k, f := range o.failures {
		if s.failures == nil {
			s.failures = map[string]*failure{}
		}
		if g := s.failures[k]; g != nil {
			g.count += f.count
		} else {
			s.failures[k] = &failure{reason: f.reason, count: f.count, hint: f.hint}
		}
	}
	s.tracker.Add(o.tracker)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (s *summary) counts() string {
	return fmt.Sprintf("%s decoded, %s failed, %s skipped",
		plural(s.decoded, "telegram", "telegrams"), plural(s.failed(), "frame", "frames"),
		plural(s.skipped, "byte", "bytes"))
}

// record counts a frame that failed.
func (s *summary) record(fe *smarty.FrameError) {
	r := failureTexts[fe.Failure()]
	reason, hint := r.reason, r.hint
	if s.failures == nil {
		s.failures = map[string]*failure{}
	}
	f := s.failures[reason]
	if f == nil {
		f = &failure{reason: reason, hint: hint}
		s.failures[reason] = f
	}
	f.count++
	if len(f.offsets) < maxOffsets {
		f.offsets = append(f.offsets, fe.Offset)
	}
}

// failureTexts says, in the summary, why frames failed and what it may mean.
var failureTexts = map[smarty.Failure]struct{ reason, hint string }{
	smarty.FailureAuth:        {"authentication failed", "wrong key, another authentication key (-authKey), or a damaged frame"},
	smarty.FailureNoKey:       {"encrypted, but no key", cli.NoKeyHint},
	smarty.FailureTruncated:   {"cut short", "a glitch or a reconnect on the line"},
	smarty.FailureTooLarge:    {"too large", ""},
	smarty.FailureHeader:      {"malformed frame header", ""},
	smarty.FailureNotTelegram: {"not a telegram", ""},
	smarty.FailureCRC:         {"CRC mismatch", "the telegram was damaged"},
	smarty.FailureSyntax:      {"malformed telegram", ""},
	smarty.FailureOther:       {"other error", ""},
}

// print writes the summary of one input.
func (s *summary) print(w io.Writer, input string) {
	// A wrong key fails every frame: say so in one line.
	if f := s.failures["authentication failed"]; s.decoded == 0 && len(s.failures) == 1 && f != nil {
		which := "its only frame"
		if f.count > 1 {
			which = fmt.Sprintf("all %d frames", f.count)
		}
		fmt.Fprintf(w, "%s: %s: authentication failed for %s (the first at byte %d): wrong key, or the meter uses another authentication key (-authKey)\n",
			name, input, which, f.offsets[0])
		return
	}
	fmt.Fprintf(w, "%s: %s: %s\n", name, input, s.counts())
	reasons := make([]*failure, 0, len(s.failures))
	for _, f := range s.failures {
		reasons = append(reasons, f)
	}
	sort.Slice(reasons, func(i, j int) bool {
		return reasons[i].count > reasons[j].count || reasons[i].count == reasons[j].count && reasons[i].reason < reasons[j].reason
	})
	for _, f := range reasons {
		var b strings.Builder
		fmt.Fprintf(&b, "  %d %s", f.count, f.reason)
		if f.hint != "" {
			fmt.Fprintf(&b, " (%s)", f.hint)
		}
		if len(f.offsets) == 1 {
			fmt.Fprintf(&b, " at byte %d", f.offsets[0])
		} else {
			b.WriteString(" at bytes ")
			for k, o := range f.offsets {
				if k > 0 {
					b.WriteString(", ")
				}
				fmt.Fprint(&b, o)
			}
			if more := f.count - int64(len(f.offsets)); more > 0 {
				fmt.Fprintf(&b, " and %d more (-v 1 logs each)", more)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	if s.tail != nil {
		fmt.Fprintf(w, "  the input ends inside a frame that starts at byte %d (%s): normal for a capture that was stopped\n",
			s.tail.Offset, plural(int64(s.tail.Size), "byte", "bytes"))
	}
	if s.invalid > 0 {
		fmt.Fprintf(w, "  %s in the hex text were not hex digits and were skipped\n", plural(s.invalid, "character", "characters"))
	}
	if t := s.tracker; t.Anomalies() > 0 {
		fmt.Fprintf(w, "  %s\n", t)
	}
	switch {
	case s.decoded > 0 || len(s.failures) > 0 || s.tail != nil:
	case s.skipped == 0:
		fmt.Fprintf(w, "  the input is empty\n")
	default:
		fmt.Fprintf(w, "  no frame found: this is not a capture of a P1 port (frames start with byte 0xDB, plain telegrams with '/')\n")
	}
}

// file decodes one input. The error is for what stops everything (a
// failed write of the output); what is wrong with the input goes into
// the summary.
func (d *decoder) file(ctx context.Context, input string, stdin io.Reader) (summary, error) {
	var s summary
	var src io.Reader
	var size int64 = -1
	label := input
	streaming := true
	if input == "-" {
		src, label = stdin, "standard input"
	} else {
		f, err := os.Open(input)
		if err != nil {
			// Checked before; it went away since.
			return s, &cli.UsageError{Err: err}
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
		glog.V(1).Infof("%s: hex text", label)
	}

	if d.progress {
		stop := d.showProgress(label, size, &counted.n, &s.decoded)
		defer stop()
	}

	r := d.keys.NewReader(in, d.cipher)
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
			glog.V(1).Infof("%s: %v", label, err)
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(d.stderr, "%s: %s: reading stopped at byte %d: %v\n", name, label, r.Stats().BytesRead, err)
			s.failures = nonNil(s.failures)
			s.failures["read error"] = &failure{reason: "read error", count: 1, offsets: []int64{r.Stats().BytesRead}}
			break
		}
		last = nil
		atomic.AddInt64(&s.decoded, 1)
		for _, e := range tracker.Observe(m) {
			glog.Warningf("%s: byte %d: %v", label, e.Offset, e)
		}
		if err := d.write(m); err != nil {
			return s, fmt.Errorf("writing the telegrams: %w", err)
		}
		if streaming {
			if err := d.buffered.Flush(); err != nil {
				return s, fmt.Errorf("writing the telegrams: %w", err)
			}
		}
	}
	// A frame cut by the end of the input is how a capture ends, not a
	// failure.
	st := r.Stats()
	if last != nil && last.Failure() == smarty.FailureTruncated && last.Offset+int64(last.Size) == st.BytesRead && ctx.Err() == nil {
		reason := failureTexts[smarty.FailureTruncated].reason
		if f := s.failures[reason]; f != nil {
			f.count--
			if n := len(f.offsets); n > 0 && f.offsets[n-1] == last.Offset {
				f.offsets = f.offsets[:n-1]
			}
			if f.count == 0 {
				delete(s.failures, reason)
			}
		}
		s.tail = last
	}
	s.skipped = st.Skipped
	if hex != nil {
		s.invalid = hex.invalid
	}
	s.tracker = tracker.Counts()
	if d.progress {
		fmt.Fprint(d.stderr, "\r\033[K")
	}
	s.print(d.stderr, label)
	return s, nil
}

func nonNil(m map[string]*failure) map[string]*failure {
	if m == nil {
		return map[string]*failure{}
	}
	return m
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
func (d *decoder) showProgress(label string, size int64, read, decoded *int64) func() {
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
			fmt.Fprintf(d.stderr, "\r\033[K%s, %d telegrams", line, k)
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
