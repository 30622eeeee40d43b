package dsmr

import (
	"encoding/binary"
	"errors"
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
	// valid time (see [Value.IsPlaceholder]).
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

// Kind classifies the value's text, trying the kinds in the order they are
// declared. A hex-encoded text made only of digits classifies as a number
// when it is short enough to be one; whether an object holds text is a
// property of the object's code ([Info] Text, from [Lookup]).
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

// AppendNumber appends the number in the value to b as [Decimal.AppendText]
// writes it (000006.695*kWh gives 6.695, -063*A gives -63), and returns
// the unit sent with it, which aliases the value's text (nil when the
// meter sent none). It reads the text once and makes no [Decimal], for a
// caller that builds output. When the value is not a number, as
// [Value.Decimal] decides, it returns b unchanged and false.
func (v Value) AppendNumber(b []byte) (_ []byte, unit []byte, ok bool) {
	raw := v.raw
	i := 0
	neg := false
	if len(raw) > 0 && (raw[0] == '-' || raw[0] == '+') {
		neg = raw[0] == '-'
		i = 1
	}
	// The digits as parseNumber counts them.
	first := i
	for i < len(raw) && raw[i] == '0' {
		i++
	}
	nonzero := i
	for i < len(raw) && raw[i]-'0' <= 9 {
		i++
	}
	intEnd := i
	significant, digits, scale := intEnd-nonzero, intEnd-first, 0
	if i < len(raw) && raw[i] == '.' {
		i++
		frac := i
		for i < len(raw) && raw[i]-'0' <= 9 {
			i++
		}
		if scale = i - frac; scale == 0 {
			return b, nil, false
		}
		digits += scale
		if significant == 0 {
			for frac < i && raw[frac] == '0' {
				frac++
			}
			significant = i - frac
		} else {
			significant += scale
		}
	}
	end := i
	if digits == 0 || significant > 18 || scale > 18 {
		return b, nil, false
	}
	if i < len(raw) {
		if raw[i] != '*' || i+1 == len(raw) {
			return b, nil, false
		}
		unit = raw[i+1:]
		for _, c := range unit {
			if !alnum[c] {
				return b, nil, false
			}
		}
	}
	// The text is the digits without their leading zeros, one zero kept
	// before the point; a minus only for a number that is not zero.
	if neg && significant > 0 {
		b = append(b, '-')
	}
	if nonzero == intEnd {
		b = append(b, '0')
		return append(b, raw[intEnd:end]...), unit, true
	}
	return append(b, raw[nonzero:end]...), unit, true
}

// Time returns the instant a timestamp value denotes, read in the meter's
// time zone loc (nil: [DefaultZone]; see [LoadLocation]). ok is false when
// the value is not a timestamp, or is a placeholder that means "no time"
// ([Value.IsPlaceholder] tells the two apart).
//
// One rule for all meters: the calendar of loc decides the offset, and the
// S (summer) or W (winter) letter only settles the hour that occurs twice
// when the clocks go back, S or no letter (DSMR 2.2 and 3) for its first
// pass, W for its second. A letter that contradicts the calendar is
// ignored: Belgian meters stamp 1 March as 200301000000S, and mean local
// midnight, +01:00. A time in the hour skipped when the clocks go forward
// is read with the offset before it. The result is in loc.
func (v Value) Time(loc *time.Location) (t time.Time, ok bool) {
	if timestampForm(v.raw) != validTimestamp {
		return time.Time{}, false
	}
	if loc == nil {
		loc = luxembourg
	}
	u, _ := v.unix(loc)
	return time.Unix(u, 0).In(loc), true
}

// AppendTime appends the instant [Value.Time] gives, as
// [time.Time.AppendFormat] with [time.RFC3339] writes it
// ("2018-01-30T10:21:22+01:00"), for a caller that builds output without
// making a [time.Time]. When Time's ok would be false it returns b
// unchanged and false. It allocates only when b has no room.
func (v Value) AppendTime(b []byte, loc *time.Location) ([]byte, bool) {
	form, f := timestampFields(v.raw)
	if form != validTimestamp {
		return b, false
	}
	if loc == nil {
		loc = luxembourg
	}
	r := v.raw
	year := 2000 + f[0]
	naive := civilUnix(year, f[1], f[2], f[3], f[4], f[5])
	var letter byte
	if len(r) == 13 {
		letter = r[12]
	}
	u, off := wallUnixOf(naive, year, letter, loc)
	if u+int64(off) != naive {
		// A time in the hour skipped when the clocks go forward: the
		// instant's own wall time differs from the meter's.
		return appendRFC3339(b, u, off), true
	}
	// The meter's digits are the wall time: YY-MM-DDThh:mm:ss as sent.
	b = append(b, '2', '0', r[0], r[1], '-', r[2], r[3], '-', r[4], r[5], 'T',
		r[6], r[7], ':', r[8], r[9], ':', r[10], r[11])
	return appendOffset(b, off), true
}

// unix returns the Unix time of a valid timestamp and the offset in force
// then.
func (v Value) unix(loc *time.Location) (int64, int) {
	b := v.raw
	two := func(i int) int { return int(b[i]-'0')*10 + int(b[i+1]-'0') }
	var letter byte
	if len(b) == 13 {
		letter = b[12]
	}
	return wallUnix(2000+two(0), time.Month(two(2)), two(4), two(6), two(8), two(10), letter, loc)
}

// IsPlaceholder reports whether the value is a timestamp that stands for
// "no time": twelve digits and S or W that make no valid date, such as
// 632525252525S or 000000000000W; any time in the year 2000 (YY = 00,
// the clock's reset value: 000101010000W, the empty slots 000101000001W of
// a power-failure log); any time in 1970 (YY = 70, the Unix epoch:
// 700101010000W). Without the letter, digits that make no date are a
// placeholder only when they are all zero.
func (v Value) IsPlaceholder() bool {
	return timestampForm(v.raw) == placeholderTimestamp
}

// obis returns the code held by a value such as "(0-0:96.7.19)".
func (v Value) obis() (OBIS, bool) {
	o, n, ok := scanOBIS(v.raw)
	return o, ok && n == len(v.raw)
}

// errNotText is what [Value.AppendText] returns for a value that is not
// hex-encoded text.
var errNotText = errors.New("dsmr: the value is not hex-encoded text")

// Text decodes a hex-encoded octet string such as the meter id
// 53414731303330373030313134303034 ("SAG1030700114004") or a message
// (0-0:96.13.0, up to 1024 hex digits). ok is false when the value is
// empty, not an even number of hex digits, or decodes to bytes that are not
// text: invalid UTF-8, or control characters other than tab, CR and LF.
func (v Value) Text() (string, bool) {
	var buf [64]byte
	b, err := v.AppendText(buf[:0])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// AppendText appends the text [Value.Text] decodes to b, in the shape of
// [encoding.TextAppender], for a caller that builds output without
// allocating. When the value is not text it returns b unchanged and an
// error. It allocates only when b has no room.
func (v Value) AppendText(b []byte) ([]byte, error) {
	n := len(v.raw) / 2
	if n == 0 || len(v.raw)%2 != 0 {
		return b, errNotText
	}
	start := len(b)
	b = slices.Grow(b, n)
	out := b[start : start+n]
	// Decoded and checked in one pass; UTF-8 is checked only when a byte
	// is not ASCII, which is rare.
	// Eight hex digits at a time, while they are digits and give
	// printable ASCII; at the first doubt, the loop below, byte by byte.
	k := 0
	for ; 2*k+8 <= len(v.raw); k += 4 {
		c, ok := unhex8(binary.LittleEndian.Uint64(v.raw[2*k : 2*k+8]))
		if !ok {
			break
		}
		binary.LittleEndian.PutUint32(out[k:k+4], c)
	}
	var bad, high byte
	for ; k < len(out); k++ {
		pair := v.raw[2*k : 2*k+2 : 2*k+2] // one bounds check
		hi, lo := unhexTable[pair[0]], unhexTable[pair[1]]
		c := hi<<4 | lo
		bad |= (hi|lo)&0xF0 | notText[c]
		high |= c
		out[k] = c
	}
	if bad != 0 || high >= 0x80 && !utf8.Valid(out) {
		return b[:start], errNotText
	}
	return b[:start+n], nil
}

// unhex8 decodes the eight hex digits in w, the first in its lowest byte,
// into four bytes, the first lowest; ok is false when one is no hex digit,
// or a byte it gives is not printable ASCII (0x20 to 0x7E).
func unhex8(w uint64) (c uint32, ok bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// With every byte below 0x80, x + (0x80-lo) sets a byte's high bit
	// exactly when it is lo or above, with no carry between bytes.
	lower := w | 0x20*ones // 'A'-'F' as 'a'-'f'; digits stay
	digit := (w + (0x80-'0')*ones) &^ (w + (0x7F-'9')*ones)
	letter := (lower + (0x80-'a')*ones) &^ (lower + (0x7F-'f')*ones)
	if w&highs != 0 || (digit|letter)&highs != highs {
		return 0, false
	}
	// A letter has bit 6 set, a digit has not: its value is 9 more than
	// its low four bits.
	n := w&(0x0F*ones) + (w>>6&ones)*9
	p := (n<<4 | n>>8) & 0x00FF00FF00FF00FF // byte 2i: digit 2i, 2i+1
	p = (p | p>>8) & 0x0000FFFF0000FFFF
	p = (p | p>>16) & 0xFFFFFFFF
	x := uint32(p)
	// Printable ASCII: no high bit, not below 0x20, not 0x7F.
	if x&0x80808080 != 0 || (^(x+0x60606060)|(x+0x01010101))&0x80808080 != 0 {
		return 0, false
	}
	return x, true
}

// unhexTable gives the value of each hex digit, either case, and 0xFF for
// every other byte.
var unhexTable = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xFF
		if d := unhex(byte(c)); d >= 0 {
			t[c] = byte(d)
		}
	}
	return t
}()

