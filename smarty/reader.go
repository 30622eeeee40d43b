package smarty

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// defaultMaxFrameSize is the largest frame a Reader accepts unless told
// otherwise. Smarty frames are 600 to 1500 bytes; the limit leaves room for
// the five text messages a telegram may carry (up to 1024 characters each,
// sent as hex).
const defaultMaxFrameSize = 16 << 10

// maxHeaderLine bounds the identification line of a plain telegram, after
// its '/': the bound dsmr.Parse has too.
const maxHeaderLine = 128

// Message is one telegram read from the stream, with where it came from.
type Message struct {
	// Offset is the position of the frame's first byte in the stream,
	// and Size the number of bytes it took there.
	Offset int64
	Size   int
	// Skipped is the number of bytes before Offset that the Reader skipped
	// as noise since the previous telegram: the tail of a frame it
	// started in the middle of, or garbage on the line. Line ends do not
	// count, and neither do the bytes after a frame reported with a
	// *FrameError, which are put down to that frame.
	Skipped int64
	// Encrypted is true for a telegram that came in an envelope; Header
	// then holds the system title and frame counter.
	Encrypted bool
	Header    Header
	// Authenticated is true when the envelope's tag verified. It is false
	// for plain telegrams and for telegrams recovered without the tag
	// (Reader.AllowUnauthenticated), which only their CRC vouches for.
	Authenticated bool
	// Telegram is the parsed telegram; Telegram.Bytes() is the plaintext
	// exactly as the meter wrote it.
	Telegram dsmr.Telegram
}

// Stats counts what a Reader has seen.
type Stats struct {
	BytesRead int64 // bytes read from the underlying reader
	Frames    int64 // telegrams returned
	Errors    int64 // frames skipped with a *FrameError
	Skipped   int64 // bytes that were not part of a returned telegram
}

// A Reader reads telegrams from a byte stream: a serial port, a TCP
// connection to a P1 adapter, a captured dump. The stream may hold
// encrypted frames (0xDB ...) and plain telegrams ('/' ... '!CRC') in any
// mix, with noise between them; a reader that starts in the middle of a
// frame skips to the next one.
//
// Next returns one telegram at a time. A [*FrameError] from Next means one
// frame was bad (wrong key, damaged, cut short, malformed) and was
// skipped: call Next again, it resynchronises just after the bad frame's
// first byte, so a good frame that followed a torn one is not lost. Any
// other error comes from the underlying reader ([io.EOF] at the end of a
// capture) and is returned again by every later call.
//
// A Reader holds at most a few frames of bytes, whatever the stream holds.
// It is not safe for concurrent use, but any number of Readers may run side
// by side, also over one Cipher.
type Reader struct {
	// Cipher decrypts envelopes. With no Cipher, envelopes are skipped with
	// ErrNoKey and plain telegrams are read. With one, plain telegrams are
	// refused (ErrPlain) unless AllowPlain.
	Cipher *Cipher
	// AllowPlain accepts plain telegrams when there is a Cipher: for a
	// meter whose encryption is switched off, or an adapter that
	// decrypts. Without it a Reader with a key skips them with ErrPlain:
	// nothing authenticates a plain telegram, so anyone with access to the
	// line or to a network adapter could inject readings.
	AllowPlain bool
	// AllowUnauthenticated accepts an envelope whose tag does not verify
	// when its telegram, decrypted without the tag, has a CRC that checks.
	// That protects against damage but not against forgery; the Message is
	// marked as not Authenticated. Off by default.
	AllowUnauthenticated bool
	// MaxFrameSize is the largest frame accepted, 16 KB (16384 bytes) when
	// 0. Set it before the first call to Next.
	MaxFrameSize int
	// Location is the time zone of the meter's clock, given to every
	// Message.Telegram (see dsmr.Telegram.Location); nil means
	// dsmr.DefaultZone, Luxembourg's.
	Location *time.Location

	r          io.Reader
	buf        []byte
	start, end int   // buf[start:end] is unread
	base       int64 // stream offset of buf[0]
	err        error // sticky error of r
	emptyReads int

	msg   Message
	nonce [12]byte
	stats Stats
	// noise counts the bytes skipped since the last telegram, for
	// Message.Skipped; afterError is set when a bad frame was reported
	// since.
	noise      int64
	afterError bool

	// plainScan remembers how far the body of a plain telegram candidate
	// has been scanned, so that a telegram arriving a byte at a time is
	// not rescanned from its start on every byte.
	plainAt, plainScanned int64

	// inner lists the frame starts found inside an envelope that is
	// still incomplete, in stream order; see checkInner.
	inner        []innerStart
	innerScanned int64
	innerFor     int64
}

