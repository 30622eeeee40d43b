package smarty

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// The benchmarks below share one frame, the real capture, and are meant to
// be read side by side: each stage against BenchmarkBaselineGCMOpen, the
// bare cipher.AEAD.Open of the same frame, in the same run.
//
//	go test -run '^$' -bench . ./smarty/

// BenchmarkBaselineGCMOpen is the bare AES-128-GCM Open of the real frame's
// ciphertext with the standard library, nothing else.
func BenchmarkBaselineGCMOpen(b *testing.B) {
	frame := readFile(b, realFramePath)
	key := realKey(b)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCMWithTagSize(block, tagSize)
	if err != nil {
		b.Fatal(err)
	}
	nonce := append(bytes.Clone(frame[2:10]), frame[14:18]...)
	aad := append([]byte{0x30}, LuxembourgAuthKey[:]...)
	dst := make([]byte, 0, len(frame))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aead.Open(dst[:0], nonce, frame[18:], aad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFraming finds frames in a stream of real frames and checks their
// headers, without decrypting them.
func BenchmarkFraming(b *testing.B) {
	frame := readFile(b, realFramePath)
	r := &Reader{r: &loopReader{data: frame}}
	r.buf = make([]byte, 2*r.maxFrame()+4096)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		for {
			p := r.findStart()
			if p >= 0 {
				if h, st := scanHeader(r.buf[p:r.end]); st == headerOK && p+h.frameSize() <= r.end {
					r.start = p + h.frameSize()
					break
				}
			}
			r.fill()
		}
	}
}

// BenchmarkDecrypt is the Cipher's decryption of the real frame, header
// parsing included.
func BenchmarkDecrypt(b *testing.B) {
	frame := readFile(b, realFramePath)
	c := realCipher(b)
	h, err := parseHeader(frame)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, len(frame))
	var nonce [12]byte
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.open(dst[:0], frame, h, &nonce); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is the parse of the real frame's telegram, CRC included,
// counted against the frame's size so that it compares with the others.
func BenchmarkParse(b *testing.B) {
	frame := readFile(b, realFramePath)
	text := readFile(b, realPlaintextPath)
	var t dsmr.Telegram
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := t.UnmarshalText(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader is the whole path: bytes in, a parsed telegram out, with
// Reader.Next over an endless stream of the real frame.
func BenchmarkReader(b *testing.B) {
	frame := readFile(b, realFramePath)
	r := NewReader(&loopReader{data: frame}, realCipher(b))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderOneByte is the whole path fed one byte per Read, as a slow
// UART delivers it: the cost of the Reader's bookkeeping at its worst.
func BenchmarkReaderOneByte(b *testing.B) {
	frame := readFile(b, realFramePath)
	r := NewReader(&loopReader{data: frame, max: 1}, realCipher(b))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// loopReader repeats data for ever, at most max bytes per Read when max > 0.
type loopReader struct {
	data []byte
	i    int
	max  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.max > 0 && len(p) > l.max {
		p = p[:l.max]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.i:])
		n += c
		l.i = (l.i + c) % len(l.data)
	}
	return n, nil
}
