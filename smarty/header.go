package smarty

import (
	"encoding/hex"
	"fmt"
)

// Sizes and values of the DLMS general-glo-ciphering envelope that Smarty
// meters wrap each telegram in.
const (
	// frameTag is the first byte of an envelope (general-glo-ciphering).
	frameTag = 0xDB
	// systemTitleSize is the length of the system title, which with the
	// frame counter makes up the 12-byte GCM nonce.
	systemTitleSize = 8
	// securityByte is the security control byte of a
	// frame that is both encrypted and authenticated, the only kind
	// Smarty meters send.
	securityByte = 0x30
	// tagSize is the length of the GCM authentication tag: 12 bytes.
	tagSize = 12
	// minLength is the smallest length field of a useful frame: security
	// byte, frame counter, one byte of ciphertext and the tag.
	minLength = 1 + 4 + 1 + tagSize
)

// SystemTitle identifies the meter that sent a frame: three letters for
// the manufacturer ("SAG" for Sagemcom) and five bytes of serial number.
type SystemTitle [8]byte

// String returns the system title as upper-case hex, 534147677001BD54.
func (s SystemTitle) String() string {
	var b [2 * systemTitleSize]byte
	hex.Encode(b[:], s[:])
	for i, c := range b {
		if c >= 'a' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler with the text of String.
func (s SystemTitle) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Header is the clear-text part of an encrypted frame.
type Header struct {
	SystemTitle SystemTitle
	// FrameCounter increases by one with every frame the meter sends and
	// goes back to 0 when the key is renewed.
	FrameCounter uint32
	// Security is the security control byte, 0x30.
	Security byte
	// Length is the value of the A-XDR length field: the number of bytes
	// after it (security byte, frame counter, ciphertext and tag).
	Length int
	// lengthSize is how many bytes the length field takes (1, 2 or 3).
	lengthSize int
}

// frameSize returns the number of bytes of the whole frame, from the 0xDB
// to the last byte of the tag.
func (h Header) frameSize() int { return 2 + systemTitleSize + h.lengthSize + h.Length }

// ciphertextStart returns the offset of the ciphertext in the frame.
func (h Header) ciphertextStart() int { return 2 + systemTitleSize + h.lengthSize + 5 }

// ciphertextSize returns the length of the encrypted telegram, which is also
// the length of the plaintext.
func (h Header) ciphertextSize() int { return h.Length - 5 - tagSize }

// headerStatus is the verdict of scanHeader on the bytes at hand.
type headerStatus int

const (
	headerOK       headerStatus = iota
	headerNeedMore              // a prefix of a header; more bytes may complete it
	headerNoFrame               // not a frame header at all
)

// scanHeader reads an envelope header at the start of b. It does not judge
// the length field beyond its form; see checkLength.
func scanHeader(b []byte) (Header, headerStatus) {
	var h Header
	if len(b) < 2 {
		if len(b) == 1 && b[0] != frameTag {
			return h, headerNoFrame
		}
		return h, headerNeedMore
	}
	if b[0] != frameTag || b[1] != systemTitleSize {
		return h, headerNoFrame
	}
	const lf = 2 + systemTitleSize // offset of the length field
	if len(b) <= lf {
		return h, headerNeedMore
	}
	switch c := b[lf]; {
	case c < 0x80:
		h.Length, h.lengthSize = int(c), 1
	case c == 0x81:
		if len(b) <= lf+1 {
			return h, headerNeedMore
		}
		h.Length, h.lengthSize = int(b[lf+1]), 2
	case c == 0x82:
		if len(b) <= lf+2 {
			return h, headerNeedMore
		}
		h.Length, h.lengthSize = int(b[lf+1])<<8|int(b[lf+2]), 3
	default:
		return h, headerNoFrame
	}
	sec := lf + h.lengthSize
	if len(b) <= sec {
		return h, headerNeedMore
	}
	if b[sec] != securityByte {
		return h, headerNoFrame
	}
	if len(b) < sec+5 {
		return h, headerNeedMore
	}
	copy(h.SystemTitle[:], b[2:lf])
	h.Security = b[sec]
	h.FrameCounter = uint32(b[sec+1])<<24 | uint32(b[sec+2])<<16 | uint32(b[sec+3])<<8 | uint32(b[sec+4])
	return h, headerOK
}

// checkLength judges a complete header's length field against the limit on
// the frame size.
func (h Header) checkLength(maxFrame int) error {
	if h.Length < minLength {
		return details(ErrHeader, "length field %d is too small for a frame (at least %d)", int64(h.Length), minLength)
	}
	if h.frameSize() > maxFrame {
		return details(ErrTooLarge, "length field %d makes a frame of %d bytes, over the limit of %d", int64(h.Length), int64(h.frameSize()), int64(maxFrame))
	}
	return nil
}

// parseHeader reads the header of the encrypted frame at the start of b. It
// fails with ErrTruncated when b ends before the header does, and with
// ErrHeader when b does not start with a header Smarty meters send: tag
// 0xDB, an 8-byte system title, a length in one of the A-XDR forms (n < 0x80,
// 0x81 n, 0x82 n n) and the security byte 0x30.
func parseHeader(b []byte) (Header, error) {
	h, st := scanHeader(b)
	switch st {
	case headerNeedMore:
		return h, fmt.Errorf("%w: %d bytes are not a whole frame header", ErrTruncated, len(b))
	case headerNoFrame:
		return h, fmt.Errorf("%w: %s", ErrHeader, describeBadHeader(b))
	}
	if h.Length < minLength {
		return h, fmt.Errorf("%w: length field %d is too small for a frame (at least %d)", ErrHeader, h.Length, minLength)
	}
	return h, nil
}

// describeBadHeader says which field of a header scanHeader refused.
func describeBadHeader(b []byte) string {
	const lf = 2 + systemTitleSize
	switch {
	case b[0] != frameTag:
		return fmt.Sprintf("first byte is 0x%02X, not 0xDB", b[0])
	case b[1] != systemTitleSize:
		return fmt.Sprintf("system title length is %d, not 8", b[1])
	case b[lf] >= 0x80 && b[lf] != 0x81 && b[lf] != 0x82:
		return fmt.Sprintf("length field starts with 0x%02X, not a valid A-XDR length", b[lf])
	}
	return "security control byte is not 0x30 (encrypted and authenticated)"
}
