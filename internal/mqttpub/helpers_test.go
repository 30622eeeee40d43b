package mqttpub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// testTitle is the system title of the simulated meter.
var testTitle = [8]byte{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x54}

// makeTelegram returns a Smarty-like telegram whose readings depend on n:
// energy grows with n, power cycles, the voltage stays put. Its timestamp
// is 10 s per n after 2020-07-06 10:00:00 CEST.
func makeTelegram(n int) []byte {
	ts := time.Date(2020, 7, 6, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * 10 * time.Second)
	var b strings.Builder
	b.WriteString("/Lux5\\253694471_M\r\n\r\n")
	fmt.Fprintf(&b, "1-3:0.2.8(42)\r\n")
	fmt.Fprintf(&b, "0-0:1.0.0(%sS)\r\n", ts.Format("060102150405"))
	fmt.Fprintf(&b, "0-0:42.0.0(53414731303330373930303032353734)\r\n")
	fmt.Fprintf(&b, "1-0:1.8.0(%010.3f*kWh)\r\n", 25.653+float64(n)/1000)
	fmt.Fprintf(&b, "1-0:2.8.0(000000.040*kWh)\r\n")
	fmt.Fprintf(&b, "1-0:1.7.0(%06.3f*kW)\r\n", float64(n%7)/10)
	fmt.Fprintf(&b, "1-0:32.7.0(233.0*V)\r\n")
	fmt.Fprintf(&b, "0-1:24.1.0(003)\r\n")
	fmt.Fprintf(&b, "0-1:24.2.1(200706103140S)(%09.3f*m3)\r\n", 0.006+float64(n/10)/1000)
	b.WriteString("!")
	crc := dsmr.Checksum([]byte(b.String()))
	fmt.Fprintf(&b, "%04X\r\n", crc)
	return []byte(b.String())
}

// reading returns the telegram n as an encrypted frame with frame counter
// n would give it.
func reading(n int) Reading {
	return Reading{
		Telegram:     makeTelegram(n),
		Encrypted:    true,
		SystemTitle:  testTitle,
		FrameCounter: uint32(n),
		Received:     time.Date(2020, 7, 6, 8, 0, 0, 0, time.UTC).Add(time.Duration(n) * 10 * time.Second),
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logRecorder collects log lines.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
	done  bool
}

func newLog(t testing.TB) *logRecorder {
	l := &logRecorder{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

// logger returns a logger whose lines go to l, as "warning: ..." or
// "info: ...".
func (l *logRecorder) logger() *slog.Logger { return slog.New(recordHandler{l}) }

type recordHandler struct{ l *logRecorder }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	level := "info"
	if r.Level >= slog.LevelWarn {
		level = "warning"
	}
	h.l.add(level + ": " + r.Message)
	return nil
}

func (l *logRecorder) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(line)
	}
	l.lines = append(l.lines, line)
}

func (l *logRecorder) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// waitFor waits until a line containing s has been logged.
func (l *logRecorder) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		for _, line := range l.all() {
			if strings.Contains(line, s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for a log line with %q; log: %q", s, l.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