// notText flags the control characters text may not hold: all but tab,
// CR and LF, and DEL.
var notText = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = 1
	}
	t['\t'], t['\r'], t['\n'], t[0x7F] = 0, 0, 0, 1
	return t
}()

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
	text, _ := d.AppendText(b[:0])
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return math.NaN() // not reached: AppendText writes a valid number
	}
	return f
}

// String returns d without padding, keeping its decimals: "6.695", "-63",
// "0.000".
func (d Decimal) String() string {
	var b [24]byte
	text, _ := d.AppendText(b[:0])
	return string(text)
}

// AppendText appends the text of [Decimal.String] to b. It implements
// [encoding.TextAppender] and never fails.
func (d Decimal) AppendText(b []byte) ([]byte, error) {
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
		return append(b, s...), nil
	}
	if len(s) <= scale {
		b = append(b, '0', '.')
		for i := len(s); i < scale; i++ {
			b = append(b, '0')
		}
		return append(b, s...), nil
	}
	b = append(b, s[:len(s)-scale]...)
	b = append(b, '.')
	return append(b, s[len(s)-scale:]...), nil
}

// MarshalText implements [encoding.TextMarshaler] with the text of
// [Decimal.String].
func (d Decimal) MarshalText() ([]byte, error) { return d.AppendText(nil) }

