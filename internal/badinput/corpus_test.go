package badinput

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// The key of the suite's meter (not a real one) and its text for command
// lines.
var (
	suiteKey    = smarty.Key{0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18, 0x29, 0x3A, 0x4B, 0x5C, 0x6D, 0x7E, 0x8F, 0x90}
	suiteKeyHex = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
)

const suiteSeed = 2018

func suiteCipher() *smarty.Cipher { return smarty.NewCipher(suiteKey, smarty.LuxembourgAuthKey) }

// badCase is one kind of bad input.
type badCase struct {
	name string
	data []byte
	// want lists the frame errors that must be reported, at offsets
	// relative to the start of data.
	want []wantErr
	// accepted is set when the input is a telegram the reader delivers
	// (a plain telegram without CRC, as DSMR 2.2 meters send).
	accepted []byte
}

// wantErr is a frame error that must be reported at an offset, for one of
// the reasons.
type wantErr struct {
	at      int
	reasons []error
}

func at0(reasons ...error) []wantErr { return []wantErr{{0, reasons}} }

// region is where a bad case sits in a stream.
type region struct {
	badCase
	start, end int64
}

// good is a good frame of a stream.
type good struct {
	offset   int64
	counter  uint32
	telegram []byte
}

// stream is good frames with bad cases between them: good 0, bad 1,
// good 1, bad 2, good 2, ...
type stream struct {
	data    []byte
	goods   []good
	regions []region
}

// maker makes the frames of the suite: good ones with consecutive frame
// counters, and the raw material of bad ones with counters of their own.
type maker struct {
	meter  *sim.Meter
	framer *sim.Framer // good frames
	spare  *sim.Framer // frames to damage
	plainM *sim.Meter  // plain telegrams to damage
}

func newMaker() *maker {
	return &maker{
		meter:  sim.New(sim.Config{Seed: suiteSeed}),
		framer: &sim.Framer{Cipher: suiteCipher(), SystemTitle: sim.SystemTitle(suiteSeed), Counter: 1},
		spare:  &sim.Framer{Cipher: suiteCipher(), SystemTitle: sim.SystemTitle(suiteSeed), Counter: 1 << 30},
		plainM: sim.New(sim.Config{Seed: suiteSeed + 1}),
	}
}

// frame returns a new encrypted frame made with f, and its telegram.
func (m *maker) frame(tb testing.TB, f *sim.Framer) (frame, telegram []byte) {
	telegram = m.meter.AppendTelegram(nil)
	frame, err := f.AppendFrame(nil, telegram)
	if err != nil {
		tb.Fatal(err)
	}
	return frame, telegram
}

// badFrame returns a frame to damage: a good frame from the suite's meter
// that is not part of the stream of good ones.
func (m *maker) badFrame(tb testing.TB) []byte {
	f, _ := m.frame(tb, m.spare)
	return f
}

// plain returns a plain telegram.
func (m *maker) plain() []byte { return m.plainM.AppendTelegram(nil) }

// build lays the cases out between good frames.
func (m *maker) build(tb testing.TB, cases []badCase) stream {
	var s stream
	addGood := func() {
		f, tg := m.frame(tb, m.framer)
		s.goods = append(s.goods, good{offset: int64(len(s.data)), counter: m.framer.Counter - 1, telegram: tg})
		s.data = append(s.data, f...)
	}
	addGood()
	for _, c := range cases {
		start := int64(len(s.data))
		s.data = append(s.data, c.data...)
		s.regions = append(s.regions, region{badCase: c, start: start, end: int64(len(s.data))})
		addGood()
	}
	return s
}

// telegrams returns what the reader must deliver: every good telegram and
// every accepted bad one, in stream order.
func (s *stream) telegrams() []byte {
	var b []byte
	for i, g := range s.goods {
		if i > 0 {
			b = append(b, s.regions[i-1].accepted...)
		}
		b = append(b, g.telegram...)
	}
	return b
}

// fixCRC rewrites the CRC of a plain telegram after its content was
// changed, so that the change is the only fault.
func fixCRC(t []byte) []byte {
	bang := bytes.LastIndexByte(t, '!')
	crc := dsmr.Checksum(t[:bang+1])
	return append(t[:bang+1:bang+1], fmt.Sprintf("%04X\r\n", crc)...)
}

// withLength is the header of an envelope whose length field says n, and
// a few bytes.
func withLength(m *maker, tb testing.TB, n int) []byte {
	f := m.badFrame(tb)
	b := append([]byte(nil), f[:10]...)
	return append(b, 0x82, byte(n>>8), byte(n), 0x30, 0, 0, 0, 1, 'x', 'y', 'z')
}