// NewReader returns a Reader of r that decrypts with c; c may be nil for a
// stream of plain telegrams.
func NewReader(r io.Reader, c *Cipher) *Reader {
	return &Reader{r: r, Cipher: c, plainAt: -1, innerFor: -1}
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// offset returns the stream position up to which the Reader has consumed
// its input: everything before it was returned or skipped.
func (r *Reader) offset() int64 { return r.base + int64(r.start) }

func (r *Reader) maxFrame() int {
	if r.MaxFrameSize <= 0 {
		return defaultMaxFrameSize
	}
	return r.MaxFrameSize
}

// verdict is what a look at a candidate frame concluded.
type verdict int

const (
	needMore  verdict = iota // incomplete; more bytes will tell
	notFrame                 // noise: go on one byte further
	badFrame                 // a frame, but bad: report it
	goodFrame                // a telegram is in r.msg
)

// result carries a verdict's details.
type result struct {
	v         verdict
	size      int   // bytes the frame takes (good and bad frames)
	resume    int   // for a bad frame: where to go on, relative to its start
	err       error // for a bad frame
	plausible bool  // for needMore: the start looks like a real frame
	encrypted bool
	header    Header
}

// Next returns the next telegram. The Message and everything in it belong
// to the Reader and are overwritten by the next call; [dsmr.Telegram.Clone]
// makes a copy to keep.
func (r *Reader) Next() (*Message, error) {
	if r.buf == nil {
		r.buf = make([]byte, 2*r.maxFrame()+4096)
	}
	for {
		p := r.findStart()
		if p < 0 {
			r.skip(r.end)
			if r.err != nil {
				return nil, r.err
			}
			r.fill()
			continue
		}
		r.skip(p)
		res := r.examine(p)
		switch res.v {
		case goodFrame:
			if !r.msg.Encrypted && r.Cipher != nil && !r.AllowPlain {
				// Refused whole: it parsed, so nothing in it starts a
				// frame.
				r.start = p + res.size
				res.err = ErrPlain
				return nil, r.frameError(p, res)
			}
			r.start = p + res.size
			r.stats.Frames++
			r.msg.Skipped = r.noise
			if r.afterError {
				r.msg.Skipped = 0
			}
			r.noise, r.afterError = 0, false
			return &r.msg, nil
		case notFrame:
			r.skip(p + 1)
		case badFrame:
			if res.err == ErrAuth {
				res.err = r.explainAuth(p, res)
			}
			r.skip(p + res.resume)
			return nil, r.frameError(p, res)
		case needMore:
			if r.err != nil {
				// The stream ended inside this candidate.
				r.skip(p + 1)
				if res.plausible {
					res.err = details(ErrTruncated, "the stream ended after %d of its bytes", int64(r.end-p))
					res.size = r.end - p
					return nil, r.frameError(p, res)
				}
				continue
			}
			if res.encrypted {
				if q := r.checkInner(p); q >= 0 {
					r.skip(q)
					res.err = details(ErrTruncated, "a complete frame starts %d bytes after it", int64(q-p))
					res.size = q - p
					return nil, r.frameError(p, res)
				}
			}
			r.fill()
		}
	}
}

func (r *Reader) frameError(p int, res result) error {
	r.stats.Errors++
	r.afterError = true
	return &FrameError{
		Offset:    r.base + int64(p),
		Size:      res.size,
		Encrypted: res.encrypted,
		Header:    res.header,
		Err:       res.err,
	}
}

// skip consumes the unread bytes up to buf[p], counting them as skipped.
func (r *Reader) skip(p int) {
	if p > r.start {
		r.stats.Skipped += int64(p - r.start)
		if !r.afterError {
			for _, c := range r.buf[r.start:p] {
				if c != '\r' && c != '\n' {
					r.noise++
				}
			}
		}
		r.start = p
	}
}

// findStart returns the index of the first byte in buf[start:end] that may
// start a frame, or -1. An envelope starts with 0xDB 0x08 (the length of
// the system title): a 0xDB followed by any other byte starts nothing, and
// is passed over here, at the speed of bytes.Index, rather than examined
// byte by byte (a line stuck at 0xDB sends nothing else). A 0xDB that ends
// the bytes at hand may still start one.
func (r *Reader) findStart() int {
	b := r.buf[r.start:r.end]
	if len(b) == 0 {
		return -1
	}
	if b[0] == '/' || (b[0] == frameTag && (len(b) == 1 || b[1] == systemTitleSize)) {
		return r.start
	}
	i := bytes.Index(b, envelopeStart[:])
	if i < 0 && b[len(b)-1] == frameTag {
		i = len(b) - 1
	}
	limit := b
	if i >= 0 {
		limit = b[:i]
	}
	if j := bytes.IndexByte(limit, '/'); j >= 0 {
		i = j
	}
	if i < 0 {
		return -1
	}
	return r.start + i
}

// envelopeStart are the first two bytes of every envelope.
var envelopeStart = [2]byte{frameTag, systemTitleSize}

// fill reads more bytes, making room first.
func (r *Reader) fill() {
	if r.start > 0 && (r.start >= len(r.buf)/2 || r.end == len(r.buf)) {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.base += int64(r.start)
		r.end = n
		r.start = 0
	}
	if r.end == len(r.buf) {
		// Cannot happen: a candidate is never longer than half the buffer.
		r.err = errors.New("smarty: internal error: read buffer full")
		return
	}
	n, err := r.r.Read(r.buf[r.end:])
	if n < 0 || n > len(r.buf)-r.end {
		r.err = fmt.Errorf("smarty: the reader returned an impossible count %d", n)
		return
	}
	r.end += n
	r.stats.BytesRead += int64(n)
	switch {
	case err != nil:
		r.err = err
	case n == 0:
		r.emptyReads++
		if r.emptyReads >= 100 {
			r.err = io.ErrNoProgress
		}
	default:
		r.emptyReads = 0
	}
}

// examine looks at the candidate frame starting at buf[p]. A good frame is
// decrypted and parsed into r.msg.
func (r *Reader) examine(p int) result {
	r.msg.Telegram.Location = r.Location
	if r.buf[p] == frameTag {
		return r.examineEnvelope(p)
	}
	return r.examinePlain(p)
}

func (r *Reader) examineEnvelope(p int) result {
	b := r.buf[p:r.end]
	h, st := scanHeader(b)
	switch st {
	case headerNoFrame:
		return result{v: notFrame}
	case headerNeedMore:
		return result{v: needMore, encrypted: true}
	}
	res := result{encrypted: true, header: h, resume: 1}
	if err := h.checkLength(r.maxFrame()); err != nil {
		res.v, res.err = badFrame, err
		return res
	}
	size := h.frameSize()
	if len(b) < size {
		res.v, res.plausible = needMore, true
		return res
	}
	res.size = size
	frame := b[:size]
	if r.Cipher == nil {
		res.v, res.err, res.resume = badFrame, ErrNoKey, size
		return res
	}
	if r.failedBefore(r.base + int64(p)) {
		res.v, res.err = badFrame, ErrAuth
		return res
	}
	authenticated := true
	// Decrypt straight into the telegram's memory, which spares a copy.
	buf := r.msg.Telegram.Buffer(h.ciphertextSize())
	plain, err := r.Cipher.open(buf, frame, h, &r.nonce)
	if err != nil {
		if !r.AllowUnauthenticated {
			res.v, res.err = badFrame, ErrAuth
			return res
		}
		plain = r.Cipher.openCTR(buf, frame, h, &r.nonce)
		authenticated = false
	}
	if err := r.msg.Telegram.UnmarshalText(plain); err != nil {
		if !authenticated {
			// Without the tag only a good CRC vouches for the
			// result; anything else is the key's fault.
			res.v, res.err = badFrame, ErrAuth
			return res
		}
		res.v, res.err, res.resume = badFrame, err, size
		return res
	}
	if _, hasCRC := r.msg.Telegram.CRC(); !authenticated && !hasCRC {
		res.v, res.err = badFrame, ErrAuth
		return res
	}
	r.msg.Offset = r.base + int64(p)
	r.msg.Size = size
	r.msg.Encrypted = true
	r.msg.Header = h
	r.msg.Authenticated = authenticated
	res.v = goodFrame
	return res
}

// Byte classes in the body of a plain telegram.
const (
	plainText  = iota // printable ASCII, CR, LF, tab
	plainEnd          // '!': the end, when it starts a line
	plainStart        // '/' or 0xDB: another frame may begin
	plainBad          // anything else
)

var plainClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '!':
			t[c] = plainEnd
		case c == '/' || c == frameTag:
			t[c] = plainStart
		case c >= 0x20 && c < 0x7F, c == '\r', c == '\n', c == '\t':
			t[c] = plainText
		default:
			t[c] = plainBad
		}
	}
	return t
}()