// MarshalJSON writes d as a JSON number with its decimals kept.
func (d Decimal) MarshalJSON() ([]byte, error) { return d.AppendText(nil) }

// parseNumber reads [-]digits[.digits][*unit]. At most 18 significant
// digits, so that the coefficient fits an int64, and 18 decimals; leading
// zeros, which meters send to fill a fixed width, do not count.
func parseNumber(b []byte) (d Decimal, unit []byte, ok bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	first := i
	for i < len(b) && b[i] == '0' {
		i++
	}
	var coef int64
	nonzero := i // the first significant digit, if any, is here
	for i < len(b) && b[i]-'0' <= 9 {
		coef = coef*10 + int64(b[i]-'0')
		i++
	}
	significant := i - nonzero
	digits := i - first
	scale := 0
	if i < len(b) && b[i] == '.' {
		i++
		frac := i
		for i < len(b) && b[i]-'0' <= 9 {
			coef = coef*10 + int64(b[i]-'0')
			i++
		}
		scale = i - frac
		if scale == 0 {
			return Decimal{}, nil, false
		}
		digits += scale
		if significant == 0 { // zeros after the point do not count either
			for frac < i && b[frac] == '0' {
				frac++
			}
			significant = i - frac
		} else {
			significant += scale
		}
	}
	// More than 18 significant digits could have overflowed coef: the
	// number is refused before it is used.
	if digits == 0 || significant > 18 || scale > 18 {
		return Decimal{}, nil, false
	}
	if i < len(b) {
		if b[i] != '*' || i+1 == len(b) {
			return Decimal{}, nil, false
		}
		unit = b[i+1:]
		for _, c := range unit {
			if !alnum[c] {
				return Decimal{}, nil, false
			}
		}
	}
	if neg {
		coef = -coef
	}
	return Decimal{Coef: coef, Scale: uint8(scale)}, unit, true
}