// tableCases are the named kinds of bad input.
func tableCases(tb testing.TB, m *maker, floodSize int) []badCase {
	rnd := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	// A plain telegram's '!' line, to be damaged in various ways.
	plain := m.plain()
	bang := bytes.LastIndexByte(plain, '!')
	noCRC := append(append([]byte(nil), plain[:bang+1]...), "\r\n"...)
	wrongCRC := append([]byte(nil), plain...)
	if wrongCRC[bang+1] = '0'; plain[bang+1] == '0' {
		wrongCRC[bang+1] = '1'
	}
	longLine := append([]byte("/Lux5\\253663629_D\r\n\r\n1-0:1.8.0("), bytes.Repeat([]byte("1"), 100_000)...)
	longLine = fixCRC(append(longLine, "*kWh)\r\n!"...))
	nonASCII := fixCRC(bytes.Replace(append([]byte(nil), plain...), []byte("(42)"), []byte("(4\xC3\xA9)"), 1))
	// Malformed lines keep the CRC of the telegram before the damage: a
	// line that does not parse in a telegram whose CRC matches is left out
	// and the telegram delivered (dsmr.Telegram.LineErrors).
	openBracket := bytes.Replace(append([]byte(nil), plain...), []byte("(42)"), []byte("(42"), 1)
	closeBracket := bytes.Replace(append([]byte(nil), plain...), []byte("(42)"), []byte("42)"), 1)
	nested := bytes.Replace(append([]byte(nil), plain...), []byte("(42)"), []byte("((42))"), 1)

	wrongKey := smarty.NewCipher(smarty.Key{1, 2, 3}, smarty.LuxembourgAuthKey)
	wrongAK := smarty.NewCipher(suiteKey, smarty.Key{0xAA, 0xBB})
	tg := m.plain()
	title := sim.SystemTitle(suiteSeed)

	return []badCase{
		{name: "random bytes", data: rnd},
		{name: "endless 0xDB", data: bytes.Repeat([]byte{0xDB}, floodSize)},
		{name: "length 0", data: withLength(m, tb, 0), want: at0(smarty.ErrHeader)},
		{name: "length 1", data: withLength(m, tb, 1), want: at0(smarty.ErrHeader)},
		{name: "length 65535", data: withLength(m, tb, 65535), want: at0(smarty.ErrTooLarge)},
		{name: "length 0 in one byte", data: append(withLength(m, tb, 0)[:10:10], 0x00, 0x30, 1, 2, 3, 4), want: at0(smarty.ErrHeader)},
		{name: "wrong key", data: wrongKey.Seal(nil, title, 7, tg), want: at0(smarty.ErrAuth)},
		{name: "wrong authentication key", data: wrongAK.Seal(nil, title, 8, tg), want: at0(smarty.ErrAuth)},
		{name: "plain, wrong CRC", data: wrongCRC, want: at0(dsmr.ErrCRC)},
		{name: "plain, no CRC", data: noCRC, accepted: noCRC},
		{name: "plain, 100 KB line", data: longLine, want: at0(smarty.ErrTooLarge)},
		{name: "plain, non-ASCII", data: nonASCII, want: at0(smarty.ErrNotTelegram)},
		{name: "plain, unbalanced (", data: openBracket, want: at0(dsmr.ErrSyntax)},
		{name: "plain, unbalanced )", data: closeBracket, want: at0(dsmr.ErrSyntax)},
		{name: "plain, nested brackets", data: nested, want: at0(dsmr.ErrSyntax)},
		{name: "plain, no end", data: plain[:bang], want: at0(smarty.ErrTruncated)},
	}
}

// headerSize is the size of a Smarty frame's header: tag, title length,
// title, 82 HH LL, security byte, frame counter.
const headerSize = 1 + 1 + 8 + 3 + 1 + 4

// tagSize is the size of the GCM tag at a frame's end.
const tagSize = 12

// cutCases cut a frame after every byte position. Once its header is
// complete, the cut frame must be reported as cut short; when the cut is
// so near its end that the next frame's header does not fit in what the
// cut frame announces, the bytes borrowed from the next frame may also
// make it an envelope that fails authentication (which of the two
// depends on how the bytes arrive).
func cutCases(tb testing.TB, m *maker) []badCase {
	f := m.badFrame(tb)
	var cases []badCase
	for p := 1; p < len(f); p++ {
		c := badCase{name: fmt.Sprintf("cut after %d bytes", p), data: f[:p]}
		switch {
		case p >= headerSize && len(f)-p >= headerSize:
			c.want = at0(smarty.ErrTruncated)
		case p >= headerSize:
			c.want = at0(smarty.ErrTruncated, smarty.ErrAuth)
		}
		cases = append(cases, c)
	}
	return cases
}

