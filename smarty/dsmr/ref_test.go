package dsmr

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// refParse is a reference parser for differential tests: the grammar of
// UnmarshalText written plainly, line by line, with the standard library and
// no attention to speed. The fast parser must accept exactly what it
// accepts and find the same objects.
func refParse(data []byte) refResult {
	syntax := refResult{err: "syntax"}
	if len(data) == 0 || data[0] != '/' {
		return syntax
	}
	eol := bytes.IndexAny(data, "\r\n")
	if eol < 0 {
		return syntax
	}
	header := data[1:eol]
	if len(header) == 0 || len(header) > 128 {
		return syntax
	}
	for _, c := range header {
		if c != '\t' && (c < 0x20 || c > 0x7E) || bytes.IndexByte([]byte("/!()"), c) >= 0 {
			return syntax
		}
	}
	res := refResult{header: string(header), crc: -1}
	vouched := refVouched(data)
	skipping := false // after a line left out, until a line that does not continue it
	rest := data[eol:]
	for {
		rest = bytes.TrimLeft(rest, "\r\n")
		if len(rest) == 0 {
			return syntax // no '!'
		}
		if rest[0] == '!' {
			break
		}
		line := rest
		if k := bytes.IndexAny(rest, "\r\n"); k >= 0 {
			line = rest[:k]
		}
		rest = rest[len(line):]
		if len(rest) == 0 {
			return syntax // the last line must end, and be followed by '!'
		}
		if skipping && line[0] == '(' {
			continue
		}
		skipping = false
		if !refLine(&res, line) {
			if !vouched {
				return syntax
			}
			skipping = true
		}
	}
	if len(res.objects) == 0 {
		return syntax
	}
	bang := len(data) - len(rest)
	tail := rest[1:]
	digits := 0
	for digits < 4 && digits < len(tail) && strings.IndexByte("0123456789ABCDEFabcdef", tail[digits]) >= 0 {
		digits++
	}
	for _, c := range tail[digits:] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' && c != 0 {
			return syntax
		}
	}
	if digits > 0 {
		v, err := strconv.ParseUint(string(tail[:digits]), 16, 16)
		if err != nil {
			panic(err)
		}
		res.crc = int(v)
		if crcBitwise(data[:bang+1]) != uint16(v) {
			res.err = "crc"
		}
	}
	return res
}

// refLine adds the object or the values of one line to res, and reports
// whether the line is well formed; res is unchanged when it is not.
func refLine(res *refResult, line []byte) bool {
	var groups []byte
	var obj *refObject
	switch c := line[0]; {
	case c == '(':
		if len(res.objects) == 0 {
			return false
		}
		groups = line
	case c >= '0' && c <= '9':
		k := bytes.IndexByte(line, '(')
		if k < 0 {
			return false
		}
		o, ok := refOBIS(string(line[:k]))
		if !ok {
			return false
		}
		obj = &refObject{obis: o}
		groups = line[k:]
	default:
		return false
	}
	var values []string
	for len(groups) > 0 {
		if groups[0] != '(' {
			return false
		}
		k := bytes.IndexByte(groups, ')')
		if k < 0 {
			return false
		}
		v := groups[1:k]
		for _, c := range v {
			if c < 0x20 || c > 0x7E || c == '(' {
				return false
			}
		}
		values = append(values, string(v))
		groups = groups[k+1:]
	}
	if obj != nil {
		obj.values = values
		res.objects = append(res.objects, *obj)
	} else {
		last := &res.objects[len(res.objects)-1]
		last.values = append(last.values, values...)
	}
	return true
}

// refVouched reports whether data ends with a '!' at the start of a line,
// one to four hex digits that are the CRC of what comes before, and only
// white space, the condition for leaving bad lines out.
func refVouched(data []byte) bool {
	tail := bytes.TrimRight(data, "\r\n \t\x00")
	k := bytes.LastIndexByte(tail, '!')
	if k < 1 || (data[k-1] != '\r' && data[k-1] != '\n') {
		return false
	}
	digits := tail[k+1:]
	if len(digits) == 0 || len(digits) > 4 {
		return false
	}
	v, err := strconv.ParseUint(string(digits), 16, 16)
	return err == nil && crcBitwise(data[:k+1]) == uint16(v)
}

