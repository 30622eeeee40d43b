package faults

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// meter makes the frames of a simulated meter in the test, so that they
// can be bent: its key is the suite's, its telegrams those of
// SmartySimulator -seed seed.
type meter struct {
	m      *sim.Meter
	framer *sim.Framer
}

func newMeter(t *testing.T, seed uint64, counter uint32) *meter {
	t.Helper()
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := time.Parse(time.RFC3339, start)
	return &meter{
		m:      sim.New(sim.Config{Seed: seed, Start: st}),
		framer: &sim.Framer{Cipher: smarty.NewCipher(smarty.Key(key), smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(seed), Counter: counter},
	}
}

// frame returns the meter's next frame, its telegram changed by edit
// (nil: as it is) and its CRC made right again.
func (mt *meter) frame(t *testing.T, edit func(tg string) string) []byte {
	t.Helper()
	tg := string(mt.m.AppendTelegram(nil))
	if edit != nil {
		tg = edit(tg)
		body := tg[:strings.LastIndexByte(tg, '!')+1]
		tg = fmt.Sprintf("%s%04X\r\n", body, dsmr.Checksum([]byte(body)))
	}
	f, err := mt.framer.AppendFrame(nil, []byte(tg))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// plain returns the meter's next telegram, not encrypted.
func (mt *meter) plain() []byte {
	mt.framer.Counter++ // keep the encrypted frames' counters in step
	return mt.m.AppendTelegram(nil)
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var connections = regexp.MustCompile(`at exit: .* (\d+) connections`)

func connectionsAtExit(t *testing.T, p *proc) int {
	t.Helper()
	m := connections.FindStringSubmatch(p.stderr())
	if m == nil {
		t.Fatal("no counts at exit")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestMeterIDForgesNoLine sends a frame of the meter whose meter id
// decodes to a newline and a whole forged glog line: it is published (it
// authenticates) but no log line starts with the forgery, and one stray
// meter id does not make the publisher reconnect.
func TestMeterIDForgesNoLine(t *testing.T) {
	_, url := broker(t)
	sub := subscriber(t, url)
	mt := newMeter(t, 7, counter0)
	const forged = "E1202 00:00:00.000000 1 forged.go:1] FORGED"
	var data []byte
	for i := range 6 {
		var edit func(string) string
		if i == 3 {
			edit = func(tg string) string {
				id := hex.EncodeToString([]byte("SAG\n" + forged))
				return regexp.MustCompile(`0-0:42\.0\.0\([0-9A-F]+\)`).ReplaceAllString(tg, "0-0:42.0.0("+strings.ToUpper(id)+")")
			}
		}
		data = append(data, mt.frame(t, edit)...)
	}
	p := publisher(t, "-device", writeFile(t, data), "-mqttBroker", url)
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	exactlyOnce(t, waitCounter(t, sub, counter0+5), seq(counter0, counter0+5))
	for _, p := range []string{filepath.Join(p.dir, "stderr")} {
		data, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, forged[:10]) {
				t.Errorf("a forged log line: %q", line)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(p.dir, "log", "*.log.*"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte("\n"+forged)) {
			t.Errorf("%s holds a forged line", filepath.Base(f))
		}
	}
	if !strings.Contains(p.stderr(), `SAG\n`+forged) {
		t.Error("the odd meter id is not shown, escaped, anywhere in the log")
	}
	if strings.Contains(p.stderr(), "meter id changed to") || connectionsAtExit(t, p) > 2 {
		t.Error("one stray meter id made the publisher reconnect")
	}
	noLeak(t, p)
}

// TestAlternatingMeters interleaves the frames of two meters (one line
// for two meters, or one forging the other): the publisher delivers every
// telegram and does not reconnect for each (it used to).
func TestAlternatingMeters(t *testing.T) {
	_, url := broker(t)
	sub := subscriber(t, url)
	a, b := newMeter(t, 7, counter0), newMeter(t, 8, counter0+1000)
	var data []byte
	var want []int
	const n = 10
	for i := range n {
		data = append(data, a.frame(t, nil)...)
		data = append(data, b.frame(t, nil)...)
		want = append(want, counter0+i, counter0+1000+i)
	}
	p := publisher(t, "-device", writeFile(t, data), "-mqttBroker", url)
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	got := waitCounter(t, sub, counter0+1000+n-1)
	if len(got) != len(want) {
		t.Errorf("%d telegrams received, want %d", len(got), len(want))
	}
	// Two: the one made at start, before the meter id was known, and
	// the meter's.
	if c := connectionsAtExit(t, p); c > 2 {
		t.Errorf("%d connections, want at most 2", c)
	}
	noLeak(t, p)
}

// TestPlainInjected puts plain telegrams, which anyone on the line could
// send, among the meter's frames: with the key they are refused (counted,
// logged a few times, never delivered); with -allowPlain they are
// delivered.
func TestPlainInjected(t *testing.T) {
	_, url := broker(t)
	mt := newMeter(t, 7, counter0)
	var data []byte
	const n = 12
	for i := range n {
		if i%3 == 1 {
			data = append(data, mt.plain()...)
		} else {
			data = append(data, mt.frame(t, nil)...)
		}
	}
	input := writeFile(t, data)
	t.Run("refused", func(t *testing.T) {
		sub := subscriber(t, url)
		p := publisher(t, "-device", input, "-mqttBroker", url)
		if status := p.wait(); status != 0 {
			t.Errorf("exit status %d, want 0", status)
		}
		got := frameCounters(t, sub.Barrier(t))
		var want []int
		for i := range n {
			if i%3 != 1 {
				want = append(want, counter0+i)
			}
		}
		exactlyOnce(t, got, want)
		if c := p.count("plain telegram, though a key was given"); c == 0 || c > 5 {
			t.Errorf("the refused plain telegrams were logged %d times, want 1 to 5", c)
		}
		noLeak(t, p)
	})
	t.Run("allowed", func(t *testing.T) {
		sub := subscriber(t, url)
		p := publisher(t, "-device", input, "-mqttBroker", url, "-allowPlain")
		if status := p.wait(); status != 0 {
			t.Errorf("exit status %d, want 0", status)
		}
		// Plain telegrams carry no frame counter: count the telegrams
		// (not the retained one the subscription starts with).
		live := 0
		for _, m := range sub.Barrier(t) {
			if !m.Retained {
				live++
			}
		}
		if live != n {
			t.Errorf("%d telegrams delivered, want %d", live, n)
		}
		noLeak(t, p)
	})
}

// TestEmptyFramesFlood reads a file of one million empty frames (a
// header, length 0): a handful of log lines and a count, not a line each
// (it used to log one million).
func TestEmptyFramesFlood(t *testing.T) {
	slow(t)
	_, url := broker(t)
	title := sim.SystemTitle(7)
	empty := append(append([]byte{0xDB, 0x08}, title[:]...), 0x00, 0x30, 0, 0, 0, 1)
	mt := newMeter(t, 7, counter0)
	data := append(bytes.Repeat(empty, 1_000_000), mt.frame(t, nil)...)
	// At the default verbosity: -v 1 shows every failure, as documented.
	p := publisher(t, "-device", writeFile(t, data), "-mqttBroker", url, "-v", "0")
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	lines := strings.Count(p.stderr(), "\n")
	t.Logf("%d log lines for one million empty frames", lines)
	if lines > 100 {
		t.Errorf("%d log lines, want a handful", lines)
	}
	if !strings.Contains(p.stderr(), "1 telegrams delivered") {
		t.Error("the telegram after the flood was not delivered")
	}
	noLeak(t, p)
}

// TestNoiseIsNotAWrongKey writes 70 MB of random bytes, then the meter's
// frames, into a pseudo-terminal: the random bytes hold thousands of
// plausible frame headers, each with a system title of its own, which
// must not be taken for the meter's frames failing (the commands used to
// exit with "wrong key" after three). The frames after the noise are
// delivered, and the log stays short.
func TestNoiseIsNotAWrongKey(t *testing.T) {
	slow(t)
	_, url := broker(t)
	sub := subscriber(t, url)
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	name := slave.Name()
	slave.Close()
	p := publisher(t, "-device", name, "-mqttBroker", url)
	p.waitLog("reading " + name)
	rng := rand.New(rand.NewPCG(70, 70))
	buf := make([]byte, 1<<20)
	const noise = 70 << 20
	for sent := 0; sent < noise; sent += len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := master.Write(buf); err != nil {
			t.Fatalf("writing the noise: %v", err)
		}
	}
	mt := newMeter(t, 7, counter0)
	const n = 5
	for range n {
		if _, err := master.Write(mt.frame(t, nil)); err != nil {
			t.Fatal(err)
		}
	}
	got := waitCounter(t, sub, counter0+n-1)
	if !p.running() {
		t.Fatal("MQTTPublisher ended")
	}
	if status := p.stop(syscall.SIGTERM); status != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", status)
	}
	exactlyOnce(t, got[len(got)-min(len(got), n):], seq(counter0, counter0+n-1))
	if strings.Contains(p.stderr(), "none decrypted") {
		t.Error("the noise was taken for a wrong key")
	}
	lines := strings.Count(p.stderr(), "\n")
	t.Logf("%d log lines for 70 MB of noise", lines)
	if lines > 100 {
		t.Errorf("%d log lines for the noise, want a handful", lines)
	}
	noLeak(t, p)
}