// part names the part of a frame byte i is in, and the reasons a flipped
// bit there may be reported for; none when the frame is then no frame at
// all (its bytes are skipped).
func part(i, size int) (string, []error) {
	switch {
	case i == 0:
		return "tag", nil
	case i == 1:
		return "title length", nil
	case i < 10:
		return "system title", []error{smarty.ErrAuth}
	case i == 10:
		// 0x82 becomes no A-XDR form, or 0x02, a one-byte length
		// whose next byte is then no security byte.
		return "length form", nil
	case i < 13:
		return "length", []error{smarty.ErrAuth, smarty.ErrTruncated, smarty.ErrTooLarge, smarty.ErrHeader}
	case i == 13:
		return "security byte", nil
	case i < headerSize:
		return "frame counter", []error{smarty.ErrAuth}
	case i < size-tagSize:
		return "ciphertext", []error{smarty.ErrAuth}
	}
	return "GCM tag", []error{smarty.ErrAuth}
}

// flipCases flip one bit: every bit of the header and of the tag, and one
// bit of every byte of the ciphertext.
func flipCases(tb testing.TB, m *maker) []badCase {
	f := m.badFrame(tb)
	var cases []badCase
	for i := range f {
		bits := []uint{uint(i % 8)}
		if i < headerSize || i >= len(f)-tagSize {
			bits = []uint{0, 1, 2, 3, 4, 5, 6, 7}
		}
		for _, bit := range bits {
			name, reasons := part(i, len(f))
			b := append([]byte(nil), f...)
			b[i] ^= 1 << bit
			c := badCase{name: fmt.Sprintf("%s: bit %d of byte %d", name, bit, i), data: b}
			if reasons != nil {
				c.want = at0(reasons...)
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// frameErr is a reported frame error: its offset, its text, and the error
// itself when the test has it (not for a command's output).
type frameErr struct {
	offset int64
	text   string
	err    error
}

// is reports whether the error is for the reason target.
func (e frameErr) is(target error) bool {
	if e.err != nil {
		return errors.Is(e.err, target)
	}
	return strings.Contains(e.text, reasonText(target))
}

// reasonText is how a reason shows in a message: its sentinel's text up to
// the first colon, without the package name.
func reasonText(target error) string {
	s := strings.TrimPrefix(target.Error(), "dsmr: ")
	s = strings.TrimPrefix(s, "smarty: ")
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

var atByte = regexp.MustCompile(`at byte (\d+)`)

// offsetIn returns the first "at byte N" of a message.
func offsetIn(msg string) (int64, bool) {
	m := atByte.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// checkErrors checks the frame errors reported for a stream: each names
// its offset and a reason, lies within a bad region (never in a good
// frame), and each region's expected errors are there.
func checkErrors(t *testing.T, s stream, errs []frameErr) {
	t.Helper()
	reasons := []error{smarty.ErrAuth, smarty.ErrTruncated, smarty.ErrTooLarge, smarty.ErrHeader, smarty.ErrNoKey, smarty.ErrNotTelegram, dsmr.ErrCRC, dsmr.ErrSyntax}
	byOffset := map[int64][]frameErr{}
	failures := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if failures++; failures <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, e := range errs {
		byOffset[e.offset] = append(byOffset[e.offset], e)
		if off, ok := offsetIn(e.text); !ok || off != e.offset {
			fail("message %q does not name its offset %d", e.text, e.offset)
		}
		named := false
		for _, r := range reasons {
			named = named || e.is(r)
		}
		if !named {
			fail("message %q names no reason", e.text)
		}
		in := false
		for _, r := range s.regions {
			in = in || (e.offset >= r.start && e.offset < r.end)
		}
		if !in {
			fail("error at byte %d, inside a good frame: %s", e.offset, e.text)
		}
	}
	for _, r := range s.regions {
		for _, w := range r.want {
			found := false
			for _, e := range byOffset[r.start+int64(w.at)] {
				for _, reason := range w.reasons {
					found = found || e.is(reason)
				}
			}
			if !found {
				fail("%s: no error at byte %d for %v; errors there: %v", r.name, r.start+int64(w.at), w.reasons, byOffset[r.start+int64(w.at)])
			}
		}
	}
	if failures > 20 {
		t.Errorf("... and %d more", failures-20)
	}
}
