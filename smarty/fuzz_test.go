package smarty

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds arbitrary bytes, in arbitrary chunks, to a Reader with
// the real key. It must not panic, must come to an end, must account for
// every byte, and must return offsets that only go forward. Every telegram
// it returns must really be in the stream (plain) or authenticated.
func FuzzReader(f *testing.F) {
	real := readFile(f, realFramePath)
	text := readFile(f, realPlaintextPath)
	c := realCipher(f)
	other := NewCipher(otherKey, austrianAK).Seal(nil, testTitle, 1, telegram("000001.000"))
	for _, seed := range [][]byte{
		real, text, cat(real[:300], real), cat([]byte("noise"), real, text, real[:20]),
		other, cat(other[:10], []byte{0x82, 0xFF, 0xFF}, other[11:]), bytes.Repeat([]byte{0xDB, 0x08}, 50),
		cat(text[:100], text), []byte("/ABC5\r\n!"), []byte("/ABC5\r\n1-0:1.8.0(1\r\n!"),
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(1))
	}
	// The telegrams of real meters (see testdata/meters/README.md).
	_, meters := meterTelegrams(f)
	for _, tg := range meters {
		f.Add(tg, uint8(0))
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunking uint8) {
		var src io.Reader = bytes.NewReader(stream)
		switch chunking % 3 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = iotest.HalfReader(src)
		}
		r := NewReader(src, c)
		r.MaxFrameSize = 2048 // small, so that the limit is exercised
		last := int64(-1)
		for i := 0; ; i++ {
			if i > len(stream)+1 {
				t.Fatalf("more results than bytes: the Reader does not advance")
			}
			m, err := r.Next()
			var fe *FrameError
			if errors.As(err, &fe) {
				if fe.Offset <= last || fe.Offset >= int64(len(stream)) {
					t.Fatalf("skip at %d after %d, stream of %d", fe.Offset, last, len(stream))
				}
				last = fe.Offset
				continue
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if m.Offset <= last || m.Offset+int64(m.Size) > int64(len(stream)) {
				t.Fatalf("telegram at %d size %d after %d, stream of %d", m.Offset, m.Size, last, len(stream))
			}
			last = m.Offset
			raw := stream[m.Offset : m.Offset+int64(m.Size)]
			if m.Encrypted {
				if !m.Authenticated {
					t.Fatal("an unauthenticated telegram without AllowUnauthenticated")
				}
				pt, _, err := c.openFrame(nil, raw)
				if err != nil || !bytes.Equal(pt, m.Telegram.Bytes()) {
					t.Fatalf("returned frame does not decrypt to its telegram: %v", err)
				}
			} else if !bytes.HasPrefix(raw, m.Telegram.Bytes()) {
				t.Fatalf("plain telegram is not the stream's bytes")
			}
		}
		st := r.Stats()
		if st.BytesRead != int64(len(stream)) || st.Skipped > st.BytesRead || r.offset() != int64(len(stream)) {
			t.Fatalf("stats %+v, offset %d, for %d bytes", st, r.offset(), len(stream))
		}
	})
}

// FuzzSealOpen checks that any telegram sealed with any keys, system title
// and counter, and put between any noise, comes back out of a Reader
// unchanged.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), uint64(0x5341476770010000), uint32(1), []byte("x"), []byte("y"))
	f.Add(make([]byte, 16), make([]byte, 16), uint64(0), uint32(0xFFFFFFFF), []byte{0xDB}, []byte("/"))
	f.Fuzz(func(t *testing.T, key, ak []byte, title uint64, counter uint32, before, after []byte) {
		if len(key) != 16 || len(ak) != 16 {
			return
		}
		var k, a Key
		copy(k[:], key)
		copy(a[:], ak)
		var st SystemTitle
		for i := range st {
			st[i] = byte(title >> (56 - 8*i))
		}
		c := NewCipher(k, a)
		text := telegram("000042.000")
		frame := c.Seal(nil, st, counter, text)
		got, h, err := c.openFrame(nil, frame)
		if err != nil || !bytes.Equal(got, text) || h.SystemTitle != st || h.FrameCounter != counter {
			t.Fatalf("Open(Seal) failed: %v", err)
		}
		// Noise that holds no complete frame cannot hide the frame.
		r := NewReader(bytes.NewReader(cat(before, frame, after)), c)
		found := false
		for range len(before) + len(after) + 2 {
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			var fe *FrameError
			if errors.As(err, &fe) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Encrypted && m.Header.FrameCounter == counter && bytes.Equal(m.Telegram.Bytes(), text) {
				found = true
			}
		}
		if !found {
			t.Fatalf("the sealed frame was not read back from %d bytes of noise before and %d after", len(before), len(after))
		}
	})
}
