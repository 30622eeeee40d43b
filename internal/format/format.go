// Package format writes telegrams the way the commands print them: as the
// meter sent them (text) or as one JSON object per line (json).
//
// The JSON form is also the payload of MQTTPublisher's <root>/telegram
// topic, so both commands share AppendJSON. An object looks like this
// (one line in the output, wrapped here):
//
//	{"system_title":"534147677001BD54","frame_counter":370915,
//	 "header":"Lux5\\253663629_D","timestamp":"2018-01-30T10:21:22+01:00",
//	 "equipment_id":"SAG1030700114004","crc":"CFDE","crc_ok":true,
//	 "objects":[{"obis":"1-3:0.2.8","name":"P1 version","values":[{"raw":"42","number":42}]},
//	            {"obis":"1-0:1.8.0","name":"Active energy import",
//	             "values":[{"raw":"000006.695*kWh","number":6.695,"unit":"kWh"}]}, ...]}
//
// Fields:
//   - system_title (upper-case hex) and frame_counter: only for telegrams
//     that came in an encrypted envelope.
//   - header: the identification line without its '/'.
//   - timestamp: RFC 3339 from 0-0:1.0.0, with the offset of the meter's
//     zone (dsmr.Telegram.Location, Europe/Luxembourg by default) that the
//     calendar gives, the S/W letter only settling the repeated autumn
//     hour; null when the telegram has none or sends a placeholder.
//   - equipment_id: the meter id (0-0:42.0.0 on Smarty, 0-0:96.1.1 on Dutch
//     and Belgian meters, else 0-0:96.1.0) decoded from hex; null when
//     absent.
//   - crc: the four hex digits after '!', and crc_ok whether they match the
//     content; both null for meters that send no checksum.
//   - objects: every line in telegram order. name is the catalogue's name,
//     null for codes it does not know. Each element of values is one
//     bracketed group: raw is the text inside the brackets; number (a JSON
//     number with the meter's decimals kept, 000006.695 is 6.695) and unit
//     are there for numbers: the unit the meter sent, or for the object's
//     own value (its last number) the one the standard fixes for the code
//     or, for an M-Bus reading, the channel's device type
//     (dsmr.Telegram.Unit); absent for counts and identifiers; time
//     (RFC 3339 as timestamp, or null for a placeholder such as
//     632525252525S, 000101000001W or 700101010000W) for timestamps; text
//     for octet strings sent as hex that decode to text.
//   - errors: only when lines were left out of a telegram whose CRC
//     vouches for it (dsmr.Telegram.LineErrors): one {"line","text",
//     "error"} per line, line 1 being the identification line.
package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// Envelope is what an encrypted frame said about the telegram inside it.
// Pass nil to AppendJSON for a plain telegram.
type Envelope struct {
	SystemTitle  [8]byte
	FrameCounter uint32
}

// Kind is an output format. Its zero value is Text. *Kind implements
// flag.Value, so it can be a command-line flag.
type Kind int

const (
	// Text writes each telegram exactly as the meter sent it, byte for
	// byte, and nothing else.
	Text Kind = iota
	// JSON writes one JSON object per telegram, one per line.
	JSON
)

// ErrKind is returned by ParseKind (and Kind.Set) for an unknown name.
var ErrKind = errors.New("format: unknown format")

// ParseKind returns the Kind named "text" or "json" (any case).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return Text, fmt.Errorf("%w %q: use text or json", ErrKind, s)
}

// String returns "text" or "json".
func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case JSON:
		return "json"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Set implements flag.Value.
func (k *Kind) Set(s string) error {
	v, err := ParseKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Writer writes telegrams to an io.Writer in one Kind. It reuses one
// buffer, so writing allocates nothing once the buffer has grown to the
// size of a telegram. A Writer is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	kind Kind
	buf  []byte
}

// NewWriter returns a Writer of the given kind to w.
func NewWriter(w io.Writer, kind Kind) *Writer {
	return &Writer{w: w, kind: kind}
}

