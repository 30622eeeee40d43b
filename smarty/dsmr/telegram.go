package dsmr

import (
	"errors"
	"fmt"
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

// Byte classes for the parser.
var (
	// headerByte: printable ASCII, allowed in the identification line.
	headerByte [256]bool
	// valueByte: printable ASCII but the brackets, allowed inside a group.
	valueByte [256]bool
)

func init() {
	for c := 0x20; c < 0x7F; c++ {
		headerByte[c] = true
		valueByte[c] = c != '(' && c != ')'
	}
	headerByte['\t'] = true
}

func (t *Telegram) errorf(off int, format string, args ...any) *SyntaxError {
	line := 1
	for _, c := range t.raw[:min(off, len(t.raw))] {
		if c == '\n' {
			line++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (t *Telegram) parse() error {
	t.reset()
	b := t.raw
	if len(b) == 0 {
		return t.errorf(0, "empty input")
	}
	if b[0] != '/' {
		return t.errorf(0, "telegram must start with '/', found %s", quoteByte(b[0]))
	}
	i := 1
	for i < len(b) && headerByte[b[i]] {
		i++
	}
	if i == len(b) {
		return t.errorf(i, "identification line does not end")
	}
	if b[i] != '\r' && b[i] != '\n' {
		return t.errorf(i, "unexpected %s in the identification line", quoteByte(b[i]))
	}
	if i == 1 {
		return t.errorf(i, "empty identification line")
	}
	t.header = b[1:i]

	for i < len(b) {
		c := b[i]
		switch {
		case c == '\r' || c == '\n':
			i++
			continue
		case c == '!':
			t.finishObjects()
			return t.parseEnd(i)
		case c == '(':
			if len(t.objects) == 0 {
				return t.errorf(i, "value without an OBIS code")
			}
		case c >= '0' && c <= '9':
			o, n, ok := scanOBIS(b[i:])
			if !ok {
				return t.errorf(i+n, "malformed OBIS code")
			}
			t.objects = append(t.objects, Object{OBIS: o})
			t.bounds = append(t.bounds, int32(len(t.values)))
			i += n
			if i == len(b) || b[i] != '(' {
				return t.errorf(i, "OBIS code %s has no value in brackets", o)
			}
		default:
			return t.errorf(i, "unexpected %s at the start of a line", quoteByte(c))
		}
		// One or more groups.
		for i < len(b) && b[i] == '(' {
			start := i + 1
			j := start
			for j < len(b) && valueByte[b[j]] {
				j++
			}
			if j == len(b) {
				return t.errorf(i, "unbalanced '(': the telegram ends inside a value")
			}
			if b[j] != ')' {
				if b[j] == '(' || b[j] == '\r' || b[j] == '\n' {
					return t.errorf(i, "unbalanced '(': no ')' before %s", quoteByte(b[j]))
				}
				return t.errorf(j, "unexpected %s inside a value", quoteByte(b[j]))
			}
			t.values = append(t.values, Value{raw: b[start:j:j]})
			i = j + 1
		}
		if i < len(b) && b[i] != '\r' && b[i] != '\n' {
			return t.errorf(i, "unexpected %s after a value", quoteByte(b[i]))
		}
	}
	t.finishObjects()
	return t.errorf(len(b), "missing '!' at the end of the telegram")
}

// finishObjects points each object's Values into t.values, now that the
// slice no longer moves.
func (t *Telegram) finishObjects() {
	n := int32(len(t.values))
	for k := len(t.objects) - 1; k >= 0; k-- {
		s := t.bounds[k]
		t.objects[k].Values = t.values[s:n:n]
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
