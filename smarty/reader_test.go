package smarty

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// chunkings are the ways a stream reaches the Reader: all at once, a byte
// at a time as a UART delivers it, in halves, in random bursts, and with
// io.EOF on the last data.
var chunkings = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"bursts", func(r io.Reader) io.Reader { return &burstReader{r: r, rnd: rand.New(rand.NewPCG(7, 7))} }},
	{"eof with data", iotest.DataErrReader},
}

// burstReader returns between 1 and 100 bytes per Read, as a serial port
// does under load.
type burstReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (b *burstReader) Read(p []byte) (int, error) {
	n := 1 + b.rnd.IntN(100)
	return b.r.Read(p[:min(n, len(p))])
}

// readAll reads the stream to its end and describes what the Reader
// returned, one line per telegram or skipped frame.
func readAll(t testing.TB, r *Reader) []string {
	t.Helper()
	var events []string
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("the Reader does not come to an end")
		}
		m, err := r.Next()
		var fe *FrameError
		switch {
		case errors.As(err, &fe):
			events = append(events, fmt.Sprintf("skip @%d: %s", fe.Offset, reason(fe.Err)))
		case err == io.EOF:
			return events
		case err != nil:
			events = append(events, "error: "+err.Error())
			return events
		default:
			events = append(events, describe(m))
		}
	}
}

func describe(m *Message) string {
	kwh, _ := m.Telegram.EnergyImport()
	s := fmt.Sprintf("telegram @%d size %d", m.Offset, m.Size)
	if m.Skipped > 0 {
		s = fmt.Sprintf("(%d skipped) ", m.Skipped) + s
	}
	if m.Encrypted {
		s += fmt.Sprintf(" counter %d", m.Header.FrameCounter)
		if !m.Authenticated {
			s += " unauthenticated"
		}
	} else {
		s += " plain"
	}
	return s + fmt.Sprintf(" kWh %g", kwh)
}

// reason names the sentinel a skip wraps.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrAuth, "auth"}, {ErrTruncated, "truncated"}, {ErrTooLarge, "too large"},
		{ErrHeader, "header"}, {ErrNoKey, "no key"}, {ErrPlain, "plain"}, {ErrNotTelegram, "not a telegram"},
		{dsmr.ErrCRC, "crc"}, {dsmr.ErrSyntax, "syntax"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "unknown: " + err.Error()
}

