package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"

	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/creack/pty"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	realBin = "../../testdata/smarty-2018.bin"
	realKey = "../../testdata/smarty-2018.key"
	realTxt = "../../testdata/smarty-2018.txt"
)

// result is what a user sees of one run.
type result struct {
	stdout, stderr string
	err            error
	status         int
}

func runCmd(t testing.TB, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, stdin, &stdout, &stderr)
	var exit bytes.Buffer
	status := cli.Exit(&exit, err)
	return result{stdout.String(), stderr.String() + exit.String(), err, status}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealCapture decrypts the real 2018 frame, raw and as hex text in
// several spellings, from a file and from stdin, and gets the exact
// plaintext.
func TestRealCapture(t *testing.T) {
	frame := readFile(t, realBin)
	want := string(readFile(t, realTxt))
	dir := t.TempDir()
	hexUpper := strings.ToUpper(hex.EncodeToString(frame))
	var wrapped strings.Builder
	for i, c := range hex.EncodeToString(frame) {
		if i > 0 && i%64 == 0 {
			wrapped.WriteString("\r\n")
		} else if i > 0 && i%2 == 0 {
			wrapped.WriteByte(' ')
		}
		wrapped.WriteRune(c)
	}
	wrapped.WriteString("\n")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	upper, spaced := write("upper.hex", hexUpper), write("spaced.hex", wrapped.String())
	tests := []struct {
		name  string
		stdin io.Reader
		args  []string
	}{
		{"raw file", nil, []string{"-keyFile", realKey, realBin}},
		{"raw stdin", bytes.NewReader(frame), []string{"-keyFile", realKey}},
		{"raw stdin dash, one byte at a time", iotest.OneByteReader(bytes.NewReader(frame)), []string{"-keyFile", realKey, "-"}},
		{"hex upper case", nil, []string{"-keyFile", realKey, upper}},
		{"hex lower case, spaces and CRLF", nil, []string{"-keyFile", realKey, spaced}},
		{"hex stdin, one byte at a time", iotest.OneByteReader(strings.NewReader(wrapped.String())), []string{"-keyFile", realKey}},
		{"key in the environment", nil, []string{realBin}},
		{"explicit Luxembourg authKey", nil, []string{"-keyFile", realKey, "-authKey", "00112233445566778899AABBCCDDEEFF", realBin}},
	}
	t.Setenv(cli.KeyEnv, strings.TrimSpace(string(readFile(t, realKey))))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.stdin, tc.args...)
			if r.status != 0 {
				t.Fatalf("exit status %d, stderr:\n%s", r.status, r.stderr)
			}
			if r.stdout != want {
				t.Errorf("stdout:\n%q\nwant exactly testdata/smarty-2018.txt:\n%q", r.stdout, want)
			}
			if !strings.Contains(r.stderr, "1 telegram decoded, 0 frames failed, 0 bytes skipped") {
				t.Errorf("summary:\n%s", r.stderr)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	r := runCmd(t, nil, "-keyFile", realKey, "-format", "json", realBin, realBin)
	if r.status != 0 {
		t.Fatalf("exit status %d: %s", r.status, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per telegram (2):\n%s", len(lines), r.stdout)
	}
	for _, l := range lines {
		var v struct {
			SystemTitle  string `json:"system_title"`
			FrameCounter int    `json:"frame_counter"`
			EquipmentID  string `json:"equipment_id"`
			CRCOK        bool   `json:"crc_ok"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v.SystemTitle != "534147677001BD54" || v.FrameCounter != 0x5A8E3 || v.EquipmentID != "SAG1030700114004" || !v.CRCOK {
			t.Errorf("%+v", v)
		}
	}
	// The same frame twice is a replay: the summary says so.
	if !strings.Contains(r.stderr, "all 2 inputs: 2 telegrams decoded") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

var simKey = smarty.Key{0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 1, 2, 3, 4, 5, 6, 7, 8}

const simKeyHex = "1032547698BADCFE0102030405060708"

// damagedDump is a capture with everything that goes wrong on a real line,
// and what OfflineDecryption must make of it.
type damagedDump struct {
	data     []byte
	want     []byte           // the telegrams of the intact frames, in order
	failures map[int64]string // offset of each bad frame: its reason
	tail     int64            // offset of the frame cut by the end
}

func makeDamagedDump(t testing.TB) damagedDump {
	t.Helper()
	m := sim.New(sim.Config{Seed: 11})
	f := &sim.Framer{Cipher: smarty.NewCipher(simKey, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(11), Counter: 500}
	next := func() (frame, telegram []byte) {
		telegram = m.AppendTelegram(nil)
		frame, err := f.AppendFrame(nil, telegram)
		if err != nil {
			t.Fatal(err)
		}
		return frame, telegram
	}
	d := damagedDump{failures: map[int64]string{}}
	good := func() {
		frame, tg := next()
		d.data = append(d.data, frame...)
		d.want = append(d.want, tg...)
	}
	noise := func(n int) {
		for i := range n {
			d.data = append(d.data, byte(i*37+11)&0x7F|0x40) // never 0xDB or '/'
		}
	}

	// The capture starts in the middle of a frame.
	frame, _ := next()
	d.data = append(d.data, frame[len(frame)-300:]...)
	good()
	noise(57)
	good()
	// A frame torn by a glitch: its first 300 bytes, then the next frame.
	frame, _ = next()
	d.failures[int64(len(d.data))] = "cut short"
	d.data = append(d.data, frame[:300]...)
	good()
	// A frame with one bit flipped in its ciphertext.
	frame, _ = next()
	frame[100] ^= 0x04
	d.failures[int64(len(d.data))] = "authentication failed"
	d.data = append(d.data, frame...)
	noise(3)
	// Plain telegrams on the same line, which a key refuses: one intact
	// (refused as plain), one damaged (its CRC fails first).
	tg := m.AppendTelegram(nil)
	d.failures[int64(len(d.data))] = "plain telegram refused"
	d.data = append(d.data, tg...)
	tg = m.AppendTelegram(nil)
	i := bytes.Index(tg, []byte("1-0:1.8.0(")) + 12
	tg[i] ^= 1 // a digit of the energy register
	d.failures[int64(len(d.data))] = "CRC mismatch"
	d.data = append(d.data, tg...)
	good()
	good()
	// The capture stops in the middle of a frame.
	frame, _ = next()
	d.tail = int64(len(d.data))
	d.data = append(d.data, frame[:200]...)
	return d
}

// TestDamagedDump decodes every intact frame of a damaged capture and
// reports each bad one with its byte offset, from a raw dump and from the
// same bytes as hex text.
func TestDamagedDump(t *testing.T) {
	d := makeDamagedDump(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "damaged.bin")
	if err := os.WriteFile(raw, d.data, 0o644); err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for i, c := range hex.EncodeToString(d.data) {
		if i > 0 && i%80 == 0 {
			h.WriteByte('\n')
		}
		h.WriteRune(c)
	}
	hexFile := filepath.Join(dir, "damaged.hex")
	if err := os.WriteFile(hexFile, []byte(h.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, input := range []string{raw, hexFile} {
		t.Run(filepath.Base(input), func(t *testing.T) {
			r := runCmd(t, nil, "-key", simKeyHex, input)
			if r.status != 1 {
				t.Errorf("exit status %d, want 1 (some frames failed)", r.status)
			}
			if r.stdout != string(d.want) {
				t.Errorf("stdout is not exactly the intact telegrams (%d bytes, want %d)", len(r.stdout), len(d.want))
			}
			for off, reason := range d.failures {
				line := lineWith(r.stderr, reason)
				if !strings.Contains(line, fmt.Sprint(off)) {
					t.Errorf("the %s frame at byte %d is not reported; stderr:\n%s", reason, off, r.stderr)
				}
			}
			if !strings.Contains(r.stderr, fmt.Sprintf("ends inside a frame that starts at byte %d", d.tail)) {
				t.Errorf("the frame cut by the end is not reported; stderr:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, "5 telegrams decoded, 4 frames failed") {
				t.Errorf("counts; stderr:\n%s", r.stderr)
			}
			golden := filepath.Join("testdata", "damaged.stderr")
			got := strings.ReplaceAll(r.stderr, input, "DUMP")
			if *update && input == raw {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := string(readFile(t, golden)); got != want {
				t.Errorf("stderr:\n%s\nwant (%s, go test -update rewrites it):\n%s", got, golden, want)
			}
		})
	}
}

func lineWith(s, substr string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// TestErrors checks what a user sees when something is wrong: one line
// saying what and what to do, and the exit status.
func TestErrors(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.bin")
	os.WriteFile(empty, nil, 0o644)
	garbage := filepath.Join(dir, "garbage.bin")
	os.WriteFile(garbage, bytes.Repeat([]byte("no frames here "), 100), 0o644)
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantLine   string // the whole of stderr, one line
	}{
		{"wrong key", []string{"-key", simKeyHex, realBin}, 1,
			"OfflineDecryption: ../../testdata/smarty-2018.bin: authentication failed for its only frame (the first at byte 0): wrong key, or the meter uses another authentication key (-authKey)"},
		{"wrong authKey", []string{"-keyFile", realKey, "-authKey", simKeyHex, realBin}, 1,
			"OfflineDecryption: ../../testdata/smarty-2018.bin: authentication failed for its only frame (the first at byte 0): wrong key, or the meter uses another authentication key (-authKey)"},
		{"malformed key", []string{"-key", "D491470F47126332B07D1923B35041", realBin}, 2,
			"OfflineDecryption.test: -key: invalid key: a key is 32 hex digits (16 bytes), this one has 30"},
		{"missing file", []string{"-keyFile", realKey, filepath.Join(dir, "nope.bin")}, 2,
			"OfflineDecryption.test: " + filepath.Join(dir, "nope.bin") + ": no such file"},
		{"missing key file", []string{"-keyFile", filepath.Join(dir, "nope.key"), realBin}, 2,
			"OfflineDecryption.test: -keyFile " + filepath.Join(dir, "nope.key") + ": no such file"},
		{"directory", []string{"-keyFile", realKey, dir}, 2,
			"OfflineDecryption.test: " + dir + " is a directory, not a dump"},
		{"unknown flag", []string{"-device", "/dev/ttyUSB0"}, 2,
			"OfflineDecryption.test: flag provided but not defined: -device (see -h)"},
		{"bad format", []string{"-format", "csv", realBin}, 2,
			`OfflineDecryption.test: invalid value "csv" for flag -format: format: unknown format "csv": use text or json (see -h)`},
		{"empty dump", []string{empty}, 1,
			"OfflineDecryption: " + empty + ": 0 telegrams decoded, 0 frames failed, 0 bytes skipped\n" +
				"  the input is empty"},
		{"no frames", []string{garbage}, 1,
			"OfflineDecryption: " + garbage + ": 0 telegrams decoded, 0 frames failed, 1500 bytes skipped\n" +
				"  no frame found: this is not a capture of a P1 port (frames start with byte 0xDB, plain telegrams with '/')"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, tc.args...)
			if r.status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", r.status, tc.wantStatus)
			}
			if got := strings.TrimSuffix(r.stderr, "\n"); got != tc.wantLine {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tc.wantLine)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if strings.Contains(strings.ToUpper(r.stderr), "D491470F") || strings.Contains(r.stderr, simKeyHex) {
				t.Error("stderr shows the key")
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		r := runCmd(t, nil, "-h")
		if r.status != 0 || !strings.Contains(r.stdout, "Usage: OfflineDecryption") || r.stderr != "" {
			t.Errorf("status %d, stderr:\n%s", r.status, r.stderr)
		}
	})
	t.Run("no key", func(t *testing.T) {
		r := runCmd(t, nil, realBin)
		if r.status != 1 || !strings.Contains(r.stderr, "encrypted, but no key (give the key with -key, -keyFile or $SMARTY_KEY) at byte 0") {
			t.Errorf("status %d, stderr:\n%s", r.status, r.stderr)
		}
	})
}

// TestPlainDump reads a dump of a meter whose encryption is switched off:
// no key needed, telegrams passed through.
func TestPlainDump(t *testing.T) {
	m := sim.New(sim.Config{Seed: 2})
	var dump []byte
	for range 5 {
		dump = m.AppendTelegram(dump)
	}
	r := runCmd(t, bytes.NewReader(dump))
	if r.status != 0 || r.stdout != string(dump) {
		t.Errorf("status %d, stdout equal %v, stderr:\n%s", r.status, r.stdout == string(dump), r.stderr)
	}
}

// badInputs are the things a line or a capture can hold instead of a
// frame, each followed in the tests by one good frame that must still be
// decoded. reason, when set, is what the summary must name, at byte 0.
func badInputs(t testing.TB) []struct {
	name, reason string
	data         []byte
} {
	m := sim.New(sim.Config{Seed: 77})
	f := &sim.Framer{Cipher: smarty.NewCipher(simKey, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(77), Counter: 9}
	frame, err := f.AppendFrame(nil, m.AppendTelegram(nil))
	if err != nil {
		t.Fatal(err)
	}
	withLength := func(n int) []byte {
		b := append([]byte(nil), frame[:10]...)
		return append(b, 0x82, byte(n>>8), byte(n), 0x30, 0, 0, 0, 1, 'x', 'y', 'z')
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), frame...)
		b[i] ^= 0x10
		return b
	}
	plain := m.AppendTelegram(nil)
	badCRC := bytes.Replace(plain, []byte("(42)"), []byte("(43)"), 1)
	unbalanced := bytes.Replace(plain, []byte("(42)"), []byte("(42"), 1)
	nonASCII := bytes.Replace(plain, []byte("(42)"), []byte("(4\xC3\xA9)"), 1)
	longLine := append([]byte("/Lux5\\253663629_D\r\n\r\n1-0:1.8.0("), bytes.Repeat([]byte("1"), 100_000)...)
	longLine = append(longLine, ")\r\n!0000\r\n"...)
	rnd := make([]byte, 4096)
	x := uint32(1)
	for i := range rnd {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		rnd[i] = byte(x)
	}
	cases := []struct {
		name, reason string
		data         []byte
	}{
		{"random bytes", "", rnd},
		{"endless 0xDB", "", bytes.Repeat([]byte{0xDB}, 1<<20)},
		{"length 0", "malformed frame header", withLength(0)},
		{"length 1", "malformed frame header", withLength(1)},
		{"length 65535", "too large", withLength(65535)},
		{"flipped tag byte", "", flip(0)},
		{"flipped system title", "authentication failed", flip(4)},
		{"flipped length", "", flip(11)},
		{"flipped security byte", "", flip(13)},
		{"flipped frame counter", "authentication failed", flip(16)},
		{"flipped ciphertext", "authentication failed", flip(200)},
		{"flipped GCM tag", "authentication failed", flip(len(frame) - 3)},
		{"plain, wrong CRC", "CRC mismatch", badCRC},
		{"plain, unbalanced bracket", "malformed telegram", unbalanced},
		{"plain, non-ASCII", "", nonASCII},
		{"plain, 100 KB line", "", longLine},
	}
	for p := 1; p < len(frame); p += 1 + p/8 {
		cases = append(cases, struct {
			name, reason string
			data         []byte
		}{fmt.Sprintf("cut at byte %d", p), "", frame[:p]})
	}
	return cases
}

// TestBadInput feeds every kind of bad input, each followed by a good
// frame: no panic, no hang, the reason named with its byte offset, and the
// good frame decoded.
func TestBadInput(t *testing.T) {
	m := sim.New(sim.Config{Seed: 78})
	good := m.AppendTelegram(nil)
	f := &sim.Framer{Cipher: smarty.NewCipher(simKey, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(78), Counter: 1}
	goodFrame, err := f.AppendFrame(nil, good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range badInputs(t) {
		t.Run(tc.name, func(t *testing.T) {
			in := append(append([]byte(nil), tc.data...), goodFrame...)
			r := runCmd(t, bytes.NewReader(in), "-key", simKeyHex)
			if !strings.HasSuffix(r.stdout, string(good)) {
				t.Errorf("the good frame after it was not decoded; stderr:\n%s", r.stderr)
			}
			if tc.reason != "" && !strings.Contains(lineWith(r.stderr, tc.reason), "at byte 0") {
				t.Errorf("%q at byte 0 not reported; stderr:\n%s", tc.reason, r.stderr)
			}
		})
	}
}

// FuzzOfflineDecryption runs the command over arbitrary input with a good
// frame after it: it must never panic, and the good frame must come out.
func FuzzOfflineDecryption(f *testing.F) {
	for _, tc := range badInputs(f) {
		if len(tc.data) < 8192 {
			f.Add(tc.data)
		}
	}
	f.Add(readFile(f, realBin))
	m := sim.New(sim.Config{Seed: 79})
	good := m.AppendTelegram(nil)
	fr := &sim.Framer{Cipher: smarty.NewCipher(simKey, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(79), Counter: 1}
	goodFrame, err := fr.AppendFrame(nil, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append(append([]byte(nil), data...), goodFrame...)
		var stdout, stderr bytes.Buffer
		_ = run(context.Background(), []string{"-key", simKeyHex, "-format", "json"}, bytes.NewReader(in), &stdout, &stderr)
		if !bytes.Contains(stdout.Bytes(), []byte(`"frame_counter":1,`)) {
			t.Fatalf("the good frame after %q was lost; stderr:\n%s", data, stderr.String())
		}
	})
}

// TestNoLogFiles: glog writes files under the temporary directory by
// default; the commands log to stderr instead unless asked.
func TestNoLogFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	d := makeDamagedDump(t) // its frame counter gaps are logged as warnings
	r := runCmd(t, bytes.NewReader(d.data), "-key", simKeyHex)
	if r.status != 1 {
		t.Fatalf("exit status %d", r.status)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("log file written: %s", e.Name())
	}
}

// TestProgress: the progress line is drawn only when stderr is a
// terminal, and cleared before the summary.
func TestProgress(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil || bytes.Contains(b.Bytes(), []byte("bytes skipped")) {
				got <- b.String()
				return
			}
		}
	}()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-keyFile", realKey, realBin}, nil, &stdout, slave); err != nil {
		t.Fatal(err)
	}
	if s := <-got; !strings.Contains(s, "\r\033[KOfflineDecryption: ") {
		t.Errorf("on a terminal, the progress line is not cleared before the summary: %q", s)
	}
	r := runCmd(t, nil, "-keyFile", realKey, realBin)
	if strings.Contains(r.stderr, "\033") {
		t.Errorf("escape codes on a stderr that is not a terminal: %q", r.stderr)
	}
}
