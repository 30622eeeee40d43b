package smarty

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// Cipher decrypts and encrypts Smarty frames: AES-128-GCM with a 12-byte
// tag, the nonce made of the system title and the frame counter, and the
// additional authenticated data made of the security byte and the
// authentication key.
//
// A [Reader] decrypts with it, and [Cipher.Seal] makes frames as a meter
// does. A Cipher does not change after [NewCipher], so one Cipher may serve several
// Readers in several goroutines.
type Cipher struct {
	block cipher.Block
	aead  cipher.AEAD
	aad   [1 + len(Key{})]byte
}

// NewCipher returns a Cipher for the meter's key and authentication key.
// Luxembourg's meters all use LuxembourgAuthKey.
func NewCipher(key, authKey Key) *Cipher {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("smarty: " + err.Error()) // impossible: the key has 16 bytes
	}
	aead, err := cipher.NewGCMWithTagSize(block, tagSize)
	if err != nil {
		panic("smarty: " + err.Error()) // impossible: 12 is a valid tag size
	}
	c := &Cipher{block: block, aead: aead}
	c.aad[0] = securityByte
	copy(c.aad[1:], authKey[:])
	return c
}

// openFrame checks and decrypts the frame at the start of frame, appends the
// telegram to dst and returns the result with the frame's header. Bytes
// after the frame are ignored. A tag that does not verify gives an error
// that wraps ErrAuth; frame is not modified.
func (c *Cipher) openFrame(dst, frame []byte) ([]byte, Header, error) {
	h, err := parseHeader(frame)
	if err != nil {
		return dst, h, err
	}
	if len(frame) < h.frameSize() {
		return dst, h, fmt.Errorf("%w: the header announces %d bytes, there are %d", ErrTruncated, h.frameSize(), len(frame))
	}
	var nonce [12]byte
	out, err := c.open(dst, frame, h, &nonce)
	return out, h, err
}

// open decrypts a frame whose header has been checked. The nonce buffer is
// the caller's, so that the hot path does not allocate.
func (c *Cipher) open(dst, frame []byte, h Header, nonce *[12]byte) ([]byte, error) {
	setNonce(nonce, h)
	out, err := c.aead.Open(dst, nonce[:], frame[h.ciphertextStart():h.frameSize()], c.aad[:])
	if err != nil {
		return dst, ErrAuth
	}
	return out, nil
}

func setNonce(nonce *[12]byte, h Header) {
	copy(nonce[:], h.SystemTitle[:])
	nonce[8] = byte(h.FrameCounter >> 24)
	nonce[9] = byte(h.FrameCounter >> 16)
	nonce[10] = byte(h.FrameCounter >> 8)
	nonce[11] = byte(h.FrameCounter)
}

// openUnauthenticated decrypts the frame without checking its tag: GCM is
// AES in counter mode plus a tag, so the telegram can be recovered even when
// the tag does not verify with the authentication key at hand. Nothing then
// vouches for the result except the telegram's own CRC: use it only as a
// fallback the user asked for, and check the CRC.
func (c *Cipher) openUnauthenticated(dst, frame []byte) ([]byte, Header, error) {
	h, err := parseHeader(frame)
	if err != nil {
		return dst, h, err
	}
	if len(frame) < h.frameSize() {
		return dst, h, fmt.Errorf("%w: the header announces %d bytes, there are %d", ErrTruncated, h.frameSize(), len(frame))
	}
	var nonce [12]byte
	return c.openCTR(dst, frame, h, &nonce), h, nil
}

func (c *Cipher) openCTR(dst, frame []byte, h Header, nonce *[12]byte) []byte {
	setNonce(nonce, h)
	var iv [aes.BlockSize]byte
	copy(iv[:], nonce[:])
	iv[15] = 2 // GCM encrypts from counter block nonce || 00000002
	ct := frame[h.ciphertextStart() : h.frameSize()-tagSize]
	n := len(dst)
	dst = append(dst, ct...)
	cipher.NewCTR(c.block, iv[:]).XORKeyStream(dst[n:], dst[n:])
	return dst
}

// Seal encrypts a telegram into a whole frame as a meter sends it and
// appends the frame to dst. The length field takes the shortest A-XDR form
// (real meters' frames are long enough to use 0x82 n n).
//
// A frame counter must never be used twice with the same key and system
// title: that would give away the key stream.
func (c *Cipher) Seal(dst []byte, st SystemTitle, counter uint32, plaintext []byte) []byte {
	length := 1 + 4 + len(plaintext) + tagSize
	dst = append(dst, frameTag, systemTitleSize)
	dst = append(dst, st[:]...)
	switch {
	case length < 0x80:
		dst = append(dst, byte(length))
	case length <= 0xFF:
		dst = append(dst, 0x81, byte(length))
	case length <= 0xFFFF:
		dst = append(dst, 0x82, byte(length>>8), byte(length))
	default:
		panic(fmt.Sprintf("smarty: a telegram of %d bytes does not fit a frame", len(plaintext)))
	}
	dst = append(dst, securityByte,
		byte(counter>>24), byte(counter>>16), byte(counter>>8), byte(counter))
	var nonce [12]byte
	setNonce(&nonce, Header{SystemTitle: st, FrameCounter: counter})
	return c.aead.Seal(dst, nonce[:], plaintext, c.aad[:])
}
