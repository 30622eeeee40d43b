package offline

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// maxOffsets bounds the byte offsets the summary lists per class; -v 1
// logs every failed frame.
const maxOffsets = 10

// Summary is what one input (or, added up, all of them) held.
type Summary struct {
	decoded     int64
	skipped     int64
	invalid     int64 // characters of a hex dump that were not hex digits
	failures    map[smarty.Failure]*failure
	readErrors  int64
	readErrorAt int64
	tail        *smarty.FrameError // the input ended inside a frame
	tracker     smarty.TrackerCounts
}

// failure is how many frames failed for one class, and where.
type failure struct {
	count   int64
	offsets []int64
}

// Decoded returns how many telegrams decoded.
func (s *Summary) Decoded() int64 { return s.decoded }

// Failed returns how many frames failed, read errors included.
func (s *Summary) Failed() int64 {
	n := s.readErrors
	for _, f := range s.failures {
		n += f.count
	}
	return n
}

// ByFailure returns how many frames failed of class c.
func (s *Summary) ByFailure(c smarty.Failure) int64 {
	if f := s.failures[c]; f != nil {
		return f.count
	}
	return 0
}

// Add adds the counts of o (not its byte offsets).
func (s *Summary) Add(o Summary) {
	s.decoded += o.decoded
	s.skipped += o.skipped
	s.invalid += o.invalid
	s.readErrors += o.readErrors
	for c, f := range o.failures {
		if s.failures == nil {
			s.failures = map[smarty.Failure]*failure{}
		}
		if g := s.failures[c]; g != nil {
			g.count += f.count
		} else {
			s.failures[c] = &failure{count: f.count}
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

// Counts says on one line how many telegrams decoded, frames failed and
// bytes were skipped.
func (s *Summary) Counts() string {
	return fmt.Sprintf("%s decoded, %s failed, %s skipped",
		plural(s.decoded, "telegram", "telegrams"), plural(s.Failed(), "frame", "frames"),
		plural(s.skipped, "byte", "bytes"))
}

// record counts a frame that failed.
func (s *Summary) record(fe *smarty.FrameError) {
	if s.failures == nil {
		s.failures = map[smarty.Failure]*failure{}
	}
	c := fe.Failure()
	f := s.failures[c]
	if f == nil {
		f = new(failure)
		s.failures[c] = f
	}
	f.count++
	if len(f.offsets) < maxOffsets {
		f.offsets = append(f.offsets, fe.Offset)
	}
}

// unrecord takes back the count of fe, the last frame recorded.
func (s *Summary) unrecord(fe *smarty.FrameError) {
	c := fe.Failure()
	f := s.failures[c]
	if f == nil {
		return
	}
	f.count--
	if n := len(f.offsets); n > 0 && f.offsets[n-1] == fe.Offset {
		f.offsets = f.offsets[:n-1]
	}
	if f.count == 0 {
		delete(s.failures, c)
	}
}

// failureTexts says, in the summary, why frames failed and what it may
// mean, in the terms of OfflineDecryption's flags.
var failureTexts = map[smarty.Failure]struct{ reason, hint string }{
	smarty.FailureAuth:        {"authentication failed", "wrong key, another authentication key (-authKey), or a damaged frame"},
	smarty.FailureNoKey:       {"encrypted, but no key", cli.NoKeyHint},
	smarty.FailurePlain:       {"plain telegram refused, a key was given", "if the meter really sends plain telegrams, give -allowPlain"},
	smarty.FailureTruncated:   {"cut short", "a glitch or a reconnect on the line"},
	smarty.FailureTooLarge:    {"too large", ""},
	smarty.FailureHeader:      {"malformed frame header", ""},
	smarty.FailureNotTelegram: {"not a telegram", ""},
	smarty.FailureCRC:         {"CRC mismatch", "the telegram was damaged"},
	smarty.FailureSyntax:      {"malformed telegram", ""},
	smarty.FailureOther:       {"other error", ""},
}

// line is one line of the failures in a summary.
type line struct {
	count   int64
	reason  string
	hint    string
	offsets []int64
}

// Print writes the summary of one input, each line after name.
func (s *Summary) Print(w io.Writer, name, input string) {
	// A wrong key fails every frame: say so in one line.
	if f := s.failures[smarty.FailureAuth]; s.decoded == 0 && len(s.failures) == 1 && s.readErrors == 0 && f != nil {
		which := "its only frame"
		if f.count > 1 {
			which = fmt.Sprintf("all %d frames", f.count)
		}
		fmt.Fprintf(w, "%s: %s: authentication failed for %s (the first at byte %d): wrong key, or the meter uses another authentication key (-authKey)\n",
			name, input, which, f.offsets[0])
		return
	}
	fmt.Fprintf(w, "%s: %s: %s\n", name, input, s.Counts())
	lines := make([]line, 0, len(s.failures)+1)
	for c, f := range s.failures {
		t := failureTexts[c]
		lines = append(lines, line{f.count, t.reason, t.hint, f.offsets})
	}
	if s.readErrors > 0 {
		lines = append(lines, line{s.readErrors, "read error", "", []int64{s.readErrorAt}})
	}
	sort.Slice(lines, func(i, j int) bool {
		return lines[i].count > lines[j].count || lines[i].count == lines[j].count && lines[i].reason < lines[j].reason
	})
	for _, f := range lines {
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
	case s.decoded > 0 || len(s.failures) > 0 || s.readErrors > 0 || s.tail != nil:
	case s.skipped == 0:
		fmt.Fprintf(w, "  the input is empty\n")
	default:
		fmt.Fprintf(w, "  no frame found: this is not a capture of a P1 port (frames start with byte 0xDB, plain telegrams with '/')\n")
	}
}