// Write writes one telegram; env is nil for a plain telegram. Text output
// is the telegram's bytes and nothing else; JSON output is AppendJSON and a
// newline. The whole telegram goes to the underlying writer in one Write
// call, so a reader of a pipe never sees half of one.
func (w *Writer) Write(t *dsmr.Telegram, env *Envelope) error {
	if w.kind == Text {
		_, err := w.w.Write(t.Bytes())
		return err
	}
	w.buf = AppendJSON(w.buf[:0], t, env)
	w.buf = append(w.buf, '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// AppendJSON appends the JSON object for t (see the package comment for its
// fields) to dst and returns the extended slice. env carries the system
// title and frame counter of an encrypted frame, nil for a plain telegram.
// No newline is appended.
//
// AppendJSON does not allocate when dst has room.
func AppendJSON(dst []byte, t *dsmr.Telegram, env *Envelope) []byte {
	dst = append(dst, '{')
	if env != nil {
		dst = append(dst, `"system_title":"`...)
		dst = appendHexUpper(dst, env.SystemTitle[:])
		dst = append(dst, `","frame_counter":`...)
		dst = strconv.AppendUint(dst, uint64(env.FrameCounter), 10)
		dst = append(dst, ',')
	}

	raw := t.Bytes()
	dst = append(dst, `"header":`...)
	dst = appendString(dst, headerOf(raw))

	var tc timeCache
	dst = append(dst, `,"timestamp":`...)
	dst = appendTimestamp(dst, t, &tc)

	dst = append(dst, `,"equipment_id":`...)
	dst = appendEquipmentID(dst, t, &tc)

	dst = append(dst, `,"crc":`...)
	if crc, ok := t.CRC(); ok {
		dst = append(dst, '"')
		dst = appendCRC(dst, crc)
		dst = append(dst, `","crc_ok":`...)
		dst = strconv.AppendBool(dst, t.CRCOK())
	} else {
		dst = append(dst, `null,"crc_ok":null`...)
	}

	dst = append(dst, `,"objects":[`...)
	objects := t.Objects()
	for k := range objects {
		if k > 0 {
			dst = append(dst, ',')
		}
		o := &objects[k]
		h := headOf(&o.OBIS)
		if h != nil && h.fixed && !h.text && len(o.Values) == 1 {
			// Most objects: a known code and one value, a number.
			if out, ok := appendSimple(dst, h, o.Values[0].Bytes()); ok {
				dst = out
				continue
			}
		}
		dst = appendObject(dst, t, o, h, &tc)
	}
	dst = append(dst, ']')
	if errs := t.LineErrors(); len(errs) > 0 {
		dst = append(dst, `,"errors":[`...)
		for k, e := range errs {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"line":`...)
			dst = strconv.AppendInt(dst, int64(e.Line), 10)
			dst = append(dst, `,"text":`...)
			dst = appendString(dst, e.Text)
			dst = append(dst, `,"error":`...)
			dst = appendString(dst, e.Msg)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// isReading reports whether number k of o is the object's value, its last
// number (timestamps are not numbers), as dsmr's Object.Decimal takes it.
func isReading(o *dsmr.Object, k int) bool {
	for _, v := range o.Values[k+1:] {
		if v.Kind() == dsmr.KindNumber {
			return false
		}
	}
	return true
}

// appendSimple writes an object whose code alone fixes its head and
// unit, h, and that holds one value, raw, an unsigned number; ok is false,
// with dst unchanged, when raw is not one.
func appendSimple(dst []byte, h *objectHead, raw []byte) (_ []byte, ok bool) {
	if len(raw) == 0 || len(raw) == 12 || len(raw) == 13 {
		return dst, false // perhaps a time: see appendObject
	}
	from, end, zero, unit, ok := plainNumber(raw)
	if !ok {
		return dst, false
	}
	dst = append(dst, h.jsonQuote...)
	dst = appendNumberText(dst, raw, from, end, zero)
	if len(unit) > 0 {
		dst = append(dst, `,"unit":"`...)
		dst = append(dst, unit...)
		dst = append(dst, `"}]}`...)
	} else if h.unit != "" {
		dst = append(dst, `,"unit":"`...)
		dst = append(dst, h.unit...)
		dst = append(dst, `"}]}`...)
	} else {
		dst = append(dst, "}]}"...)
	}
	return dst, true
}

// appendObject writes o, whose objectHead is h (headOf(&o.OBIS)).
func appendObject(dst []byte, t *dsmr.Telegram, o *dsmr.Object, h *objectHead, tc *timeCache) []byte {
	var isText bool
	if h != nil {
		dst = append(dst, h.json...)
		isText = h.text
	} else {
		info, known := dsmr.Lookup(o.OBIS)
		name := ""
		if known {
			name = info.Name
		}
		dst = appendHead(dst, o.OBIS, name)
		isText = info.Text
	}
	// isText says whether the object is text, as dsmr's Lookup does;
	// TestAppendJSONText holds the two together. Each value is
	// {"raw":...} and what its text is: a number, for most, written
	// here; the rest by appendMeaning.
	for k := range o.Values {
		if k > 0 {
			dst = append(dst, `},{"raw":`...)
		}
		v := o.Values[k]
		raw := v.Bytes()
		// Timestamps, placeholders included, are 12 or 13 bytes long
		// (see dsmr.KindTime): other values are not asked.
		if len(raw) == 0 {
			// An empty message, nothing to say of it: appendMeaning
			// adds nothing.
			dst = append(dst, `""`...)
			continue
		}
		if isText || len(raw) == 12 || len(raw) == 13 {
			dst = appendRaw(dst, raw)
			dst = appendMeaning(dst, v, isText, t, o, h, k, tc)
			continue
		}
		// Most values are unsigned numbers: raw and number in one go.
		out, unit, ok := appendPlainNumber(dst, raw)
		if !ok {
			dst = appendRaw(dst, raw)
			dst = appendNumber(dst, v, t, o, h, k)
			continue
		}
		dst = out
		if len(unit) == 0 && isReading(o, k) {
			// The object's value, its last number, without a unit.
			if u := defaultUnit(t, o, h); u != "" {
				dst = append(dst, `,"unit":"`...)
				dst = append(dst, u...)
				dst = append(dst, '"')
			}
		} else if len(unit) > 0 {
			dst = append(dst, `,"unit":"`...)
			dst = append(dst, unit...)
			dst = append(dst, '"')
		}
	}
	return append(dst, "}]}"...)
}

// appendPlainNumber writes the raw text and the number of a value that is
// an unsigned number as dsmr's Value.AppendNumber reads it, digits with an
// optional point and decimals and an optional *unit, such as
// 000006.695*kWh: `"000006.695*kWh","number":6.695`, in one pass over the
// text, which needs no escaping. It returns the unit sent (nil for none,
// aliasing raw), and ok false, with dst unchanged, for
// any other value.
func appendPlainNumber(dst, raw []byte) (_ []byte, unit []byte, ok bool) {
	from, end, zero, unit, ok := plainNumber(raw)
	if !ok {
		return dst, nil, false
	}
	return appendNumberText(append(dst, '"'), raw, from, end, zero), unit, true
}

// appendNumberText writes what follows the opening quote of a plain
// number's raw text: `000006.695*kWh","number":6.695`, the number being
// raw[from:end] after a '0' when zero is true.
func appendNumberText(dst, raw []byte, from, end int, zero bool) []byte {
	dst = append(dst, raw...)
	dst = append(dst, `","number":`...)
	if zero {
		dst = append(dst, '0')
	}
	return append(dst, raw[from:end]...)
}

// plainNumber reads raw as appendPlainNumber takes it. The number's text
// is raw[from:end], after a '0' when zero is true (no digit before the
// point but zeros); unit is the unit sent. ok is false when raw is not
// such a number.
func plainNumber(raw []byte) (from, end int, zero bool, unit []byte, ok bool) {
	n := len(raw)
	i := 0
	for i < n && raw[i] == '0' {
		i++
	}
	nonzero := i
	for i < n && raw[i]-'0' <= 9 {
		i++
	}
	intEnd := i
	if i < n && raw[i] == '.' {
		i++
		frac := i
		for i < n && raw[i]-'0' <= 9 {
			i++
		}
		if i == frac {
			return 0, 0, false, nil, false
		}
	}
	end = i
	if end == 0 {
		return 0, 0, false, nil, false
	}
	// More than 18 digits can be more than dsmr's 18 significant digits
	// or 18 decimals: count them only then.
	if end > 18 && !fitsDecimal(raw[:end], nonzero, intEnd) {
		return 0, 0, false, nil, false
	}
	if i < n {
		if raw[i] != '*' || i+1 == n {
			return 0, 0, false, nil, false
		}
		for _, c := range raw[i+1:] {
			if !alnum[c] {
				return 0, 0, false, nil, false
			}
		}
		unit = raw[i+1:]
	}
	if nonzero == intEnd {
		return intEnd, end, true, unit, true
	}
	return nonzero, end, false, unit, true
}

// fitsDecimal reports whether num, digits with an optional point at
// intEnd whose leading zeros end at nonzero, has at most 18 significant
// digits and 18 decimals, as dsmr.Decimal holds them.
func fitsDecimal(num []byte, nonzero, intEnd int) bool {
	significant, scale := intEnd-nonzero, 0
	if intEnd < len(num) { // a point
		frac := intEnd + 1
		scale = len(num) - frac
		if significant == 0 {
			for frac < len(num) && num[frac] == '0' {
				frac++
			}
			significant = len(num) - frac
		} else {
			significant += scale
		}
	}
	return significant <= 18 && scale <= 18
}

// appendHead writes what comes before an object's values: its code and
// its name ("" for null).
func appendHead(dst []byte, c dsmr.OBIS, name string) []byte {
	dst = append(dst, `{"obis":"`...)
	dst = appendOBIS(dst, c)
	dst = append(dst, `","name":`...)
	if name != "" {
		dst = appendString(dst, name)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"values":[{"raw":`...)
}

// objectHead is what AppendJSON writes of an object before its values,
// `{"obis":"1-0:1.8.0","name":"Active energy import","values":[`, and
// whether the object holds text: all that depends on its code alone.
type objectHead struct {
	code uint64 // packOBIS
	json []byte
	text bool
	// unit is Telegram.DefaultUnit of an object of this code that holds
	// one value, when it depends on the code alone (not for an M-Bus
	// channel's objects, whose device type counts); fixed says so.
	unit  string
	fixed bool
	// jsonQuote is json and the quote that opens the first value's raw
	// text.
	jsonQuote []byte
}

// heads holds the objectHead of the codes the catalogue knows, each made
// at its first use: a hash table with linear probing whose slots are
// filled once and never changed, so that AppendJSON reads it from any
// goroutine without a lock. maxHeads bounds what it holds (the catalogue
// knows some 200 codes, and an electricity code under any of 255
// measurement channels): past it, and for the codes the catalogue does not
// know, the head is written out each time.
var (
	heads     [headSlots]atomic.Pointer[objectHead]
	headCount atomic.Int32
)

const (
	headSlots = 4096 // a power of two
	maxHeads  = headSlots / 4
	maxProbes = 16
)

// packOBIS packs *c one group per byte. It reads the code where it is:
// a copy of the five bytes, stored byte by byte and loaded as a word,
// would cost the CPU a failed store-to-load forwarding, some 10 ns.
func packOBIS(c *dsmr.OBIS) uint64 {
	return uint64(c.A)<<32 | uint64(c.B)<<24 | uint64(c.C)<<16 | uint64(c.D)<<8 | uint64(c.E)
}

// headOf returns the objectHead of *c; nil when the catalogue does not
// know the code, or heads is full.
func headOf(c *dsmr.OBIS) *objectHead {
	key := packOBIS(c)
	start := (key * 0x9E3779B97F4A7C15) >> (64 - 12)
	if h := heads[start].Load(); h != nil && h.code == key {
		return h // nearly always
	}
	return headOfSlow(*c, key, start)
}

func headOfSlow(c dsmr.OBIS, key, start uint64) *objectHead {
	i := start
	for range maxProbes {
		h := heads[i].Load()
		if h == nil {
			break
		}
		if h.code == key {
			return h
		}
		i = (i + 1) & (headSlots - 1)
	}
	info, known := dsmr.Lookup(c)
	if !known || headCount.Load() >= maxHeads {
		return nil
	}
	h := &objectHead{code: key, json: appendHead(nil, c, info.Name), text: info.Text}
	h.jsonQuote = append(h.json[:len(h.json):len(h.json)], '"')
	if h.fixed = c.A != 0 || c.B < 1 || c.B > 4; h.fixed {
		// An object with one value, a number without a unit, has no
		// group of its own to give one: only the code counts.
		h.unit = new(dsmr.Telegram).DefaultUnit(&dsmr.Object{OBIS: c})
	}
	i = start
	for range maxProbes {
		if heads[i].CompareAndSwap(nil, h) {
			headCount.Add(1)
			return h
		}
		if other := heads[i].Load(); other.code == key {
			return other // another goroutine was first
		}
		i = (i + 1) & (headSlots - 1)
	}
	return nil
}

// appendOBIS writes c as A-B:C.D.E, like OBIS.AppendText, from a table.
func appendOBIS(dst []byte, c dsmr.OBIS) []byte {
	dst = append(dst, decimal[c.A]...)
	dst = append(dst, '-')
	dst = append(dst, decimal[c.B]...)
	dst = append(dst, ':')
	dst = append(dst, decimal[c.C]...)
	dst = append(dst, '.')
	dst = append(dst, decimal[c.D]...)
	dst = append(dst, '.')
	return append(dst, decimal[c.E]...)
}

// decimal holds the decimal text of every byte.
var decimal = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// timeCache holds the telegram's time (0-0:1.0.0) as written in the
// header, so that the object's value is not converted a second time.
type timeCache struct {
	raw  []byte // the value's text, nil when the telegram has no time
	text []byte // its RFC 3339 form, where it was written in the output
	// The same for the meter id of equipment_id, decoded and escaped,
	// which the object it comes from writes again as its text.
	idRaw, idText []byte
}

// appendMeaning writes what a value that may be text or a time is, after
// its raw: group k of object o. Text objects are never read as numbers,
// even when their hex digits look like one.
func appendMeaning(dst []byte, v dsmr.Value, isText bool, t *dsmr.Telegram, o *dsmr.Object, h *objectHead, k int, tc *timeCache) []byte {
	raw := v.Bytes()
	switch {
	case len(raw) == 0:
	case isText:
		if tc.idRaw != nil && string(raw) == string(tc.idRaw) {
			dst = append(dst, `,"text":"`...)
			dst = append(dst, tc.idText...)
			dst = append(dst, '"')
			break
		}
		dst = appendText(dst, v)
	case tc.raw != nil && string(raw) == string(tc.raw):
		// The telegram's time, a valid timestamp, written already.
		dst = append(dst, `,"time":"`...)
		dst = append(dst, tc.text...)
		dst = append(dst, '"')
	case v.IsPlaceholder():
		dst = append(dst, `,"time":null`...)
	default:
		n := len(dst)
		if out, ok := v.AppendTime(append(dst, `,"time":"`...), t.Location); ok {
			dst = append(out, '"')
			break
		}
		dst = appendNumber(dst[:n], v, t, o, h, k)
	}
	return dst
}

// appendNumber writes the number of group k of object o, and its unit:
// the one the meter sent; for the object's value (its last number, as
// dsmr's Object.Decimal takes it) without one, the one the standard fixes
// (Telegram.Unit); other numbers, such as the count that starts a buffer,
// keep what they have. It writes nothing for a value that is no number.
func appendNumber(dst []byte, v dsmr.Value, t *dsmr.Telegram, o *dsmr.Object, h *objectHead, k int) []byte {
	n := len(dst)
	out, unit, ok := v.AppendNumber(append(dst, `,"number":`...)) // as Value.Decimal
	if !ok {
		return dst[:n]
	}
	dst = out
	if len(unit) == 0 && isReading(o, k) {
		if u := defaultUnit(t, o, h); u != "" {
			unit = []byte(u) // does not escape: no allocation
		}
	}
	if len(unit) > 0 {
		// Units are letters and digits (dsmr checks what the meter
		// sends): nothing to escape.
		dst = append(dst, `,"unit":"`...)
		dst = append(dst, unit...)
		dst = append(dst, '"')
	}
	return dst
}

// defaultUnit is Telegram.Unit for an object's value sent without a unit,
// from h when the code alone decides it.
func defaultUnit(t *dsmr.Telegram, o *dsmr.Object, h *objectHead) string {
	if h != nil && h.fixed && len(o.Values) == 1 {
		return h.unit
	}
	return t.DefaultUnit(o)
}

// appendRaw appends a value's text as a JSON string. dsmr only takes
// printable ASCII in a value, and a quote or backslash is rare: the text
// is usually copied as it is.
func appendRaw(dst, raw []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(raw)+2)[:n+len(raw)+2]
	out := dst[n+1 : n+1+len(raw)]
	// Checked and copied in one pass, eight bytes at a time (the last
	// eight overlapping) when there are as many.
	if len(raw) >= 8 {
		for i := 0; ; i += 8 {
			if i+8 > len(raw) {
				i = len(raw) - 8
			}
			w := binary.LittleEndian.Uint64(raw[i:])
			if unsafeBytes(w) != 0 {
				return appendString(dst[:n], raw)
			}
			binary.LittleEndian.PutUint64(out[i:], w)
			if i+8 == len(raw) {
				break
			}
		}
	} else {
		for i, c := range raw {
			if !safeByte[c] {
				return appendString(dst[:n], raw)
			}
			out[i] = c
		}
	}
	dst[n] = '"'
	dst[len(dst)-1] = '"'
	return dst
}

// appendText adds ,"text":"..." when v is hex that decodes to text, by
// dsmr's rule (Value.Text), so that the JSON and the library never
// disagree on what is text.
func appendText(dst []byte, v dsmr.Value) []byte {
	const key = `,"text":"`
	start := len(dst)
	dst, err := v.AppendText(append(dst, key...))
	if err != nil {
		return dst[:start]
	}
	dst = escapeText(dst, start+len(key))
	return append(dst, '"')
}

// codeTime is the telegram's time, 0-0:1.0.0.
var codeTime = dsmr.MustParseOBIS("0-0:1.0.0")

// appendTimestamp writes the telegram's time, and keeps it in tc for the
// object it comes from.
func appendTimestamp(dst []byte, t *dsmr.Telegram, tc *timeCache) []byte {
	// As Telegram.Time does.
	o := t.Find(codeTime)
	if o == nil || len(o.Values) == 0 {
		return append(dst, "null"...)
	}
	start := len(dst) + 1
	dst, ok := o.Values[0].AppendTime(append(dst, '"'), t.Location)
	if !ok {
		return append(dst[:start-1], "null"...)
	}
	// Later appends leave these bytes as they are, in this array or in
	// a copy.
	tc.text = dst[start:len(dst):len(dst)]
	tc.raw = o.Values[0].Bytes()
	return append(dst, '"')
}

// appendEquipmentID writes the meter id like Telegram.MeterID, without
// making a string of it.
func appendEquipmentID(dst []byte, t *dsmr.Telegram, tc *timeCache) []byte {
	v, ok := t.MeterIDValue()
	if !ok {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst, err := v.AppendText(append(dst, '"'))
	if err != nil {
		return appendString(dst[:start], v.Bytes())
	}
	dst = escapeText(dst, start+1)
	// Kept for the object it comes from, as appendTimestamp keeps the
	// time.
	tc.idRaw, tc.idText = v.Bytes(), dst[start+1:len(dst):len(dst)]
	return append(dst, '"')
}

// headerOf returns the identification line without '/' and line end.
func headerOf(raw []byte) []byte {
	if len(raw) == 0 || raw[0] != '/' {
		return nil
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] == '\r' || raw[i] == '\n' {
			return raw[1:i]
		}
	}
	return raw[1:]
}

const hexDigits = "0123456789ABCDEF"

func appendHexUpper(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return dst
}

func appendCRC(dst []byte, crc uint16) []byte {
	return append(dst, hexDigits[crc>>12], hexDigits[crc>>8&0xF], hexDigits[crc>>4&0xF], hexDigits[crc&0xF])
}

// appendString appends s as a JSON string. Runs of bytes that need no
// escaping, nearly all of a telegram, are found eight bytes at a time and
// copied in one go.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start, i, n := 0, 0, len(s)
	for {
		for i+8 <= n {
			w := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
			if m := unsafeBytes(w); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i+8 > n && i < n && n >= 8 {
			// The last eight bytes, overlapping some checked before:
			// when the lowest flag is past i, the bytes up to it are
			// safe. (Below i, it may be a byte escaped already.)
			w := binary.LittleEndian.Uint64([]byte(s[n-8:]))
			if m := unsafeBytes(w); m == 0 {
				i = n
			} else {
				i = max(i, n-8+bits.TrailingZeros64(m)>>3)
			}
		}
		for i < n && safeByte[s[i]] {
			i++
		}
		if i == n {
			break
		}
		dst = append(dst, s[start:i]...)
		dst = appendStringByte(dst, s[i])
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// SWAR ("SIMD within a register") constants: a byte repeated eight times.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// unsafeBytes returns, in the high bit of each byte, which bytes of the
// eight in w need escaping in a JSON string (control characters, '"',
// '\\', 0x7F and above); a set bit may be wrong only above the lowest
// one, which is always right.
func unsafeBytes(w uint64) uint64 {
	q := w ^ '"'*ones
	b := w ^ '\\'*ones
	below := (w - 0x20*ones) &^ w // below 0x20
	quote := (q - ones) &^ q
	backslash := (b - ones) &^ b
	above := (w + ones) | w // 0x7F and above
	return (below | quote | backslash | above) & highs
}

// alnum tells the letters and digits of ASCII, which a unit is made of,
// as dsmr checks it.
var alnum = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return t
}()

// safeByte tells the bytes that go into a JSON string as they are.
var safeByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapeText escapes, in place, what JSON needs escaped in dst[from:]:
// text from dsmr's Value.AppendText, which is valid UTF-8 and holds no
// control characters but tab, CR and LF. Only '"', '\\' and those three
// need it, and are rare: the text is usually left as it is, and otherwise
// moved right within dst, which grows only when it has no room.
func escapeText(dst []byte, from int) []byte {
	// Eight bytes at a time while none needs escaping in a JSON string
	// (a superset of what escapeText escapes), then byte by byte.
	i := from
	for ; i+8 <= len(dst); i += 8 {
		if unsafeBytes(binary.LittleEndian.Uint64(dst[i:i+8])) != 0 {
			break
		}
	}
	extra := 0
	for _, c := range dst[i:] {
		if textEscape[c] != 0 {
			extra++
		}
	}
	if extra == 0 {
		return dst
	}
	n := len(dst)
	dst = slices.Grow(dst, extra)[:n+extra]
	w := len(dst)
	for r := n - 1; r >= from; r-- {
		c := dst[r]
		if e := textEscape[c]; e != 0 {
			w -= 2
			dst[w], dst[w+1] = '\\', e
		} else {
			w--
			dst[w] = c
		}
	}
	return dst
}

// textEscape gives, for each byte that escapeText escapes, the letter
// after the backslash.
var textEscape = [256]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}

// appendStringByte appends one byte of a JSON string, escaped as needed.
// Telegrams are ASCII; a byte outside it is written as U+FFFD so that the
// output is always valid UTF-8.
func appendStringByte(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case c < 0x20 || c == 0x7F:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
	case c >= 0x80:
		return append(dst, `\ufffd`...)
	}
	return append(dst, c)
}