// telegram returns a small plain telegram with the given energy reading and
// a correct CRC.
func telegram(kwh string) []byte {
	return withCRC("/Lux5\\253663629_D\r\n\r\n1-3:0.2.8(42)\r\n0-0:1.0.0(180130102122W)\r\n1-0:1.8.0(" + kwh + "*kWh)\r\n!")
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReader(t *testing.T) {
	real := readFile(t, realFramePath)
	realText := readFile(t, realPlaintextPath)
	spec := readFile(t, specTelegramPath)
	luxKey := realCipher(t)
	other := NewCipher(otherKey, austrianAK)
	seal := func(c *Cipher, counter uint32, text []byte) []byte { return c.Seal(nil, testTitle, counter, text) }

	a, b, c := seal(other, 1, telegram("000001.000")), seal(other, 2, telegram("000002.000")), seal(other, 3, telegram("000003.000"))
	if a[10] >= 0x80 {
		t.Fatalf("the test frames were meant to use the short length form")
	}
	bigLength := cat(a[:10], []byte{0x82, 0xFF, 0xFF}, a[11:]) // length 65535
	falseDB := cat([]byte{0xDB, 0x08, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 0x82, 0x02, 0x00, 0x30, 0, 0, 0, 1})
	wrongCRC := bytes.Replace(telegram("000009.000"), []byte("000009.000"), []byte("000008.000"), 1)
	noCRC := []byte("/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.0(000123.456*kWh)\r\n!\r\n")
	shortCRC := withCRC("/Lux5\\1\r\n\r\n1-0:1.8.0(000000.001*kWh)\r\n!")
	shortCRC = bytes.Replace(shortCRC, []byte("!0"), []byte("!"), 1) // a meter that does not pad its CRC
	unbalanced := withCRC("/Lux5\\1\r\n\r\n1-0:1.8.0(000001.000*kWh\r\n!")
	hugeLine := cat([]byte("/Lux5\\1\r\n\r\n0-0:96.13.0("), bytes.Repeat([]byte("41"), 50000), []byte(")\r\n!0000\r\n"))

	oddHeader := withCRC("/ESY5Q3DB1024 V3.04\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!")
	digitHeader := []byte("/2 heat link\n1-0:1.8.0(000002.000*kWh)\n!\n")
	slashValue := withCRC("/Lux5\\1\r\n\r\n0-0:96.13.0(see x.lu/p1 now!)\r\n1-0:1.8.0(000003.000*kWh)\r\n!")
	na, nt := len(a), len(telegram("000001.000")) // frame and plain telegram sizes
	enc := func(off, counter int, kwh string) string {
		return fmt.Sprintf("telegram @%d size %d counter %d kWh %s", off, na, counter, kwh)
	}
	plain := func(off int, kwh string) string {
		return fmt.Sprintf("telegram @%d size %d plain kWh %s", off, nt, kwh)
	}
	skip := func(off int, why string) string { return fmt.Sprintf("skip @%d: %s", off, why) }

	tests := []struct {
		name   string
		cipher *Cipher
		stream []byte
		want   []string
	}{
		{"real frame", luxKey, real, []string{"telegram @0 size 647 counter 370915 kWh 6.695"}},
		// With a key, plain telegrams are refused whole: anyone on the
		// line could send them (Reader.AllowPlain accepts them).
		{"real plaintext, with a key", luxKey, realText, []string{skip(0, "plain")}},
		{"real plaintext", nil, realText, []string{"telegram @0 size 617 plain kWh 6.695"}},
		{"spec example, plain", nil, spec, []string{"telegram @0 size 1487 plain kWh 25.653"}},
		{"frames back to back", other, cat(a, b, c), []string{enc(0, 1, "1"), enc(na, 2, "2"), enc(2*na, 3, "3")}},
		{"noise between frames", other, cat([]byte("noise\x00\xff"), a, []byte("\r\n!!\xdb\xdb//"), b), []string{
			"(7 skipped) " + enc(7, 1, "1"), "(6 skipped) " + enc(7+na+8, 2, "2")}}, // line ends are not noise
		{"plain and encrypted mixed", other, cat(telegram("000005.000"), a, telegram("000006.000")), []string{
			skip(0, "plain"), enc(nt, 1, "1"), skip(nt+na, "plain")}},
		{"wrong key, then the right one", other, cat(seal(luxKey, 1, telegram("000001.000")), b), []string{
			skip(0, "auth"), enc(na, 2, "2")}},
		{"wrong authentication key", NewCipher(otherKey, LuxembourgAuthKey), cat(a, b), []string{
			skip(0, "auth"), skip(na, "auth")}},
		{"starts inside a frame", other, cat(a[60:], b), []string{
			fmt.Sprintf("(%d skipped) ", na-60-bytes.Count(a[60:], []byte("\r"))-bytes.Count(a[60:], []byte("\n"))) + enc(na-60, 2, "2")}},
		{"torn frame then a good one", other, cat(a[:100], b, c), []string{
			skip(0, "truncated"), enc(100, 2, "2"), enc(100+na, 3, "3")}},
		{"stream ends inside a frame", other, cat(a, b[:120]), []string{enc(0, 1, "1"), skip(na, "truncated")}},
		{"flipped bit in the ciphertext", other, cat(flip(a, 50, 0), b), []string{skip(0, "auth"), enc(na, 2, "2")}},
		{"flipped bit in the tag", other, cat(flip(a, na-1, 7), b), []string{skip(0, "auth"), enc(na, 2, "2")}},
		{"length field 65535", other, cat(bigLength, b), []string{skip(0, "too large"), enc(len(bigLength), 2, "2")}},
		{"length field 0", other, cat(a[:10], []byte{0}, a[11:], b), []string{skip(0, "header"), enc(na, 2, "2")}},
		{"length field 1", other, cat(a[:10], []byte{0x81, 1}, a[11:], b), []string{skip(0, "header"), enc(na+1, 2, "2")}},
		{"false 0xDB header with a long length", other, cat(falseDB, a, b), []string{
			skip(0, "truncated"), enc(len(falseDB), 1, "1"), enc(len(falseDB)+na, 2, "2")}},
		{"endless 0xDB", other, cat(bytes.Repeat([]byte{0xDB}, 40000), a), []string{"(40000 skipped) " + enc(40000, 1, "1")}},
		// The last DB 08 and the frame's first bytes make a plausible
		// header (the system title holds 0x20 0x30: length 32, security
		// byte 0x30): that false frame is reported as torn, not as a key
		// problem, and the real frame is still found.
		{"endless DB 08", other, cat(bytes.Repeat([]byte{0xDB, 0x08}, 20000), a), []string{skip(39996, "truncated"), enc(40000, 1, "1")}},
		{"no key for an envelope", nil, cat(a, telegram("000007.000")), []string{skip(0, "no key"), plain(na, "7")}},
		{"plain: wrong CRC", nil, cat(wrongCRC, telegram("000007.000")), []string{skip(0, "crc"), plain(nt, "7")}},
		{"plain: no CRC", nil, noCRC, []string{fmt.Sprintf("telegram @0 size %d plain kWh 123.456", len(noCRC))}},
		{"plain: 3-digit CRC", nil, shortCRC, []string{fmt.Sprintf("telegram @0 size %d plain kWh 0.001", len(shortCRC))}},
		{"plain: extra line ends", nil, cat(telegram("000001.000"), []byte("\r\n\r\n"), telegram("000002.000")), []string{
			plain(0, "1"), plain(nt+4, "2")}},
		{"plain: cut by a new telegram", nil, cat(telegram("000001.000")[:60], telegram("000002.000")), []string{
			skip(0, "truncated"), plain(60, "2")}},
		{"plain: cut by an envelope", other, cat(telegram("000001.000")[:60], a), []string{skip(0, "truncated"), enc(60, 1, "1")}},
		{"plain: non-ASCII byte", nil, cat(bytes.Replace(telegram("000001.000"), []byte("42"), []byte("4\xc3"), 1), telegram("000002.000")), []string{
			skip(0, "not a telegram"), plain(nt, "2")}},
		{"plain: unbalanced bracket", nil, cat(unbalanced, telegram("000002.000")), []string{skip(0, "syntax"), plain(len(unbalanced), "2")}},
		{"plain: a 100 KB line", nil, cat(hugeLine, telegram("000002.000")), []string{skip(0, "too large"), plain(len(hugeLine), "2")}},
		// Identification lines of any printable form, as the parser takes
		// them; a '/' or '!' inside a value is part of the telegram.
		{"plain: any identification line", nil, cat(oddHeader, digitHeader), []string{
			fmt.Sprintf("telegram @0 size %d plain kWh 1", len(oddHeader)),
			fmt.Sprintf("telegram @%d size %d plain kWh 2", len(oddHeader), len(digitHeader))}},
		{"plain: the longest identification line", nil, cat(withCRC("/"+strings.Repeat("H", 128)+"\r\n1-0:1.8.0(000001.000*kWh)\r\n!"),
			withCRC("/"+strings.Repeat("H", 129)+"\r\n1-0:1.8.0(000001.000*kWh)\r\n!")), []string{
			fmt.Sprintf("telegram @0 size %d plain kWh 1", 165)}},
		{"plain: '/' and '!' in a value", nil, cat(slashValue, telegram("000002.000")), []string{
			fmt.Sprintf("telegram @0 size %d plain kWh 3", len(slashValue)), plain(len(slashValue), "2")}},
		{"plain: text right before the '/'", nil, cat([]byte("x7 garbage)"), telegram("000001.000")), []string{
			"(11 skipped) " + plain(11, "1")}},
		{"plain: a '/' that starts no telegram", nil, cat([]byte("/\r\n/(x)\r\n/ab!\r\n/ok\r\nno\r\n"), telegram("000001.000")), []string{
			"(14 skipped) " + plain(24, "1")}},
		{"plain: cut in a value by a new telegram", nil, cat(slashValue[:40], telegram("000002.000")), []string{
			skip(0, "truncated"), plain(40, "2")}},
		{"empty stream", other, nil, nil},
		{"only noise", other, []byte(strings.Repeat("\x00\x01 noise /// !!! ", 1000)), nil},
	}
	for _, tt := range tests {
		for _, ch := range chunkings {
			t.Run(tt.name+"/"+ch.name, func(t *testing.T) {
				r := NewReader(ch.wrap(bytes.NewReader(tt.stream)), tt.cipher)
				got := readAll(t, r)
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
				}
				st := r.Stats()
				if st.BytesRead != int64(len(tt.stream)) || st.Skipped > st.BytesRead {
					t.Errorf("stats %+v for a stream of %d bytes", st, len(tt.stream))
				}
				if r.offset() != int64(len(tt.stream)) {
					t.Errorf("Offset() = %d at the end, want %d", r.offset(), len(tt.stream))
				}
			})
		}
	}
}

