package dsmr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Telegram is a parsed DSMR telegram: the identification line, the objects
// in the order the meter sent them, and the checksum.
//
// A Telegram owns a copy of the text it was parsed from; its Objects and
// Values point into that copy. Parsing into a Telegram again (UnmarshalText)
// reuses its memory, so a program that reads one telegram after another
// allocates nothing in the steady state, but must not keep Objects or
// Values of a previous telegram; Clone makes a copy that can be kept.
type Telegram struct {
	raw     []byte
	header  []byte
	objects []Object
	values  []Value
	bounds  []int32 // scratch: index of each object's first value
	crc     uint16
	hasCRC  bool
}

// Object is one line of a telegram: an OBIS code and its bracketed groups.
// Most objects have one value; some have several, such as
// 1-1:31.4.0(100*A)(-063*A) or an M-Bus reading
// 0-1:24.2.1(200706103140S)(00000.006*m3).
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

// CRCError reports a checksum that does not match the telegram's content:
// the telegram was corrupted on the way (a bad cable, a torn read) or, for
// an encrypted frame, decrypted with the wrong key without authentication.
type CRCError struct {
	Sent     uint16 // the value after '!'
	Computed uint16 // the value of the content
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("dsmr: CRC mismatch: telegram says %04X, its content gives %04X", e.Sent, e.Computed)
}

func (e *CRCError) Unwrap() error { return ErrCRC }

// Parse parses one telegram, from the '/' to the line after '!', into a new
// Telegram. See UnmarshalText for what is accepted.
func Parse(data []byte) (*Telegram, error) {
	t := new(Telegram)
	if err := t.UnmarshalText(data); err != nil {
		return t, err
	}
	return t, nil
}

// UnmarshalText parses data into t, reusing t's memory, and copies data so
// that the caller may reuse it.
//
// data must start with '/' and hold a '!' that ends the telegram. The
// checksum after '!' may be four hex digits, fewer (some meters do not pad),
// or absent (DSMR 2.2 and 3 meters send a bare '!'); CR, LF and spaces after
// it are ignored. A line that starts with '(' continues the object before it,
// as the old M-Bus form 0-1:24.3.0 does.
//
// A telegram that breaks the grammar gives a *SyntaxError, and t is left
// empty. A telegram that parses but whose checksum does not match gives a
// *CRCError; t then holds the parsed content, for callers that want to look
// at it anyway.
func (t *Telegram) UnmarshalText(data []byte) error {
	t.raw = append(t.raw[:0], data...)
	err := t.parse()
	if err != nil && !errors.Is(err, ErrCRC) {
		t.reset()
	}
	return err
}

func (t *Telegram) reset() {
	t.header = nil
	t.objects = t.objects[:0]
	t.values = t.values[:0]
	t.bounds = t.bounds[:0]
	t.hasCRC = false
	t.crc = 0
}

// SWAR ("SIMD within a register") constants: a byte repeated eight times.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns a mask with the high bit set in the lowest byte of w (in
// little-endian order) that cannot appear inside a value: a control
// character, DEL or a non-ASCII byte, '(' or ')'. Bits above the lowest one
// may be set spuriously; the lowest one is exact, because the carries and
// borrows that cause the spurious bits only travel upwards from a real
// match.
func special(w uint64) uint64 {
	ctl := (w - 0x20*ones) &^ w           // bytes < 0x20
	high := (w + 0x01*ones) | w           // bytes >= 0x7F
	br := w ^ 0x28*ones                   // '(' -> 0, ')' -> 1
	br = (br - 0x02*ones) &^ br           // bytes that were '(' or ')'
	return (ctl | high | br) & highs
}