type refResult struct {
	err     string // "", "syntax" or "crc"
	header  string
	objects []refObject
	crc     int // -1: none
}

type refObject struct {
	obis   OBIS
	values []string
}

// refOBIS parses A-B:C.D.E, each group one to three digits and at most 255.
func refOBIS(s string) (OBIS, bool) {
	a, rest, ok1 := strings.Cut(s, "-")
	b, rest, ok2 := strings.Cut(rest, ":")
	cde := strings.Split(rest, ".")
	if !ok1 || !ok2 || len(cde) != 3 {
		return OBIS{}, false
	}
	var g [5]uint8
	for i, p := range []string{a, b, cde[0], cde[1], cde[2]} {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return OBIS{}, false
		}
		n, _ := strconv.Atoi(p)
		if n > 255 {
			return OBIS{}, false
		}
		g[i] = uint8(n)
	}
	return OBIS{g[0], g[1], g[2], g[3], g[4]}, true
}

// resultOf puts what Parse returned in the form of refParse.
func resultOf(t *Telegram, err error) refResult {
	var r refResult
	switch {
	case err == nil:
	case errors.Is(err, ErrCRC):
		r.err = "crc"
	case errors.Is(err, ErrSyntax):
		r.err = "syntax"
	default:
		r.err = "other: " + err.Error()
	}
	if r.err == "syntax" {
		return r
	}
	r.header = t.Header()
	r.crc = -1
	if crc, ok := t.CRC(); ok {
		r.crc = int(crc)
	}
	for _, o := range t.Objects() {
		ro := refObject{obis: o.OBIS}
		for _, v := range o.Values {
			ro.values = append(ro.values, v.String())
		}
		r.objects = append(r.objects, ro)
	}
	return r
}

func (r refResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "err=%q header=%q crc=%d", r.err, r.header, r.crc)
	for _, o := range r.objects {
		fmt.Fprintf(&b, "\n  %v %q", o.obis, o.values)
	}
	return b.String()
}

func (r refResult) equal(s refResult) bool {
	return r.err == s.err && r.header == s.header && r.crc == s.crc &&
		slices.EqualFunc(r.objects, s.objects, func(a, b refObject) bool {
			return a.obis == b.obis && slices.Equal(a.values, b.values)
		})
}

// checkAgainstReference parses data with Parse and with refParse and fails
// when they disagree.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	tg, err := Parse(data)
	if se := (*SyntaxError)(nil); errors.As(err, &se) && se.Msg == "malformed line" {
		t.Fatalf("scan found a fault in %q that explain could not name", data)
	}
	got, want := resultOf(tg, err), refParse(data)
	if !got.equal(want) {
		t.Fatalf("Parse and the reference parser disagree on %q\nParse (error %v):\n%v\nreference:\n%v", data, err, got, want)
	}
}

func TestReferenceParserOnCorpus(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(f.name, func(t *testing.T) {
			checkAgainstReference(t, readFile(t, f.path))
		})
	}
}

// TestReferenceParserMutations changes each byte of the real telegram into
// a set of bytes that matter to the grammar, deletes it, and cuts the
// telegram at every length: the fast parser's shortcuts (eight bytes read at
// once, two value bytes per step, the sentinel) must not change the result.
func TestReferenceParserMutations(t *testing.T) {
	for _, name := range []string{"../../testdata/smarty-2018.txt", "testdata/corpus/nl-dsmr22.txt"} {
		data := readFile(t, name)
		subst := []byte{0, '\t', '\r', '\n', ' ', '!', '(', ')', '*', '-', '.', '/', '0', '9', ':', 'A', 'W', 0x7E, 0x7F, 0x80, 0xFF}
		buf := make([]byte, len(data))
		for i := range data {
			for _, c := range subst {
				copy(buf, data)
				buf[i] = c
				checkAgainstReference(t, buf)
			}
			checkAgainstReference(t, slices.Delete(slices.Clone(data), i, i+1))
			checkAgainstReference(t, data[:i])
		}
	}
}
