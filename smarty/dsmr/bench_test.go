package dsmr

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"
)

// BenchmarkParse measures UnmarshalText (the parse and the CRC) into a
// reused Telegram, the steady state of a reader, beside its baseline: the
// bare AES-128-GCM Open of the real 647-byte frame that carried the 617-byte
// telegram, the step before the parse on an encrypted meter. The project's
// target is that frame -> decrypt -> parse runs at no less than 25% of the
// baseline's throughput.
//
// "mixed" parses every good telegram of the corpus in turn, so that the
// branch predictor cannot learn a single telegram by heart.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"smarty-2018", "lux-spec-example"} {
		data := readFile(b, "../../testdata/"+name+".txt")
		b.Run(name, func(b *testing.B) {
			var t Telegram
			if err := t.UnmarshalText(data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := t.UnmarshalText(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("mixed", func(b *testing.B) {
		var all [][]byte
		size := 0
		for _, f := range corpus(b) {
			if !strings.HasPrefix(f.name, "bad-") {
				data := readFile(b, f.path)
				all = append(all, data)
				size += len(data)
			}
		}
		var t Telegram
		b.SetBytes(int64(size / len(all)))
		b.ReportAllocs()
		k := 0
		for b.Loop() {
			if err := t.UnmarshalText(all[k]); err != nil {
				b.Fatal(err)
			}
			if k++; k == len(all) {
				k = 0
			}
		}
	})
	b.Run("baseline-AES-GCM-Open-647", func(b *testing.B) {
		frame := readFile(b, "../../testdata/smarty-2018.bin")
		aead, nonce, aad, sealed := openParams(b, frame)
		plain := make([]byte, 0, len(sealed))
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if plain, err = aead.Open(plain[:0], nonce, sealed, aad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// openParams takes the real frame apart as protocol.md section 2 describes
// it, and checks that it opens to the real telegram.
func openParams(tb testing.TB, frame []byte) (aead cipher.AEAD, nonce, aad, sealed []byte) {
	tb.Helper()
	keyHex := strings.TrimSpace(string(readFile(tb, "../../testdata/smarty-2018.key")))
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) != 16 {
		tb.Fatal("testdata/smarty-2018.key does not hold 32 hex digits")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	if aead, err = cipher.NewGCMWithTagSize(block, 12); err != nil {
		tb.Fatal(err)
	}
	// DB 08 title(8) 82 HH LL 30 counter(4) ciphertext tag(12)
	if len(frame) != 647 || frame[0] != 0xDB || frame[1] != 8 || frame[10] != 0x82 || frame[13] != 0x30 {
		tb.Fatal("unexpected frame layout")
	}
	nonce = append(append([]byte{}, frame[2:10]...), frame[14:18]...)
	ak, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF")
	aad = append([]byte{0x30}, ak...)
	sealed = frame[18:]
	plain, err := aead.Open(nil, nonce, sealed, aad)
	if err != nil {
		tb.Fatal(err)
	}
	if want := readFile(tb, "../../testdata/smarty-2018.txt"); !bytes.Equal(plain, want) {
		tb.Fatal("the frame does not open to testdata/smarty-2018.txt")
	}
	return aead, nonce, aad, sealed
}

// TestFrameOpensToTelegram ties the benchmark's baseline to the parse: the
// real frame decrypts to the real telegram, which parses.
func TestFrameOpensToTelegram(t *testing.T) {
	frame := readFile(t, "../../testdata/smarty-2018.bin")
	aead, nonce, aad, sealed := openParams(t, frame)
	plain, err := aead.Open(nil, nonce, sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(plain); err != nil {
		t.Fatal(err)
	}
	if _, err := aead.Open(nil, nonce, sealed, aad[:1]); err == nil {
		t.Errorf("Open without the authentication key succeeded")
	}
}

var sinkCRC uint32

// BenchmarkChecksum measures CRC-16/ARC on the real telegram beside
// hash/crc32.ChecksumIEEE on the same bytes, which the standard library
// computes with carry-less multiplication instructions.
func BenchmarkChecksum(b *testing.B) {
	data := readFile(b, "../../testdata/smarty-2018.txt")
	data = data[:bytes.IndexByte(data, '!')+1]
	b.Run("CRC-16-ARC", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sinkCRC += uint32(Checksum(data))
		}
	})
	b.Run("bitwise-reference", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sinkCRC += uint32(crcBitwise(data))
		}
	})
	b.Run("baseline-crc32-IEEE", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sinkCRC += crc32.ChecksumIEEE(data)
		}
	})
}

// BenchmarkAccessors measures what a program reads from each telegram
// after the parse.
func BenchmarkAccessors(b *testing.B) {
	tg, err := Parse(readFile(b, "../../testdata/lux-spec-example.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Time+Energy+Power+Voltage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = tg.Time()
			_, _ = tg.EnergyImport()
			_, _ = tg.PowerImport()
			_, _ = tg.Voltage(1)
		}
	})
	b.Run("MBus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tg.MBus()
		}
	})
	b.Run("MeterID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tg.MeterID()
		}
	})
}