func (t *Telegram) errorf(off int, format string, args ...any) *SyntaxError {
	line := 1
	b := t.raw[:min(off, len(t.raw))]
	for k, c := range b {
		// A line ends with LF, CR LF, or a lone CR.
		if c == '\n' || c == '\r' && (k+1 >= len(t.raw) || t.raw[k+1] != '\n') {
			line++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// parse parses t.raw. It is the hot path of the package: it looks at every
// byte once, keeps branches few and predictable, and reads eight bytes at a
// time where a run of bytes only has to be checked.
func (t *Telegram) parse() error {
	t.reset()
	n := len(t.raw)
	if n == 0 {
		return t.errorf(0, "empty input")
	}
	// b is t.raw plus a zero byte, a sentinel that stops every scan below
	// at the end without a separate length check: 0 is in no byte class.
	b := append(t.raw, 0)
	t.raw = b[:n]
	if b[0] != '/' {
		return t.errorf(0, "telegram must start with '/', found %s", quoteByte(b[0]))
	}

	// The identification line: printable ASCII and tabs.
	i := 1
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if m := ((w - 0x20*ones) &^ w | (w + ones) | w) & highs; m != 0 {
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
	case i == n:
		return t.errorf(i, "identification line does not end")
	case b[i] != '\r' && b[i] != '\n':
		return t.errorf(i, "unexpected %s in the identification line", quoteByte(b[i]))
	case i == 1:
		return t.errorf(i, "empty identification line")
	}
	t.header = b[1:i:i]

	objects, values, bounds := t.objects[:0], t.values[:0], t.bounds[:0]
	defer func() {
		// Keep the grown slices for the next parse, whatever happens.
		t.objects, t.values, t.bounds = objects, values, bounds
	}()
	for {
		c := b[i]
		if c == '\r' || c == '\n' {
			i++
			continue
		}
		if c == '(' {
			// A line that starts with a group continues the object before
			// it, as the old M-Bus form 0-1:24.3.0 does.
			if len(objects) == 0 {
				return t.errorf(i, "value without an OBIS code")
			}
		} else if c-'0' <= 9 {
			// The OBIS code A-B:C.D.E, each group 0 to 255.
			start := i
			var g [5]uint8
			for k := 0; ; k++ {
				v := uint(b[i] - '0')
				if v > 9 {
					return t.errorf(i, "malformed OBIS code: expected a digit, found %s", quoteByte(b[i]))
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
					return t.errorf(start, "malformed OBIS code: a group is larger than 255")
				}
				g[k] = uint8(v)
				if k == 4 {
					break
				}
				if b[i] != obisSeparators[k] {
					return t.errorf(i, "malformed OBIS code: expected %q, found %s", obisSeparators[k], quoteByte(b[i]))
				}
				i++
			}
			o := OBIS{g[0], g[1], g[2], g[3], g[4]}
			if b[i] != '(' {
				return t.errorf(i, "OBIS code %s has no value in brackets", o)
			}
			objects = append(objects, Object{OBIS: o})
			bounds = append(bounds, int32(len(values)))
		} else if c == '!' {
			finishObjects(objects, values, bounds)
			return t.parseEnd(i)
		} else if i == n {
			return t.errorf(i, "missing '!' at the end of the telegram")
		} else {
			return t.errorf(i, "unexpected %s at the start of a line", quoteByte(c))
		}

		// One or more groups: b[i] is '('.
		for {
			start := i + 1
			j := start
			for j+8 <= len(b) {
				if m := special(binary.LittleEndian.Uint64(b[j:])); m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					goto found
				}
				j += 8
			}
			for valueByte[b[j]] {
				j++
			}
		found:
			if b[j] != ')' {
				switch {
				case j == n:
					return t.errorf(i, "unbalanced '(': the telegram ends inside a value")
				case b[j] == '(' || b[j] == '\r' || b[j] == '\n':
					return t.errorf(i, "unbalanced '(': no ')' before %s", quoteByte(b[j]))
				}
				return t.errorf(j, "unexpected %s inside a value", quoteByte(b[j]))
			}
			values = append(values, Value{raw: b[start:j:j]})
			i = j + 1
			if b[i] != '(' {
				break
			}
		}
		if b[i] != '\r' && b[i] != '\n' {
			if i == n {
				return t.errorf(i, "missing '!' at the end of the telegram")
			}
			return t.errorf(i, "unexpected %s after a value", quoteByte(b[i]))
		}
	}
}

// valueByte: printable ASCII but the brackets, allowed inside a group.
var valueByte = func() (c [256]bool) {
	for k := 0x20; k < 0x7F; k++ {
		c[k] = k != '(' && k != ')'
	}
	return c
}()

// finishObjects points each object's Values into values, now that the
// slice no longer moves.
func finishObjects(objects []Object, values []Value, bounds []int32) {
	n := int32(len(values))
	for k := len(objects) - 1; k >= 0; k-- {
		s := bounds[k]
		objects[k].Values = values[s:n:n]
		n = s
	}
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
			return t.errorf(k, "unexpected %s after the checksum", quoteByte(b[k]))
		}
	}
	if digits == 0 {
		return nil // no checksum: DSMR 2.2 and 3
	}
	t.crc, t.hasCRC = crc, true
	if got := Checksum(b[:i+1]); got != crc {
		return &CRCError{Sent: crc, Computed: got}
	}
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
	if c >= 0x20 && c < 0x7F {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

// Header returns the identification line without its '/', for example
// `Lux5\253663629_D`.
func (t *Telegram) Header() string { return string(t.header) }

// Objects returns the objects in telegram order. The slice belongs to t.
func (t *Telegram) Objects() []Object { return t.objects }

// Bytes returns the telegram exactly as it was parsed. The slice belongs to
// t.
func (t *Telegram) Bytes() []byte { return t.raw }

// CRC returns the checksum written after '!', and whether there was one.
// A telegram with a checksum that does not match is only returned alongside
// a *CRCError.
func (t *Telegram) CRC() (crc uint16, ok bool) { return t.crc, t.hasCRC }

// Clone returns a deep copy of t that stays valid when t is parsed into
// again.
func (t *Telegram) Clone() *Telegram {
	c := new(Telegram)
	// Parsing the same bytes again gives the same result, CRC error included.
	_ = c.UnmarshalText(t.raw)
	return c
}