// headerByte tells the bytes allowed in the identification line after its
// '/': printable ASCII and tab, except '/' and '!' (IEC 62056-21 keeps
// them out of the identification) and the brackets, which only values
// have. So a '/' inside a value, whose line goes on to its ')', never
// passes for the start of a telegram.
var headerByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = c != '/' && c != '!' && c != '(' && c != ')'
	}
	t['\t'] = true
	return t
}()

// Results of isHeader.
const (
	noHeader = iota
	headerMore
	headerLine
)

// isHeader tells whether b[p], a '/', starts an identification line: one
// to maxHeaderLine header bytes up to a CR or LF. It returns the index of
// the line end with headerLine; headerMore when b ends first.
func isHeader(b []byte, p int) (int, int) {
	i := p + 1
	for ; i < len(b) && headerByte[b[i]]; i++ {
		if i-p > maxHeaderLine {
			return 0, noHeader
		}
	}
	switch {
	case i == len(b):
		return 0, headerMore
	case i == p+1 || b[i] != '\r' && b[i] != '\n':
		return 0, noHeader
	}
	return i, headerLine
}

// examinePlain looks at the plain telegram candidate at buf[p], a '/'. A
// telegram is an identification line (see isHeader), then object lines up
// to a '!' at the start of a line and its checksum: 0 to 4 hex digits (DSMR
// 2.2 and 3 meters send none). Until the first line after the
// identification starts as an object line does, with a digit (a telegram
// has at least one object), a failure is taken for noise and not reported. Inside
// the body, a '/' starts another telegram only when it starts an
// identification line, and 0xDB always may start an envelope.
func (r *Reader) examinePlain(p int) result {
	b := r.buf[p:r.end]
	i, st := isHeader(b, 0)
	switch st {
	case noHeader:
		return result{v: notFrame}
	case headerMore:
		return result{v: needMore}
	}
	// The first object line starts with the digit of an OBIS code: a
	// telegram has at least one object.
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i >= len(b) {
		return result{v: needMore}
	}
	if b[i] < '0' || b[i] > '9' {
		return result{v: notFrame}
	}
	// From here on this is taken for a telegram.
	res := result{resume: 1, plausible: true}
	at := r.base + int64(p)
	if r.plainAt == at && r.plainScanned > at+int64(i) {
		i = int(r.plainScanned - at)
	}
	maxSize := r.maxFrame()
	body := b[:min(len(b), maxSize)]
	for ; i < len(body); i++ {
		switch plainClass[body[i]] {
		case plainText:
			continue
		case plainStart:
			if body[i] == '/' {
				_, st := isHeader(body, i)
				if st == headerMore && r.err == nil && len(body) < maxSize {
					r.plainAt, r.plainScanned = at, at+int64(i)
					return result{v: needMore, plausible: true}
				}
				if st != headerLine {
					continue // a '/' in a value
				}
			}
			res.v, res.size, res.resume = badFrame, i, i
			res.err = fmt.Errorf("%w: a new frame starts at byte %d before the telegram's '!'", ErrTruncated, at+int64(i))
			return res
		case plainBad:
			res.v, res.size, res.resume = badFrame, i+1, i+1
			res.err = fmt.Errorf("%w: byte 0x%02X at byte %d is not text", ErrNotTelegram, body[i], at+int64(i))
			return res
		}
		if body[i-1] != '\r' && body[i-1] != '\n' {
			continue // a '!' in a value
		}
		// The '!': then up to four hex digits of checksum and the line
		// end, which are waited for unless the stream has ended.
		j := i + 1
		for j < len(body) && j-i <= 4 && hexVal(body[j]) >= 0 {
			j++
		}
		if j < len(body) && body[j] == '\r' {
			j++
		}
		if j < len(body) && body[j] == '\n' {
			j++
		}
		if j == len(body) && body[j-1] != '\n' && r.err == nil && len(body) < maxSize {
			r.plainAt, r.plainScanned = at, at+int64(i)
			return result{v: needMore, plausible: true}
		}
		res.size = j
		return r.deliverPlain(p, res)
	}
	if len(b) >= maxSize {
		res.v, res.size = badFrame, maxSize
		res.err = fmt.Errorf("%w: no '!' within %d bytes", ErrTooLarge, maxSize)
		return res
	}
	r.plainAt, r.plainScanned = at, at+int64(i)
	return result{v: needMore, plausible: true}
}

