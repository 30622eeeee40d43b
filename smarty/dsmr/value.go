package dsmr

import (
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Value is one bracketed group of an object line: the text between "(" and
// ")". A Value refers to the bytes of the Telegram it came from and is valid
// until that Telegram is parsed into again; String copies it out.
//
// The methods interpret the text; none of them fails loudly. Each returns
// false when the text is not of the form asked for, so a caller can try the
// forms it expects.
type Value struct {
	raw []byte
}

// Kind is the form of a value's text.
type Kind uint8

const (
	// KindEmpty is the empty group "()".
	KindEmpty Kind = iota
	// KindNumber is a decimal number with an optional unit: "000006.695*kWh",
	// "-063*A", "00099". At most 18 significant digits and 18 decimals.
	KindNumber
	// KindTime is a timestamp YYMMDDhhmmssX with X = S (summer) or W
	// (winter), including the placeholders meters send for "no time"; or,
	// from DSMR 2.2 and 3 meters, the twelve digits alone when they make a
	// valid time (see IsPlaceholder).
	KindTime
	// KindOBIS is an OBIS code used as a value, as in the power-failure log.
	KindOBIS
	// KindString is anything else, for example hex-encoded text.
	KindString
)

var kindNames = [...]string{"empty", "number", "time", "obis", "string"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Bytes returns the text inside the brackets. The slice aliases the
// telegram's buffer: do not modify it, and copy it to keep it.
func (v Value) Bytes() []byte { return v.raw }

// String returns the text inside the brackets.
func (v Value) String() string { return string(v.raw) }

// IsEmpty reports whether the group is "()".
func (v Value) IsEmpty() bool { return len(v.raw) == 0 }

// Kind classifies the value's text, trying the kinds in the order they are
// declared. A hex-encoded text made only of digits classifies as a number
// when it is short enough to be one; whether an object holds text is a
// property of the object (see Object.IsText).
func (v Value) Kind() Kind {
	switch {
	case len(v.raw) == 0:
		return KindEmpty
	case isTimestamp(v.raw):
		return KindTime
	}
	if _, _, ok := parseNumber(v.raw); ok {
		return KindNumber
	}
	if _, n, ok := scanOBIS(v.raw); ok && n == len(v.raw) {
		return KindOBIS
	}
	return KindString
}

// Decimal returns the number in the value and its unit ("" when the meter
// sent none). ok is false when the value is not a number.
func (v Value) Decimal() (d Decimal, unit string, ok bool) {
	d, u, ok := parseNumber(v.raw)
	if !ok {
		return Decimal{}, "", false
	}
	return d, internUnit(u), true
}

// Float returns the number in the value as a float64, without its unit.
func (v Value) Float() (float64, bool) {
	d, _, ok := parseNumber(v.raw)
	return d.Float64(), ok
}

// Unit returns the unit after "*" in a numeric value, or "" when there is
// none.
func (v Value) Unit() string {
	_, u, ok := parseNumber(v.raw)
	if !ok {
		return ""
	}
	return internUnit(u)
}

// Time returns the instant a timestamp value denotes. ok is false when the
// value is not a timestamp, or is one of the placeholders that mean "no
// time" (such as 632525252525S or 000101010000W); IsPlaceholder tells the
// two apart.
//
// The meter writes local time with S (summer, CEST, UTC+2) or W (winter, CET,
// UTC+1); the letter settles the hour that occurs twice in October, and is
// trusted over the calendar. When the letter is missing, as on DSMR 2.2 and
// 3 meters, the European summer-time rule decides: a time in the hour that
// occurs twice is taken as summer time (the first of the two), a time in
// the hour skipped in March as winter time. The result is in a fixed zone
// named CET or CEST, so that no time zone database is needed.
func (v Value) Time() (t time.Time, ok bool) {
	if timestampForm(v.raw) != validTimestamp {
		return time.Time{}, false
	}
	return parseTimestamp(v.raw)
}

// IsPlaceholder reports whether the value is a timestamp that stands for "no
// time": twelve digits that make no valid date, such as 632525252525S or
// 000000000000W, or the start of 2000, 000101010000W (also with S, without
// the letter, or with hour 00 or 02). Without the letter, digits that make
// no date are a placeholder only when they are all zero.
func (v Value) IsPlaceholder() bool {
	return timestampForm(v.raw) == placeholderTimestamp
}

// OBIS returns the code held by a value such as "(0-0:96.7.19)".
func (v Value) OBIS() (OBIS, bool) {
	o, n, ok := scanOBIS(v.raw)
	return o, ok && n == len(v.raw)
}

// Text decodes a hex-encoded octet string such as the meter id
// 53414731303330373030313134303034 ("SAG1030700114004") or a message
// (0-0:96.13.0, up to 1024 hex digits). ok is false when the value is
// empty, not an even number of hex digits, or decodes to bytes that are not
// text: invalid UTF-8, or control characters other than tab, CR and LF.
// AppendText is the same without making a string.
func (v Value) Text() (string, bool) {
	var buf [64]byte
	b, ok := v.AppendText(buf[:0])
	if !ok {
		return "", false
	}
	return string(b), true
}

// AppendText appends the text Text returns to dst and returns the extended
// slice, for a caller that builds output without allocating. When the value
// is not text (see Text), ok is false and the slice returned holds dst's
// bytes, with dst's length. It allocates only when dst has no room.
func (v Value) AppendText(dst []byte) (_ []byte, ok bool) {
	n := len(v.raw) / 2
	if n == 0 || len(v.raw)%2 != 0 {
		return dst, false
	}
	start := len(dst)
	dst = slices.Grow(dst, n)
	out := dst[start : start+n]
	if _, err := hex.Decode(out, v.raw); err != nil {
		return dst[:start], false
	}
	for _, c := range out {
		if c < 0x20 && c != '\r' && c != '\n' && c != '\t' || c == 0x7F {
			return dst[:start], false
		}
	}
	if !utf8.Valid(out) {
		return dst[:start], false
	}
	return dst[:start+n], true
}

// int returns the value of a count such as "003" or "00069": one to nine
// decimal digits, nothing else.
func (v Value) int() (int, bool) {
	if len(v.raw) == 0 || len(v.raw) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range v.raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Decimal is an exact fixed-point number as meters send them: the value is
// Coef / 10^Scale. 000006.695 is {6695, 3}, -063 is {-63, 0}.
type Decimal struct {
	Coef  int64
	Scale uint8
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// Float64 returns the nearest float64 to d.
func (d Decimal) Float64() float64 {
	// Both operands exact: the quotient is correctly rounded.
	if d.Coef <= 1<<53 && d.Coef >= -1<<53 && int(d.Scale) < len(pow10) {
		return float64(d.Coef) / pow10[d.Scale]
	}
	var b [48]byte
	f, err := strconv.ParseFloat(string(d.AppendText(b[:0])), 64)
	if err != nil {
		return math.NaN() // not reached: AppendText writes a valid number
	}
	return f
}

// String returns d without padding, keeping its decimals: "6.695", "-63",
// "0.000".
func (d Decimal) String() string {
	var b [24]byte
	return string(d.AppendText(b[:0]))
}

// AppendText appends the text of String to b.
func (d Decimal) AppendText(b []byte) []byte {
	c := d.Coef
	if c < 0 {
		b = append(b, '-')
	}
	var digits [20]byte
	u := uint64(c)
	if c < 0 {
		u = uint64(-c)
	}
	s := strconv.AppendUint(digits[:0], u, 10)
	scale := int(d.Scale)
	if scale == 0 {
		return append(b, s...)
	}
	if len(s) <= scale {
		b = append(b, '0', '.')
		for i := len(s); i < scale; i++ {
			b = append(b, '0')
		}
		return append(b, s...)
	}
	b = append(b, s[:len(s)-scale]...)
	b = append(b, '.')
	return append(b, s[len(s)-scale:]...)
}

// MarshalText implements encoding.TextMarshaler with the text of String.
func (d Decimal) MarshalText() ([]byte, error) { return d.AppendText(nil), nil }

// MarshalJSON writes d as a JSON number with its decimals kept.
func (d Decimal) MarshalJSON() ([]byte, error) { return d.AppendText(nil), nil }

// parseNumber reads [-]digits[.digits][*unit]. At most 18 significant
// digits, so that the coefficient fits an int64, and 18 decimals; leading
// zeros, which meters send to fill a fixed width, do not count.
func parseNumber(b []byte) (d Decimal, unit []byte, ok bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var coef int64
	digits, significant, scale := 0, 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c >= '0' && c <= '9' {
			coef = coef*10 + int64(c-'0')
			digits++
			if coef != 0 {
				significant++
			}
			if seenDot {
				scale++
			}
			if significant > 18 || scale > 18 {
				return Decimal{}, nil, false
			}
			continue
		}
		if c == '.' && !seenDot {
			seenDot = true
			continue
		}
		break
	}
	if digits == 0 || (seenDot && scale == 0) {
		return Decimal{}, nil, false
	}
	if i < len(b) {
		if b[i] != '*' || i+1 == len(b) {
			return Decimal{}, nil, false
		}
		unit = b[i+1:]
		for _, c := range unit {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return Decimal{}, nil, false
			}
		}
	}
	if neg {
		coef = -coef
	}
	return Decimal{Coef: coef, Scale: uint8(scale)}, unit, true
}

// units holds the unit strings meters send, so that returning one does not
// allocate.
var units = [...]string{"kWh", "Wh", "kvarh", "kW", "W", "kvar", "kVA", "kVAh",
	"V", "A", "m3", "GJ", "s", "h", "kVArh", "kVAr"}

// knownUnit returns u as one of units, or "" when it is none of them.
func knownUnit(u []byte) string {
	for _, s := range units {
		if string(u) == s {
			return s
		}
	}
	return ""
}

func internUnit(u []byte) string {
	if len(u) == 0 {
		return ""
	}
	for _, s := range units {
		if string(u) == s {
			return s
		}
	}
	return string(u)
}

// The forms timestampForm tells apart.
const (
	notTimestamp = iota
	validTimestamp
	placeholderTimestamp
)

// timestampForm classifies b. A timestamp is YYMMDDhhmmssX with X = S or
// W, or the twelve digits alone (DSMR 2.2 and 3). With the letter, twelve
// digits that make no valid time are a placeholder; without it, only
// 000000000000 and the start of 2000 are, and other digits that make no
// time are not a timestamp (they may be a number).
func timestampForm(b []byte) int {
	switch len(b) {
	case 13:
		if b[12] != 'S' && b[12] != 'W' {
			return notTimestamp
		}
	case 12:
	default:
		return notTimestamp
	}
	for _, c := range b[:12] {
		if c < '0' || c > '9' {
			return notTimestamp
		}
	}
	if isStartOf2000(b) {
		return placeholderTimestamp
	}
	if _, ok := parseTimestamp(b); ok {
		return validTimestamp
	}
	if len(b) == 13 || string(b) == "000000000000" {
		return placeholderTimestamp
	}
	return notTimestamp
}

// isStartOf2000 reports whether the twelve digits b are 2000-01-01 at 00:00,
// 01:00 or 02:00: the "no time" 000101010000W (2000-01-01 00:00 UTC) in
// each of the forms a meter might write it.
func isStartOf2000(b []byte) bool {
	return string(b[:6]) == "000101" && b[6] == '0' && b[7] <= '2' && string(b[8:12]) == "0000"
}

func isTimestamp(b []byte) bool { return timestampForm(b) != notTimestamp }

var (
	cet  = time.FixedZone("CET", 1*60*60)
	cest = time.FixedZone("CEST", 2*60*60)
)

// parseTimestamp converts twelve digits and an optional S or W. ok is
// false for dates that do not exist and for the "no time" date 00-01-01
// 01:00:00 (2000-01-01 00:00 UTC, written 000101010000W), which is also
// accepted as 00:00 and 02:00.
func parseTimestamp(b []byte) (time.Time, bool) {
	two := func(i int) int { return int(b[i]-'0')*10 + int(b[i+1]-'0') }
	yy, mo, dd, hh, mi, ss := two(0), two(2), two(4), two(6), two(8), two(10)
	if mo < 1 || mo > 12 || dd < 1 || dd > daysIn(mo, 2000+yy) || hh > 23 || mi > 59 || ss > 59 {
		return time.Time{}, false
	}
	if isStartOf2000(b) {
		return time.Time{}, false // 000101010000W: "no time"
	}
	year, month := 2000+yy, time.Month(mo)
	switch {
	case len(b) == 13 && b[12] == 'S':
		return time.Date(year, month, dd, hh, mi, ss, 0, cest), true
	case len(b) == 13:
		return time.Date(year, month, dd, hh, mi, ss, 0, cet), true
	}
	if t := time.Date(year, month, dd, hh, mi, ss, 0, cest); isEUSummerTime(t) {
		return t, true
	}
	return time.Date(year, month, dd, hh, mi, ss, 0, cet), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isEUSummerTime reports whether t falls in European summer time, which runs
// from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
// of October.
func isEUSummerTime(t time.Time) bool {
	u := t.UTC()
	y := u.Year()
	start := lastSunday(y, time.March).Add(time.Hour)
	end := lastSunday(y, time.October).Add(time.Hour)
	return !u.Before(start) && u.Before(end)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC) // last day of month
	return d.AddDate(0, 0, -int(d.Weekday()))
}
