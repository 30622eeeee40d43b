package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
)

type logLine struct {
	level slog.Level
	where string // file:line that glog would print
	msg   string
}

// recordingLogger is Logger with the glog calls replaced by a recorder that
// resolves the depth the way glog does.
func recordingLogger(lines *[]logLine) *slog.Logger {
	return slog.New(&glogHandler{emit: func(level slog.Level, depth int, msg string) {
		// depth counts from Handle; this func is one frame below it.
		_, file, line, _ := runtime.Caller(depth + 1)
		*lines = append(*lines, logLine{level, fmt.Sprintf("%s:%d", filepath.Base(file), line), msg})
	}})
}

func logHere(l *slog.Logger) string {
	_, file, line, _ := runtime.Caller(0)
	l.Warn("from a helper") // the line after runtime.Caller
	return fmt.Sprintf("%s:%d", filepath.Base(file), line+1)
}

// setV sets glog's -v for the test.
func setV(t *testing.T, v string) {
	f := flag.Lookup("v")
	old := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// TestLoggerDebugEnabled: Debug records are enabled only when they may be
// shown, so that a caller that asks puts none into words for nothing.
func TestLoggerDebugEnabled(t *testing.T) {
	l := Logger("")
	ctx := context.Background()
	setV(t, "0")
	if l.Enabled(ctx, slog.LevelDebug) || !l.Enabled(ctx, slog.LevelInfo) {
		t.Errorf("-v 0: Debug enabled %v, Info %v; want false, true", l.Enabled(ctx, slog.LevelDebug), l.Enabled(ctx, slog.LevelInfo))
	}
	if c := ConsoleLogger("Cmd", io.Discard); c.Enabled(ctx, slog.LevelDebug) || !c.Enabled(ctx, slog.LevelWarn) {
		t.Error("-v 0: the console logger enables Debug, or not Warn")
	}
	setV(t, "1")
	if !l.Enabled(ctx, slog.LevelDebug) {
		t.Error("-v 1: Debug not enabled")
	}
	setV(t, "0")
	vm := flag.Lookup("vmodule")
	if err := vm.Value.Set("stream=1"); err != nil {
		t.Fatal(err)
	}
	defer vm.Value.Set("")
	if !l.Enabled(ctx, slog.LevelDebug) {
		t.Error("-vmodule set: Debug not enabled (Handle decides by file)")
	}
}

func TestLogger(t *testing.T) {
	setV(t, "1")
	var lines []logLine
	l := recordingLogger(&lines)
	_, file, line, _ := runtime.Caller(0)
	l.Info("reading /dev/ttyUSB0", "device", "COM3", "n", 3) // line+1
	l.With("meter", "SAG1030700114004").WithGroup("mqtt").Debug("retry", "in", "2s")
	l.Error("gone", slog.Group("queue", "dir", "/var/lib/x y", "bad", "a\nb\x01"))
	where := logHere(l)
	named := slog.New(&glogHandler{emit: l.Handler().(*glogHandler).emit, name: "mqtt: "})
	named.With("a", 1).Info("connected")
	here := func(d int) string { return fmt.Sprintf("%s:%d", filepath.Base(file), line+d) }
	want := []logLine{
		{slog.LevelInfo, here(1), "reading /dev/ttyUSB0 device=COM3 n=3"},
		{slog.LevelDebug, here(2), "retry meter=SAG1030700114004 mqtt.in=2s"},
		{slog.LevelError, here(3), `gone queue.dir="/var/lib/x y" queue.bad="a\nb\x01"`},
		{slog.LevelWarn, where, "from a helper"},
		{slog.LevelInfo, here(6), "mqtt: connected a=1"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d: %+v", len(lines), len(want), lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, lines[i], want[i])
		}
	}
}

// TestLoggerEscapes: text in a message that could forge a log line (a
// meter id whose hex decodes to a newline and a glog prefix, a
// bidirectional override, a byte that is not UTF-8) is escaped; the line
// stays one line.
func TestLoggerEscapes(t *testing.T) {
	var lines []logLine
	l := recordingLogger(&lines)
	for _, tc := range []struct{ in, want string }{
		{"meter id changed to SAG1\nW1202 12:00:00.000000 1 main.go:1] forged", `meter id changed to SAG1\nW1202 12:00:00.000000 1 main.go:1] forged`},
		{"a\r\tb", `a\r\tb`},
		{"bell\x07 del\x7f", `bell\x07 del\x7f`},
		{"rlo \u202egnp.exe", `rlo \u202egnp.exe`},
		{"line\u2028sep", `line\u2028sep`},
		{"bad \xff byte", `bad \xff byte`},
		{"kWh, m³, 230 V, ünïcödé", "kWh, m³, 230 V, ünïcödé"},
	} {
		lines = lines[:0]
		l.Info(tc.in)
		if len(lines) != 1 || lines[0].msg != tc.want {
			t.Errorf("Info(%q) logged %+v, want %q", tc.in, lines, tc.want)
		}
	}
}