func flip(b []byte, i int, bit uint) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1 << bit
	return c
}

// The authentication-key fallback accepts a frame whose tag fails only when
// its CRC checks, and says it was not authenticated.
func TestReaderAllowUnauthenticated(t *testing.T) {
	austrian := NewCipher(otherKey, austrianAK)
	a := austrian.Seal(nil, testTitle, 1, telegram("000001.000"))
	noCRC := austrian.Seal(nil, testTitle, 2, []byte("/Lux5\\1\r\n\r\n1-0:1.8.0(000002.000*kWh)\r\n!\r\n"))
	wrongKey := NewCipher(realKey(t), austrianAK).Seal(nil, testTitle, 3, telegram("000003.000"))
	r := NewReader(bytes.NewReader(cat(a, noCRC, wrongKey)), NewCipher(otherKey, LuxembourgAuthKey))
	r.AllowUnauthenticated = true
	got := strings.Join(readAll(t, r), "\n")
	want := strings.Join([]string{
		fmt.Sprintf("telegram @0 size %d counter 1 unauthenticated kWh 1", len(a)),
		fmt.Sprintf("skip @%d: auth", len(a)),            // no CRC: nothing vouches for it
		fmt.Sprintf("skip @%d: auth", len(a)+len(noCRC)), // wrong key: the CRC does not check
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// With a key, plain telegrams are refused whole, and the envelope after one
// is still read; AllowPlain accepts them.
func TestReaderAllowPlain(t *testing.T) {
	c := NewCipher(otherKey, LuxembourgAuthKey)
	p1, p2 := telegram("000005.000"), telegram("000006.000")
	a := c.Seal(nil, testTitle, 1, telegram("000001.000"))
	stream := cat(p1, a, p2)
	for _, allow := range []bool{false, true} {
		r := NewReader(bytes.NewReader(stream), c)
		r.AllowPlain = allow
		got := strings.Join(readAll(t, r), "\n")
		want := []string{
			"skip @0: plain",
			fmt.Sprintf("telegram @%d size %d counter 1 kWh 1", len(p1), len(a)),
			fmt.Sprintf("skip @%d: plain", len(p1)+len(a)),
		}
		if allow {
			want[0] = fmt.Sprintf("telegram @0 size %d plain kWh 5", len(p1))
			want[2] = fmt.Sprintf("telegram @%d size %d plain kWh 6", len(p1)+len(a), len(p2))
		}
		if got != strings.Join(want, "\n") {
			t.Errorf("AllowPlain %v: got\n%s\nwant\n%s", allow, got, strings.Join(want, "\n"))
		}
		var fe *FrameError
		r = NewReader(bytes.NewReader(p1), c)
		if _, err := r.Next(); !allow && (!errors.As(err, &fe) || fe.Failure() != FailurePlain || fe.Size != len(p1)) {
			t.Errorf("a refused plain telegram: %v, want a FrameError of class plain and size %d", err, len(p1))
		}
	}
}

// Every error of the underlying reader other than io.EOF sticks, and comes
// after the telegrams read before it.
func TestReaderStickyError(t *testing.T) {
	boom := errors.New("device unplugged")
	c := NewCipher(otherKey, austrianAK)
	a := c.Seal(nil, testTitle, 1, telegram("000001.000"))
	r := NewReader(io.MultiReader(bytes.NewReader(a), iotest.ErrReader(boom)), c)
	if _, err := r.Next(); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	for range 3 {
		if _, err := r.Next(); err != boom {
			t.Fatalf("Next = %v, want the reader's error", err)
		}
	}
}

// A reader that returns no bytes and no error does not make Next spin for
// ever.
func TestReaderNoProgress(t *testing.T) {
	r := NewReader(zeroReader{}, nil)
	if _, err := r.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// Whatever the position at which a frame is cut, the two good frames that
// follow are decoded, at their offsets, with at most one skip reported.
func TestReaderCutAtEveryByte(t *testing.T) {
	real := readFile(t, realFramePath)
	c := realCipher(t)
	for _, ch := range chunkings[:2] {
		for k := 1; k < len(real); k++ {
			stream := cat(real[:k], real, real)
			events := readAll(t, NewReader(ch.wrap(bytes.NewReader(stream)), c))
			var telegrams, skips []string
			for _, e := range events {
				e = dropSkipped(e)
				if strings.HasPrefix(e, "telegram") {
					telegrams = append(telegrams, e)
				} else {
					skips = append(skips, e)
				}
			}
			want := []string{
				fmt.Sprintf("telegram @%d size 647 counter 370915 kWh 6.695", k),
				fmt.Sprintf("telegram @%d size 647 counter 370915 kWh 6.695", k+len(real)),
			}
			if strings.Join(telegrams, "|") != strings.Join(want, "|") || len(skips) > 1 {
				t.Fatalf("%s, cut at %d: got %q", ch.name, k, events)
			}
			// A cut after the header is reported as a torn frame, unless
			// only the next frame's first byte made it in, which is too
			// little to tell from a wrong key.
			if k > 16 && k < len(real)-1 && (len(skips) != 1 || skips[0] != "skip @0: truncated") {
				t.Fatalf("%s, cut at %d after the header: skips %q, want one truncated frame at 0", ch.name, k, skips)
			}
		}
	}
}

// One flipped bit anywhere in the real frame never lets the frame through
// and never costs the good frame after it. What the Reader says for each
// part of the frame is kept in a golden file
// (testdata/golden/flip-every-bit.txt, rewritten by go test -update).
func TestReaderFlipEveryBit(t *testing.T) {
	real := readFile(t, realFramePath)
	c := realCipher(t)
	part := func(i int) string {
		switch {
		case i == 0:
			return "tag 0xDB"
		case i == 1:
			return "system title length"
		case i < 10:
			return "system title"
		case i < 13:
			return "length field"
		case i == 13:
			return "security byte"
		case i < 18:
			return "frame counter"
		case i < len(real)-tagSize:
			return "ciphertext"
		}
		return "GCM tag"
	}
	var order []string
	outcomes := map[string]map[string]int{}
	for i := range real {
		for bit := range uint(8) {
			stream := cat(flip(real, i, bit), real)
			events := readAll(t, NewReader(bytes.NewReader(stream), c))
			var skips []string
			good, noise := false, false
			for _, e := range events {
				if d := dropSkipped(e); d != e {
					e, noise = d, true
				}
				switch {
				case e == fmt.Sprintf("telegram @%d size 647 counter 370915 kWh 6.695", len(real)):
					good = true
				case strings.HasPrefix(e, "telegram"):
					t.Fatalf("byte %d bit %d: a damaged frame came through: %s", i, bit, e)
				default:
					skips = append(skips, strings.TrimPrefix(e[strings.Index(e, ":")+1:], " "))
				}
			}
			if !good {
				t.Fatalf("byte %d bit %d: the good frame after the damaged one was lost: %q", i, bit, events)
			}
			outcome := "no frame error"
			if noise {
				outcome += ", noise before the next frame"
			}
			if len(skips) > 0 {
				outcome = strings.Join(skips, ", ")
			}
			p := part(i)
			if outcomes[p] == nil {
				outcomes[p] = map[string]int{}
				order = append(order, p)
			}
			outcomes[p][outcome]++
		}
	}
	var b strings.Builder
	b.WriteString("# One bit flipped in the real frame, followed by the frame intact.\n")
	b.WriteString("# For each part of the frame: what the Reader reported, and how many of the flips.\n")
	for _, p := range order {
		fmt.Fprintf(&b, "%s:\n", p)
		var keys []string
		for k := range outcomes[p] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "\t%5d  %s\n", outcomes[p][k], k)
		}
	}
	golden(t, "flip-every-bit.txt", []byte(b.String()))
}

// dropSkipped removes the "(n skipped) " describe puts before a telegram.
func dropSkipped(e string) string {
	if strings.HasPrefix(e, "(") {
		return e[strings.Index(e, ") ")+2:]
	}
	return e
}

// stallReader delivers data, then counts every further Read and reports
// nothing: a line that has gone quiet, as a meter's does for 10 s after
// each frame.
type stallReader struct {
	data  []byte
	asked int
}

var errStalled = errors.New("stalled: the Reader asked for more bytes")

func (s *stallReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		s.asked++
		return 0, errStalled
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReaderManyCandidates: a torn envelope whose length reaches far,
// then a run of plausible headers of large frames (noise, or frames torn
// in turn), then a good frame. The good frame is complete in the bytes at
// hand and is returned without waiting for more, however many candidates
// came before it. The Reader used to follow only the first 16 and scan
// past the rest, so the good frame waited for 16 KB more bytes, or for a
// watchdog.
func TestReaderManyCandidates(t *testing.T) {
	c := NewCipher(otherKey, austrianAK)
	good := c.Seal(nil, testTitle, 7, telegram("000007.000"))
	// A header of the largest frame the Reader accepts: complete,
	// plausible, and far from complete as a frame.
	header := func(counter byte) []byte {
		const length = defaultMaxFrameSize - 13
		return []byte{0xDB, 0x08, 'S', 'A', 'G', 1, 2, 3, 4, counter, 0x82, length >> 8, length & 0xFF, 0x30, 0, 0, 0, counter}
	}
	for _, n := range []int{1, 15, 16, 17, 40, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var data []byte
			for i := range n {
				data = append(data, header(byte(i))...)
			}
			at := len(data)
			data = append(data, good...)
			for _, chunk := range []int{len(data), 64, 1} {
				src := &stallReader{data: data}
				var r io.Reader = src
				if chunk < len(data) {
					r = &chunkReader{r: src, n: chunk}
				}
				rd := NewReader(r, c)
				var got []string
				for range n + 2 {
					m, err := rd.Next()
					var fe *FrameError
					if errors.As(err, &fe) {
						got = append(got, fmt.Sprintf("skip @%d: %s", fe.Offset, reason(fe.Err)))
						continue
					}
					if err != nil {
						got = append(got, err.Error())
						break
					}
					if src.asked > 0 {
						got = append(got, "asked for more bytes first")
					}
					got = append(got, describe(m))
					break
				}
				want := []string{"skip @0: truncated", fmt.Sprintf("telegram @%d size %d counter 7 kWh 7", at, len(good))}
				if !slices.Equal(got, want) {
					t.Fatalf("read in chunks of %d: got\n%s\nwant\n%s", chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// chunkReader reads at most n bytes at a time.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }
