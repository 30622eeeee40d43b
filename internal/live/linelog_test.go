package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// vouched returns a telegram with the given identification line and object
// lines, and a CRC that vouches for it.
func vouched(t *testing.T, header string, lines ...string) []byte {
	t.Helper()
	text := "/" + header + "\r\n\r\n0-0:42.0.0(53414731303330373030313134303034)\r\n" + strings.Join(lines, "\r\n") + "\r\n!"
	text += fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(text)))
	tg, err := dsmr.Parse([]byte(text))
	if err != nil || len(tg.LineErrors()) == 0 {
		t.Fatalf("the test telegram parses with %v and %d lines left out", err, len(tg.LineErrors()))
	}
	return []byte(text)
}

// TestLineErrorsLogged: a line left out of a telegram its CRC vouches for
// is logged once per identification line and text, with what came from
// the meter escaped.
func TestLineErrorsLogged(t *testing.T) {
	c := testCipher()
	frame := func(counter uint32, plain []byte) fakeStep {
		return fakeStep{frame: c.Seal(nil, testTitle, counter, plain)}
	}
	bad := "1-0:1.8.0(123*kWh"               // no ')'
	forged := "1-0:99.1.0(x\x1b[2J\"\\)tail" // an escape sequence, a quote, text after ')'
	a := vouched(t, "ABC5 one", "1-0:1.7.0(00.250*kW)", bad)
	steps := []fakeStep{
		frame(1, a), frame(2, a), frame(3, a), // the same line: once
		frame(4, vouched(t, "XYZ5 two", bad)),    // another kind of telegram: again
		frame(5, vouched(t, "ABC5 one", forged)), // another line: again
		frame(6, a),
	}
	var log logBuffer
	rec := new(recorder)
	l := NewLoop(&fakeSource{steps: steps, end: io.EOF}, LoopConfig{Device: "/dev/ttyUSB0", Log: log.logger()})
	l.Add(rec)
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.readings) != 6 {
		t.Fatalf("%d telegrams delivered, want all 6", len(rec.readings))
	}
	var warns []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(line, "level=WARN") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 3 {
		t.Fatalf("%d warnings, want 3:\n%s", len(warns), log.String())
	}
	for k, want := range []string{`ABC5 one`, `XYZ5 two`, `ABC5 one`} {
		if !strings.Contains(warns[k], want) || !strings.Contains(warns[k], "/dev/ttyUSB0") || !strings.Contains(warns[k], "SAG1030700114004") {
			t.Errorf("warning %d does not name %q, the device and the meter: %s", k, want, warns[k])
		}
	}
	if !strings.Contains(warns[0], "line 5") || !strings.Contains(warns[0], "123*kWh") {
		t.Errorf("the warning does not show the line: %s", warns[0])
	}
	// The message itself, as a handler that does not quote (glog's)
	// would write it.
	var raw rawMessages
	newLineLog(slog.New(&raw), "dev").add(rec.readings[4])
	if len(raw) != 1 || strings.ContainsAny(raw[0], "\x1b\n\r") || !strings.Contains(raw[0], `(x\x1b[2J\"\\)tail"`) {
		t.Errorf("the meter's text is not escaped in the message: %q", raw)
	}
}

// rawMessages is a slog.Handler that keeps the messages as they are.
type rawMessages []string

func (r *rawMessages) Enabled(context.Context, slog.Level) bool { return true }
func (r *rawMessages) Handle(_ context.Context, rec slog.Record) error {
	*r = append(*r, rec.Message)
	return nil
}
func (r *rawMessages) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *rawMessages) WithGroup(string) slog.Handler      { return r }

// TestLineLogBounded: the lines remembered stay within max; past it one
// warning says so and the rest go to debug.
func TestLineLogBounded(t *testing.T) {
	var log logBuffer
	l := newLineLog(log.logger(), "dev")
	l.max = 3
	for n := range 10 {
		var m smarty.Message
		if err := m.Telegram.UnmarshalText(vouched(t, "ABC5 one", fmt.Sprintf("1-0:1.8.0(%d", n))); err != nil {
			t.Fatal(err)
		}
		l.add(NewReading(&m, time.Now()))
	}
	if len(l.seen) != 3 {
		t.Errorf("%d lines remembered, want at most 3", len(l.seen))
	}
	warn, debug := strings.Count(log.String(), "level=WARN"), strings.Count(log.String(), "level=DEBUG")
	if warn != 4 || debug != 6 || !strings.Contains(log.String(), "debug level only") {
		t.Errorf("%d warnings and %d debug lines, want 4 (one saying the rest go to debug) and 6:\n%s", warn, debug, log.String())
	}
	long := strings.Repeat("x", 1000)
	if got := shown(long); len(got) > maxLineShown+10 || !strings.HasSuffix(got, "...") {
		t.Errorf("shown of 1000 bytes is %d bytes long", len(got))
	}
}
