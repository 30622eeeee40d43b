package dsmr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Telegram is a parsed DSMR telegram: the identification line, the objects
// in the order the meter sent them, and the checksum.
//
// A Telegram owns a copy of the text it was parsed from; its Objects and
// Values point into that copy. Parsing into a Telegram again (UnmarshalText)
// reuses its memory, so a program that reads one telegram after another
// allocates nothing in the steady state, but must not keep Objects or
// Values of a previous telegram; Clone makes a copy that can be kept.
//
// The methods that only read a Telegram may be called from several
// goroutines at once; UnmarshalText may not run beside any of them.
type Telegram struct {
	// Location is the time zone of the meter's clock, in which Time,
	// MBus and PowerFailures read its timestamps (see [Value.Time]); nil
	// means [DefaultZone]. Parsing keeps it, and Clone copies it.
	Location *time.Location

	raw        []byte   // the telegram; cap(raw) >= len(raw)+len(padding)
	header     string   // identification line without '/', "" when empty
	lastHeader string   // the last header seen, to reuse its string
	objects    []Object // in telegram order
	values     []Value  // the values of all objects, in order
	recs       []objRec // scratch for parse
	crc        uint16
	hasCRC     bool
	crcOK      bool        // crc matches the content
	skipped    []LineError // lines left out of a telegram its CRC vouches for
	// lineAt and lineNo are a line start and its number, where errorf
	// may start counting lines.
	lineAt, lineNo int
	// layout holds the code lines that scan expects, those of the
	// telegrams before: a meter sends the same codes in the same order.
	// seen holds the codes of the last telegram (objRec.code), and layout
	// is learnt when two in a row have the same.
	layout []codeText
	seen   []uint64
}

// Object is one line of a telegram: an OBIS code and its bracketed groups.
// Most objects have one value; some have several, such as
// 1-1:31.4.0(100*A)(-063*A) or an M-Bus reading
// 0-1:24.2.1(200706103140S)(00000.006*m3). An object has at least one
// value.
type Object struct {
	OBIS   OBIS
	Values []Value
}

// Errors a parse can return. Parse errors are of type *SyntaxError or
// *CRCError, which wrap these, so that errors.Is(err, ErrCRC) works.
var (
	ErrSyntax = errors.New("dsmr: malformed telegram")
	ErrCRC    = errors.New("dsmr: CRC mismatch")
)

