package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/golang/glog"
)

// Logger returns the logger the commands hand to the packages below them,
// its messages prefixed with "part: " when part is not empty ("mqtt: lost
// the connection ..."):
// a *slog.Logger whose records go to glog, so that glog's flags (-v,
// -vmodule, -log_dir, -stderrthreshold, ...) decide where they go and
// which are kept.
//
// Levels map to glog's severities: Debug is Info at verbosity 1 (shown
// with -v 1, or -vmodule for the file that logged it), anything below
// Debug (LevelTrace) at verbosity 2, Info is Info, Warn
// is Warning, Error and above are Error. Each line is attributed to the
// file and line that called the slog.Logger. Attributes follow the message
// as key=value, groups as group.key=value.
func Logger(part string) *slog.Logger {
	h := &glogHandler{emit: glogEmit}
	if part != "" {
		h.name = part + ": "
	}
	return slog.New(h)
}

type glogHandler struct {
	emit   func(level slog.Level, depth int, msg string)
	name   string // "part: " before every message
	attrs  string // preformatted " k=v" of WithAttrs
	prefix string // group prefix "g.h." of WithGroup
}

// glogEmit writes one line through glog; depth counts from Handle.
func glogEmit(level slog.Level, depth int, msg string) {
	depth++ // this function
	switch {
	case level >= slog.LevelError:
		glog.ErrorDepth(depth, msg)
	case level >= slog.LevelWarn:
		glog.WarningDepth(depth, msg)
	case level >= slog.LevelInfo,
		level >= slog.LevelDebug && bool(glog.VDepth(depth, 1)),
		bool(glog.VDepth(depth, 2)):
		glog.InfoDepth(depth, msg)
	}
}

// LevelTrace is below slog.LevelDebug: a line for every telegram, shown
// with -v 2.
const LevelTrace = slog.LevelDebug - 4

// Enabled lets Debug records through to Handle, which checks -v and
// -vmodule against the file that logged them, when they may be shown:
// -v is 1 or more, or -vmodule is set. Otherwise it says no, so that a
// caller that checks (a flood of bad frames, each logged at Debug) does
// not put every record into words for nothing.
func (h *glogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || debugShown()
}

// debugShown reports whether a Debug record may be shown: -v 1 or more,
// or any -vmodule.
func debugShown() bool {
	if glog.V(1) {
		return true
	}
	f := flag.Lookup("vmodule")
	return f != nil && f.Value.String() != ""
}

func (h *glogHandler) Handle(_ context.Context, r slog.Record) error {
	depth := callerDepth(r.PC)
	var b strings.Builder
	b.WriteString(h.name)
	writeMessage(&b, r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	h.emit(r.Level, depth, b.String())
	return nil
}

// callerDepth returns the glog depth, counted from Handle, of the frame
// that made the record: the one whose program counter is pc. When it
// cannot be found (a record made by hand), it is the frame slog's own
// methods leave: Handle, Logger.log, Logger.Info, caller.
func callerDepth(pc uintptr) int {
	const fallback = 3
	if pc == 0 {
		return fallback
	}
	var pcs [16]uintptr
	// Skip runtime.Callers, callerDepth and Handle: pcs[0] is the
	// caller of Handle, which is depth 1 for glog.
	n := runtime.Callers(3, pcs[:])
	for i, p := range pcs[:n] {
		if p == pc {
			return i + 1
		}
	}
	return fallback
}

func (h *glogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	return &glogHandler{emit: h.emit, name: h.name, attrs: b.String(), prefix: h.prefix}
}

func (h *glogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &glogHandler{emit: h.emit, name: h.name, attrs: h.attrs, prefix: h.prefix + name + "."}
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := a.Value.String()
	if s == "" || strings.ContainsAny(s, " \t\r\n\"=") {
		s = quote(s)
	}
	b.WriteString(s)
}

// quote writes s in double quotes with control characters escaped, so
// that a value that came from outside cannot start a new log line.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ConsoleLogger returns a logger for what a command that prints to a
// terminal tells its user while it runs: Warn and above go to stderr as
// one line after the command's name ("OnlineDecryption: the frame at byte
// 0 failed authentication; ..."), everything below goes to glog, as
// Logger("") sends it.
func ConsoleLogger(name string, stderr io.Writer) *slog.Logger {
	return slog.New(&consoleHandler{name: name, w: stderr, glog: &glogHandler{emit: glogEmit}})
}

type consoleHandler struct {
	name string
	w    io.Writer
	mu   sync.Mutex
	glog slog.Handler
}

func (h *consoleHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.glog.Enabled(ctx, l)
}

func (h *consoleHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.glog.Handle(ctx, r)
	}
	var b strings.Builder
	b.WriteString(h.name)
	b.WriteString(": ")
	b.WriteString(OneLine(r.Message))
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, "", a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &consoleHandler{name: h.name, w: h.w, glog: h.glog.WithAttrs(attrs)}
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	return &consoleHandler{name: h.name, w: h.w, glog: h.glog.WithGroup(name)}
}

// writeMessage writes a log message with every rune that could start a
// new log line or hide text escaped: control characters, line and
// paragraph separators, bidirectional overrides (whatever strconv.IsPrint
// refuses, but the space) and bytes that are not UTF-8. A message is a
// sentence of ours, but it may carry text from the meter (a meter id
// whose hex decodes to a newline) or the network: that text must not
// forge lines.
func writeMessage(b *strings.Builder, msg string) {
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(b, `\x%02x`, msg[i])
		case r == ' ' || strconv.IsPrint(r):
			b.WriteString(msg[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
		i += size
	}
}