func (r *Reader) deliverPlain(p int, res result) result {
	frame := r.buf[p : p+res.size]
	if err := r.msg.Telegram.UnmarshalText(frame); err != nil {
		res.v, res.err, res.resume = badFrame, err, res.size
		return res
	}
	r.msg.Offset = r.base + int64(p)
	r.msg.Size = res.size
	r.msg.Encrypted = false
	r.msg.Header = Header{}
	r.msg.Authenticated = false
	res.v = goodFrame
	return res
}

// maxInner bounds the frame starts checkInner keeps track of. More than
// that many in the bytes at hand are looked at once the first ones are
// settled: none is scanned past.
const maxInner = 1024

// innerStart is a frame start inside an incomplete envelope.
type innerStart struct {
	off    int64 // stream offset of its first byte
	ready  int64 // stream offset its bytes reach when complete; 0 when unknown
	failed bool  // an envelope whose tag did not verify
}

// checkInner is called while the envelope at buf[p] is incomplete. The
// envelope may be a torn one, a frame cut by a reconnect whose announced
// length reaches into the frames that follow. Rather than wait for that
// length to fill up, which may take many of the meter's 10-second
// intervals, it looks for a frame that starts inside the envelope and is
// already complete and good. It returns that frame's index, or -1.
//
// Every frame start after p is followed until it is settled, however many
// plausible headers of long frames come first: an envelope whose header
// is complete is looked at again only once its bytes are all there, so a
// call costs the new bytes and the frames they complete. The starts found
// for one envelope serve the next, when the next is one of them.
func (r *Reader) checkInner(p int) int {
	at := r.base + int64(p)
	if r.innerFor != at {
		if r.innerFor < at && at < r.innerScanned {
			// The next envelope of a run: what lies beyond it stays.
			i := 0
			for i < len(r.inner) && r.inner[i].off <= at {
				i++
			}
			r.inner = append(r.inner[:0], r.inner[i:]...)
		} else {
			r.inner, r.innerScanned = r.inner[:0], at+1
		}
		r.innerFor = at
	}
	q := int(r.innerScanned - r.base)
	for ; q < r.end && len(r.inner) < maxInner; q++ {
		if c := r.buf[q]; c == frameTag || c == '/' {
			r.inner = append(r.inner, innerStart{off: r.base + int64(q)})
		}
	}
	r.innerScanned = r.base + int64(q)
	end := r.base + int64(r.end)
	keep := r.inner[:0]
	found := -1
	for _, s := range r.inner {
		if found >= 0 || s.failed || (s.ready > 0 && s.ready > end) {
			keep = append(keep, s)
			continue
		}
		q := int(s.off - r.base)
		switch res := r.examine(q); res.v {
		case goodFrame:
			found = q
			keep = append(keep, s)
		case needMore:
			s.ready = 0
			if res.encrypted && res.plausible {
				s.ready = s.off + int64(res.header.frameSize())
			}
			keep = append(keep, s)
		case badFrame:
			// Kept when its tag failed: when the search comes to it,
			// it need not be decrypted again.
			if res.err == ErrAuth {
				s.failed = true
				keep = append(keep, s)
			}
		}
	}
	r.inner = keep
	return found
}