// SyntaxError says where a telegram breaks the DSMR grammar.
type SyntaxError struct {
	Offset int    // byte offset in the telegram, 0 is the '/'
	Line   int    // line number, 1 is the identification line
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("dsmr: malformed telegram at byte %d (line %d): %s", e.Offset, e.Line, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// LineError is a line of a telegram that does not parse and was left out:
// a telegram whose CRC verifies is kept without it (see
// [Telegram.UnmarshalText]).
type LineError struct {
	Line   int    // line number, 1 is the identification line
	Offset int    // byte offset of the line's first byte in the telegram
	Text   string // the line as the meter sent it, without its line end
	Msg    string // what is wrong with it
}

func (e *LineError) Error() string {
	return fmt.Sprintf("dsmr: line %d skipped: %s: %q", e.Line, e.Msg, e.Text)
}

// CRCError reports a checksum that does not match the telegram's content:
// the telegram was corrupted on the way (a bad cable, a torn read) or, for
// an encrypted frame, decrypted with the wrong key without authentication.
type CRCError struct {
	Sent     uint16 // the value after '!'
	Computed uint16 // the value of the content
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("dsmr: CRC mismatch: the telegram says %04X but its content gives %04X; "+
		"it was damaged on the way, or decrypted with a wrong key", e.Sent, e.Computed)
}

func (e *CRCError) Unwrap() error { return ErrCRC }

// Parse parses one telegram, from the '/' to the line after '!', into a new
// Telegram. See UnmarshalText for what is accepted. The Telegram is returned
// also with an error: empty after a *SyntaxError, with the parsed content
// after a *CRCError.
func Parse(data []byte) (*Telegram, error) {
	t := new(Telegram)
	err := t.UnmarshalText(data)
	return t, err
}

// UnmarshalText parses data into t, reusing t's memory, and copies data so
// that the caller may reuse it.
//
// data must start with '/', an identification line of at most 128 bytes of
// printable ASCII without '/', '!' and brackets, at least one object and a '!' at the start
// of a line that ends the telegram. The
// checksum after '!' may be four hex digits, fewer (some meters do not pad),
// or absent (DSMR 2.2 and 3 meters send a bare '!'); CR, LF, spaces, tabs
// and NUL bytes after it are ignored. Lines may end with CR LF, LF or CR,
// and empty lines are skipped, so the empty line after the identification
// line is optional. A line that starts with '(' continues the object before
// it, as the old M-Bus form 0-1:24.3.0 does. There is no limit on the length
// of a line or a value; the memory t uses grows linearly with len(data).
//
// A line that breaks the grammar in a telegram whose checksum matches is
// left out, with what follows it when that continues it (a line that starts
// with '('): the meter vouches for those bytes, and one line a parser does
// not know must not cost the others. UnmarshalText then returns nil and
// [Telegram.LineErrors] lists the lines left out. A telegram without a
// checksum (DSMR 2.2, 3) or whose checksum does not match gets no such
// leeway: a *SyntaxError, and t is left empty. A telegram that parses but
// whose checksum does not match gives a *CRCError; t then holds the parsed
// content, for callers that want to look at it anyway.
func (t *Telegram) UnmarshalText(data []byte) error {
	// The copy is followed by padding (see parse), in the same buffer.
	switch need := len(data) + len(padding); {
	case cap(t.raw) >= need && len(data) > 0 && &data[0] == &t.raw[:1][0]:
		t.raw = t.raw[:len(data)] // filled in place: see Buffer
	case cap(t.raw) < need:
		t.raw = make([]byte, 0, need+need/8)
		fallthrough
	default:
		t.raw = append(t.raw[:0], data...)
	}
	err := t.parse()
	if err != nil && !errors.Is(err, ErrCRC) {
		t.reset()
		t.raw = t.raw[:0]
	}
	return err
}

// Buffer returns an empty slice, with room for at least n bytes, of the
// memory t parses from. A caller that appends a telegram to it (within
// its capacity) and passes the result to UnmarshalText spares the copy
// UnmarshalText otherwise makes; package smarty decrypts into it. The
// slice is t's: it is overwritten by the next parse, and filling it spoils
// what t held before.
func (t *Telegram) Buffer(n int) []byte {
	if need := n + len(padding); cap(t.raw) < need {
		t.raw = make([]byte, 0, need+need/8)
	}
	return t.raw[: 0 : cap(t.raw)-len(padding)]
}

func (t *Telegram) reset() {
	t.header = ""
	t.objects = t.objects[:0]
	t.values = t.values[:0]
	t.recs = t.recs[:0]
	t.hasCRC, t.crcOK = false, false
	t.crc = 0
	t.skipped = t.skipped[:0]
	t.lineAt, t.lineNo = 0, 1
}

// padding is appended to the telegram while it is parsed: zero bytes that
// stop every scan at the end of the data without a separate length check
// (0 is in no byte class the parser accepts), and that let it read a few
// bytes ahead.
var padding [8]byte

// SWAR ("SIMD within a register") constants: a byte repeated eight times.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// errorf returns a *SyntaxError for the byte at off.
func (t *Telegram) errorf(off int, format string, args ...any) *SyntaxError {
	line, from := 1, 0
	if t.lineAt <= off {
		line, from = t.lineNo, t.lineAt
	}
	for k := from; k < min(off, len(t.raw)); k++ {
		// A line ends with LF, CR LF, or a lone CR.
		if c := t.raw[k]; c == '\n' || c == '\r' && (k+1 >= len(t.raw) || t.raw[k+1] != '\n') {
			line++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at off, which is not allowed where it is
// ("in an OBIS code"); what tells what belongs there instead. off may be
// the end of the telegram.
func (t *Telegram) unexpected(off int, where, what string) *SyntaxError {
	if off >= len(t.raw) {
		return t.errorf(off, "the telegram ends %s, without the final '!' line: it was cut short", where)
	}
	if what != "" {
		return t.errorf(off, "unexpected %s %s, where %s belongs", quoteByte(t.raw[off]), where, what)
	}
	return t.errorf(off, "unexpected %s %s", quoteByte(t.raw[off]), where)
}

// parse parses t.raw. It is the hot path of the package: it looks at every
// byte about once, keeps branches few and predictable, and builds no
// pointer-holding value more often than it must.
func (t *Telegram) parse() error {
	t.reset()
	n := len(t.raw)
	if n == 0 {
		return t.errorf(0, "empty input: a telegram starts with '/'")
	}
	if n > maxSize {
		return t.errorf(0, "%d bytes are too many for a telegram (at most %d)", n, maxSize)
	}
	// b is the telegram followed by padding; UnmarshalText made room for it.
	b := append(t.raw, padding[:]...)
	if b[0] != '/' {
		return t.errorf(0, "a telegram starts with '/', found %s", quoteByte(b[0]))
	}

	// The identification line: printable ASCII and tabs, checked eight
	// bytes at a time.
	i := 1
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			// The high bit of each byte < 0x20 or >= 0x7F; a borrow or
			// carry can set more above the first, never below it.
			if m := ((w-0x20*ones)&^w | (w + ones) | w) & highs; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for b[i] >= 0x20 && b[i] < 0x7F {
			i++
		}
		if b[i] != '\t' {
			break
		}
		i++
	}
	switch {
	case b[i] != '\r' && b[i] != '\n':
		return t.unexpected(i, "in the identification line", "")
	case i == 1:
		return t.errorf(i, "empty identification line")
	}
	if i-1 > maxHeader {
		return t.errorf(1, "the identification line is longer than %d bytes", maxHeader)
	}
	for k := 1; k < i; k++ {
		if c := b[k]; c == '/' || c == '!' || c == '(' || c == ')' {
			return t.unexpected(k, "in the identification line", "")
		}
	}
	if h := b[1:i]; string(h) == t.lastHeader {
		t.header = t.lastHeader // the same meter: no allocation
	} else {
		t.header = string(h)
		t.lastHeader = t.header
	}

	recs, values, end, ok := scan(b, i, t.recs[:0], t.values[:0], t.layout)
	if !ok {
		if bang := t.vouched(); bang > 0 {
			var err *SyntaxError
			recs, values, end, err = t.skipLines(b, bang, recs, values, end)
			if err != nil {
				t.recs, t.values = recs, values
				return err
			}
			ok = true
		}
	}
	t.recs, t.values = recs, values
	if !ok {
		return t.explain(b, end, len(recs) > 0)
	}
	if len(recs) == 0 {
		return t.errorf(end, "a telegram without any object")
	}
	t.learnLayout(b, recs)
	t.objects = buildObjects(t.objects[:0], recs, values)
	return t.parseEnd(end)
}

// vouched returns the position of the final '!' when the telegram ends
// with a checksum that matches its content, 0 otherwise: a '!' at the start
// of a line, one to four hex digits, and only line ends, spaces, tabs and
// NUL bytes after them.
func (t *Telegram) vouched() int {
	b := t.raw
	j := len(b)
	for j > 0 && (b[j-1] == '\r' || b[j-1] == '\n' || b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == 0) {
		j--
	}
	i := j
	for i > 0 && j-i < 4 && unhex(b[i-1]) >= 0 {
		i--
	}
	bang := i - 1
	if i == j || bang < 1 || b[bang] != '!' || b[bang-1] != '\r' && b[bang-1] != '\n' {
		return 0
	}
	var crc uint16
	for _, c := range b[i:j] {
		crc = crc<<4 | uint16(unhex(c))
	}
	if Checksum(b[:bang+1]) != crc {
		return 0
	}
	return bang
}

// skipLines goes on where scan found a fault at b[bad], in a telegram
// whose checksum matches (its '!' at b[bang]): it leaves out the faulty
// line, and the lines after it that continue it, records them in
// t.skipped, takes back what scan had kept of them, and scans on, as many
// times as it takes. The work stays linear in the size of the telegram.
func (t *Telegram) skipLines(b []byte, bang int, recs []objRec, values []Value, bad int) ([]objRec, []Value, int, *SyntaxError) {
	for {
		start := bad
		for start > 0 && b[start-1] != '\r' && b[start-1] != '\n' {
			start--
		}
		serr := t.explain(b, bad, len(recs) > 0)
		// Take back the object and the values scan kept of the line.
		if c := b[start]; c >= '0' && c <= '9' {
			if _, n, ok := scanOBIS(b[start:bang]); ok && b[start+n] == '(' {
				recs = recs[:len(recs)-1]
			}
		}
		values = values[:len(values)-bytes.Count(b[start:bad], []byte{')'})]
		end := start
		for end < bang && b[end] != '\r' && b[end] != '\n' {
			end++
		}
		if end >= bang {
			return recs, values, bad, serr // cannot happen: '!' starts a line
		}
		t.skipped = append(t.skipped, LineError{Line: serr.Line, Offset: start, Text: string(b[start:end]), Msg: serr.Msg})
		t.lineAt, t.lineNo = start, serr.Line
		first := serr.Line
		// Lines that continue the one left out go with it.
		for {
			next := end
			for next < bang && (b[next] == '\r' || b[next] == '\n') {
				next++
			}
			if b[next] != '(' {
				break
			}
			nend := next
			for nend < bang && b[nend] != '\r' && b[nend] != '\n' {
				nend++
			}
			line := t.errorf(next, "").Line
			t.lineAt, t.lineNo = next, line
			t.skipped = append(t.skipped, LineError{Line: line, Offset: next, Text: string(b[next:nend]),
				Msg: fmt.Sprintf("continues line %d, which was left out", first)})
			end = nend
		}
		var ok bool
		recs, values, bad, ok = scan(b, end, recs, values, t.layout)
		if ok {
			return recs, values, bad, nil
		}
	}
}

// LineErrors returns the lines that were left out of the telegram because
// they do not parse, in telegram order; nil when there were none. Only a
// telegram whose checksum matches can have them (see
// [Telegram.UnmarshalText]). The slice belongs to t.
func (t *Telegram) LineErrors() []LineError {
	if len(t.skipped) == 0 {
		return nil
	}
	return t.skipped
}

// objRec is an object while the telegram is being scanned: its code, one
// group per byte (A in bits 32 to 39, E in bits 0 to 7) and the length of
// its text in bits 40 to 47, the index of its first value, and the offset
// of its line. It holds no pointer, so that appending it costs no write
// barrier, and no OBIS, a struct of five fields that the compiler keeps in
// memory rather than in registers.
type objRec struct {
	code  uint64
	first int32
	at    int32
}

// codeText is the text of a code line up to its first '(' included, as
// scan expects it: its bytes in text (little-endian, up to 16), mask
// covering them, and the objRec code it parses to; n is its length
// without the '(', 0 when the text is too long to be expected.
type codeText struct {
	text, mask [2]uint64
	code       uint64
	n          int
}

// learnLayout keeps the code lines of recs, which scan found in b (the
// telegram and its padding), for the next telegram, when a meter sends
// them twice in a row: a program that reads several meters into one
// Telegram, in turn, pays only for comparing the codes.
func (t *Telegram) learnLayout(b []byte, recs []objRec) {
	if len(recs) == len(t.layout) {
		k := 0
		for k < len(recs) && recs[k].code == t.layout[k].code {
			k++
		}
		if k == len(recs) {
			return // as expected
		}
	}
	if len(recs) != len(t.seen) {
		t.seen = t.seen[:0]
		for _, r := range recs {
			t.seen = append(t.seen, r.code)
		}
		return
	}
	same := true
	for k, r := range recs {
		if t.seen[k] != r.code {
			same = false
			t.seen[k] = r.code
		}
	}
	if !same {
		return
	}
	t.layout = slices.Grow(t.layout[:0], len(recs))[:len(recs)]
	for k, r := range recs {
		c := &t.layout[k]
		n := int(r.code >> 40 & 0xFF) // the code's length, without '('
		at := int(r.at)
		if n+1 > 16 || at+16 > len(b) {
			*c = codeText{code: r.code} // n 0: never expected
			continue
		}
		// The masks cover the code and its '('.
		lo, hi := ^uint64(0), uint64(0)
		if n+1 < 8 {
			lo = 1<<(8*(n+1)) - 1
		} else {
			hi = 1<<(8*(n+1-8)) - 1 // n+1 == 16 gives all ones
		}
		c.mask = [2]uint64{lo, hi}
		c.text[0] = binary.LittleEndian.Uint64(b[at:]) & lo
		c.text[1] = binary.LittleEndian.Uint64(b[at+8:]) & hi
		c.code, c.n = r.code, n
	}
}

// maxHeader bounds the identification line (without its '/'), which
// IEC 62056-21 keeps to 16 characters and meters to a few dozen; package
// smarty's Reader, which must tell a telegram from noise, has the same
// bound.
const maxHeader = 128

// maxSize is the length of the longest telegram UnmarshalText accepts, so
// that objRec.first cannot overflow. Real telegrams are 0.5 to 2 KB.
const maxSize = math.MaxInt32

// scan reads the object lines of b from i, b[i] being the end of the
// identification line, and returns the position of the final '!'. b is the
// telegram followed by padding. Line k of the objects is expected to
// start with the code text layout[k] holds: when its bytes are there, they
// parse as they did before, and are not read one by one.
//
// scan only tells good from bad: at the first fault it returns ok false
// and a position in the faulty line, and explain finds out what is wrong.
// That keeps the loop small enough for the compiler to hold its state in
// registers.
func scan(b []byte, i int, recs []objRec, values []Value, layout []codeText) (_ []objRec, _ []Value, end int, ok bool) {
	for {
		if c := b[i]; c-'0' <= 9 {
			start := i
			// Nearly always, the line has the code of the same line of
			// the meter's last telegram, which parses the same again.
			if k := len(recs); k < len(layout) && i+16 <= len(b) {
				p := &layout[k]
				lo, hi := load64(b, i), load64(b, i+8)
				if (lo^p.text[0])&p.mask[0]|(hi^p.text[1])&p.mask[1] == 0 && p.n > 0 {
					recs = append(recs, objRec{p.code, int32(len(values)), int32(start)})
					i += p.n
					goto groups
				}
			}
			// The OBIS code A-B:C.D.E, each group 0 to 255, packed into
			// code one group per byte as it is read.
			var code uint64
			k := uint(0)
			// Fast path for A and B of one digit each, as in nearly every
			// code: check "d-d:" in one 4-byte load.
			if w := uint32(load64(b, i)); w&0xFFF0FFF0 == ':'<<24|'0'<<16|'-'<<8|'0' && (w+0x00060006)&0x00F000F0 == 0x00300030 {
				code = uint64(w&0xF)<<8 | uint64(w>>16&0xF)
				k = 2
				i += 4
			}
			for ; ; k++ {
				v := uint(b[i] - '0')
				if v > 9 {
					goto bad
				}
				i++
				if d := uint(b[i] - '0'); d <= 9 {
					v = v*10 + d
					i++
					if d := uint(b[i] - '0'); d <= 9 {
						v = v*10 + d
						i++
					}
				}
				if v > 255 || b[i]-'0' <= 9 {
					goto bad
				}
				code = code<<8 | uint64(v)
				if k == 4 {
					break
				}
				if b[i] != byte(obisSeparators>>(8*k)) {
					goto bad
				}
				i++
			}
			if b[i] != '(' {
				goto bad
			}
			recs = append(recs, objRec{code | uint64(i-start)<<40, int32(len(values)), int32(start)})
		} else if c == '\r' || c == '\n' {
			i++
			continue
		} else if c == '!' {
			return recs, values, i, true
		} else if c != '(' || len(recs) == 0 {
			// A line that starts with a group continues the object before
			// it, as the old M-Bus form 0-1:24.3.0 does.
			goto bad
		}

		// One or more groups: b[i] is '('.
	groups:
		for {
			// Eight bytes per step: the high bit of each byte that is
			// no valueByte (below 0x20, 0x7F and above, '(' and ')'); a
			// borrow or carry can set more above the first, never below.
			j := i + 1
			for {
				w := load64(b, j)
				x := w ^ '('*ones
				if m := ((w-0x20*ones)&^w | (w + ones) | w | (x-2*ones)&^x) & highs; m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					break
				}
				j += 8
			}
			if b[j] != ')' {
				goto bad
			}
			values = append(values, Value{raw: b[i+1 : j : j]})
			i = j + 1
			if b[i] != '(' {
				break
			}
		}
		if b := b[i : i+2 : i+2]; b[0] == '\r' && b[1] == '\n' {
			i += 2
			continue
		}
		if b[i] == '\r' || b[i] == '\n' {
			continue
		}
	bad:
		return recs, values, i, false
	}
}

// explain returns the error in the line that holds b[i], which scan found
// bad; hasObject tells whether an object came before the line. It is scan
// again, slowly, with a message for every fault.
func (t *Telegram) explain(b []byte, i int, hasObject bool) *SyntaxError {
	n := len(b) - len(padding)
	for i > 0 && b[i-1] != '\r' && b[i-1] != '\n' {
		i--
	}
	switch c := b[i]; {
	case c >= '0' && c <= '9':
		start := i
		for k := range 5 {
			if b[i] < '0' || b[i] > '9' {
				return t.unexpected(i, "in an OBIS code", "a digit")
			}
			v := 0
			for d := 0; b[i] >= '0' && b[i] <= '9'; d++ {
				if v = v*10 + int(b[i]-'0'); d == 3 || v > 255 {
					return t.errorf(start, "malformed OBIS code: a group has more than three digits or is larger than 255")
				}
				i++
			}
			if sep := byte(obisSeparators >> (8 * k)); k < 4 && b[i] != sep {
				return t.unexpected(i, "in an OBIS code", fmt.Sprintf("%q", sep))
			} else if k < 4 {
				i++
			}
		}
		if b[i] != '(' {
			return t.unexpected(i, fmt.Sprintf("after the OBIS code %s", t.raw[start:i]), "its first '('")
		}
	case c == '(':
		if !hasObject {
			return t.errorf(i, "value without an OBIS code")
		}
	case i == n:
		return t.errorf(i, "the telegram ends without the final '!' line: it was cut short")
	default:
		return t.unexpected(i, "at the start of a line", "an OBIS code, '(' or the final '!'")
	}
	for b[i] == '(' {
		j := i + 1
		for valueByte[b[j]] {
			j++
		}
		switch {
		case b[j] == ')':
			i = j + 1
			continue
		case j == n:
			return t.errorf(i, "unbalanced '(': the telegram ends inside this value, without ')' and the final '!' line")
		case b[j] == '(':
			return t.errorf(i, "unbalanced '(': another '(' at byte %d comes before its ')'", j)
		case b[j] == '\r' || b[j] == '\n':
			return t.errorf(i, "unbalanced '(': the line ends at byte %d before its ')'", j)
		}
		return t.unexpected(j, "inside a value (only printable ASCII is allowed)", "")
	}
	if b[i] != '\r' && b[i] != '\n' {
		return t.unexpected(i, "after a value", "'(' or the end of the line")
	}
	// Not reached: scan found a fault in this line.
	return t.errorf(i, "malformed line")
}

// load64 returns the eight bytes of b from i, little-endian, as
// binary.LittleEndian.Uint64(b[i:]) does, without making the slice b[i:]
// (which costs scan's loop a few instructions per load).
func load64(b []byte, i int) uint64 {
	b = b[i : i+8 : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// obisSeparators holds the separators of A-B:C.D.E, one per byte, lowest
// first.
const obisSeparators uint32 = '-' | ':'<<8 | '.'<<16 | '.'<<24

// valueByte: printable ASCII but the brackets, allowed inside a group.
var valueByte = func() (c [256]bool) {
	for k := 0x20; k < 0x7F; k++ {
		c[k] = k != '(' && k != ')'
	}
	return c
}()

// buildObjects appends the objects of recs to objects, each with its values.
func buildObjects(objects []Object, recs []objRec, values []Value) []Object {
	if cap(objects) < len(recs) {
		objects = make([]Object, 0, len(recs)+len(recs)/4)
	}
	objects = objects[:len(recs)]
	end := int32(len(values))
	for k := len(recs) - 1; k >= 0; k-- {
		// Field by field: a whole Object would be assembled on the stack
		// and copied, and OBIS is no value the compiler keeps in
		// registers.
		r := recs[k]
		o := &objects[k]
		o.OBIS.A = uint8(r.code >> 32)
		o.OBIS.B = uint8(r.code >> 24)
		o.OBIS.C = uint8(r.code >> 16)
		o.OBIS.D = uint8(r.code >> 8)
		o.OBIS.E = uint8(r.code)
		o.Values = values[r.first:end:end]
		end = r.first
	}
	return objects
}

// parseEnd checks what follows the '!' at b[i].
func (t *Telegram) parseEnd(i int) error {
	b := t.raw
	j := i + 1
	var crc uint16
	for j < len(b) && j-i-1 < 4 {
		v := unhex(b[j])
		if v < 0 {
			break
		}
		crc = crc<<4 | uint16(v)
		j++
	}
	digits := j - i - 1
	for k := j; k < len(b); k++ {
		switch b[k] {
		case '\r', '\n', ' ', '\t', 0:
		default:
			return t.errorf(k, "unexpected %s after the checksum: only CR, LF, spaces and tabs may follow it", quoteByte(b[k]))
		}
	}
	if digits == 0 {
		return nil // no checksum: DSMR 2.2 and 3
	}
	t.crc, t.hasCRC = crc, true
	if got := Checksum(b[:i+1]); got != crc {
		return &CRCError{Sent: crc, Computed: got}
	}
	t.crcOK = true
	return nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func quoteByte(c byte) string {
	switch c {
	case '\r':
		return "line end (CR)"
	case '\n':
		return "line end (LF)"
	}
	if c >= 0x20 && c < 0x7F {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

// Header returns the identification line without its '/', for example
// `Lux5\253663629_D`. It allocates only when the header differs from that
// of the telegram parsed into t before.
func (t *Telegram) Header() string { return t.header }

// Objects returns the objects in telegram order. The slice belongs to t.
func (t *Telegram) Objects() []Object { return t.objects }

// Bytes returns the telegram exactly as it was parsed, trailing CR and LF
// included. The slice belongs to t: it is valid until t is parsed into
// again, and must not be modified.
func (t *Telegram) Bytes() []byte { return t.raw[:len(t.raw):len(t.raw)] }

// CRC returns the checksum written after '!', and whether there was one
// (DSMR 2.2 and 3 telegrams have none). A telegram whose checksum does not
// match its content comes only with a *CRCError.
func (t *Telegram) CRC() (crc uint16, ok bool) { return t.crc, t.hasCRC }

// CRCOK reports whether the telegram has a checksum (see [Telegram.CRC])
// and it matches the content: false for a telegram without one, and for a
// telegram parsed with a *CRCError.
func (t *Telegram) CRCOK() bool { return t.crcOK }

// Clone returns a deep copy of t that stays valid when t is parsed into
// again.
func (t *Telegram) Clone() *Telegram {
	c := &Telegram{Location: t.Location}
	// Parsing the same bytes again gives the same result, CRC error included.
	_ = c.UnmarshalText(t.raw)
	return c
}