// alnum tells the letters and digits of ASCII, which a unit is made of.
var alnum = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return t
}()

// knownUnit returns u as one of the unit strings meters send, so that
// returning one does not allocate, or "" when it is none of them.
func knownUnit(u []byte) string {
	if len(u) == 0 || len(u) > 5 || u[0] <= '9' {
		return "" // the common case: a number
	}
	switch string(u) { // compiled to comparisons, without a conversion
	case "kWh":
		return "kWh"
	case "Wh":
		return "Wh"
	case "kvarh":
		return "kvarh"
	case "kW":
		return "kW"
	case "W":
		return "W"
	case "kvar":
		return "kvar"
	case "kVA":
		return "kVA"
	case "kVAh":
		return "kVAh"
	case "V":
		return "V"
	case "A":
		return "A"
	case "m3":
		return "m3"
	case "GJ":
		return "GJ"
	case "s":
		return "s"
	case "h":
		return "h"
	case "kVArh":
		return "kVArh"
	case "kVAr":
		return "kVAr"
	}
	return ""
}

func internUnit(u []byte) string {
	if len(u) == 0 {
		return ""
	}
	if s := knownUnit(u); s != "" {
		return s
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
// W, or the twelve digits alone (DSMR 2.2 and 3). A date in the year 2000
// or 1970 is a placeholder (see Value.IsPlaceholder); so are, with the
// letter, twelve digits that make no date; without it, only 000000000000
// is, and other digits that make no time are not a timestamp (they may be
// a number).
func timestampForm(b []byte) int {
	form, _ := timestampFields(b)
	return form
}

// timestampFields is timestampForm, and the fields of timeFields when b
// is a timestamp.
func timestampFields(b []byte) (form int, f [6]int) {
	switch len(b) {
	case 13:
		if b[12] != 'S' && b[12] != 'W' {
			return notTimestamp, f
		}
	case 12:
	default:
		return notTimestamp, f
	}
	f, ok := timeFields(b)
	if !ok {
		return notTimestamp, f
	}
	if isDate(f) {
		if (b[0] == '0' || b[0] == '7') && b[1] == '0' { // 2000 or 1970
			return placeholderTimestamp, f
		}
		return validTimestamp, f
	}
	if len(b) == 13 || string(b) == "000000000000" {
		return placeholderTimestamp, f
	}
	return notTimestamp, f
}

func isTimestamp(b []byte) bool { return timestampForm(b) != notTimestamp }

// timeFields reads the twelve digits b[:12], YYMMDDhhmmss, as six
// numbers of two digits; ok is false when one of the twelve bytes is no
// digit. b holds twelve bytes at least.
func timeFields(b []byte) (f [6]int, ok bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lo := binary.LittleEndian.Uint64(b[:8])
	hi := uint64(binary.LittleEndian.Uint32(b[8:12])) | 0x3030303000000000 // four more digits
	for _, w := range [2]uint64{lo, hi} {
		// A byte that is no digit sets its high bit here; a borrow or
		// carry can set more above it, never below.
		if ((w-'0'*ones)|(w+('9'^0x7F)*ones)|w)&highs != 0 {
			return f, false
		}
	}
	// Each pair of digits as ten times the first plus the second, in
	// the even bytes.
	pairs := func(w uint64) uint64 {
		d := w - '0'*ones
		return (d*10 + d>>8) & 0x00FF00FF00FF00FF
	}
	p, q := pairs(lo), pairs(hi)
	f = [6]int{int(p & 0xFF), int(p >> 16 & 0xFF), int(p >> 32 & 0xFF), int(p >> 48), int(q & 0xFF), int(q >> 16 & 0xFF)}
	return f, true
}

// isDate reports whether the fields YY, MM, DD, hh, mm and ss of
// timeFields make a valid date and time.
func isDate(f [6]int) bool {
	mo, dd, hh, mi, ss := f[1], f[2], f[3], f[4], f[5]
	return mo >= 1 && mo <= 12 && dd >= 1 && dd <= daysIn(mo, 2000+f[0]) && hh <= 23 && mi <= 59 && ss <= 59
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