// failedBefore reports whether the envelope at stream offset at was
// decrypted as a frame inside another one, by checkInner, and its tag did
// not verify.
func (r *Reader) failedBefore(at int64) bool {
	i, ok := slices.BinarySearchFunc(r.inner, at, func(s innerStart, at int64) int { return cmp.Compare(s.off, at) })
	return ok && r.inner[i].failed
}

// explainAuth explains the envelope at buf[p] whose tag did not verify.
// When another frame starts inside it, the envelope was torn (cut short and
// followed by the next frame, whose first bytes it swallowed) and the key
// is not to blame. Another frame is: a good plain telegram; a complete
// envelope header of plausible length; or, cut off by the envelope's end,
// the start of a header of the same meter (0xDB 0x08 and the system title
// as far as it goes).
func (r *Reader) explainAuth(p int, res result) error {
	frame := r.buf[p : p+res.size]
	for q := 1; q < len(frame); q++ {
		k := bytes.IndexByte(frame[q:], frameTag)
		if j := bytes.IndexByte(frame[q:], '/'); j >= 0 && (k < 0 || j < k) {
			k = j
		}
		if k < 0 {
			break
		}
		q += k
		// Only cheap looks here: decrypting every envelope inside the
		// failed one would make a flood of false headers quadratic.
		torn := r.startsFrame(frame[q:], res.header.SystemTitle)
		if !torn && frame[q] == '/' {
			torn = r.examinePlain(p+q).v == goodFrame
		}
		if torn {
			return details(ErrTruncated, "another frame starts %d bytes after it", int64(q))
		}
	}
	return ErrAuth
}

// startsFrame reports whether b, which ends where a torn envelope ends,
// holds the beginning of another envelope: see explainAuth.
func (r *Reader) startsFrame(b []byte, title SystemTitle) bool {
	if len(b) < 2 || b[0] != frameTag || b[1] != systemTitleSize {
		return false
	}
	h, st := scanHeader(b)
	if st == headerOK {
		return h.SystemTitle == title || h.checkLength(r.maxFrame()) == nil
	}
	got := b[2:min(len(b), 2+systemTitleSize)]
	return bytes.Equal(got, title[:len(got)])
}
