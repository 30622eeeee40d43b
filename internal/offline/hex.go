package offline

import "io"

// looksLikeHex reports whether the start of a dump is hex text: only hex
// digits and white space, with at least two digits. A raw dump holds
// 0xDB or '/' and other bytes that hex text never does.
func looksLikeHex(b []byte) bool {
	digits := 0
	for _, c := range b {
		switch {
		case hexValue[c] >= 0:
			digits++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
		default:
			return false
		}
	}
	return digits >= 2
}

var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

// hexReader decodes hex text as it is read, in constant memory: pairs of
// hex digits in either case, with any white space between and inside the
// pairs. Other characters are skipped and counted in invalid (a stray
// character also drops a half-read pair), so that a damaged line costs the
// frame it is in and not the rest of the dump.
type hexReader struct {
	r       io.Reader
	in      [32 << 10]byte
	pending int8 // high nibble waiting for its partner, -1 when none
	invalid int64
	odd     bool // the text ended after half a pair
}

func newHexReader(r io.Reader) *hexReader {
	return &hexReader{r: r, pending: -1}
}

func (h *hexReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	// Hex text is two bytes per output byte: read at most that much, so
	// that nothing read is left over.
	want := min(2*len(p), len(h.in))
	for {
		m, err := h.r.Read(h.in[:want])
		n := 0
		for _, c := range h.in[:m] {
			v := hexValue[c]
			if v < 0 {
				switch c {
				case ' ', '\t', '\r', '\n', '\f', '\v':
				default:
					h.invalid++
					h.pending = -1
				}
				continue
			}
			if h.pending < 0 {
				h.pending = v
				continue
			}
			p[n] = byte(h.pending<<4 | v)
			n++
			h.pending = -1
		}
		if err == io.EOF && h.pending >= 0 {
			h.odd = true
			h.pending = -1
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}
