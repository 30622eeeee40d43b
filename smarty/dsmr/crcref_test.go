package dsmr

import (
	"math/rand/v2"
	"testing"
)

// crcBitwise is the textbook bit-at-a-time CRC-16/ARC, the reference the
// table-driven Checksum is checked against.
func crcBitwise(p []byte) uint16 { return crcBitwiseFrom(0, p) }

// crcBitwiseFrom is crcBitwise continued from the register crc.
func crcBitwiseFrom(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

func TestChecksumMatchesBitwise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		if got, want := Checksum(p), crcBitwise(p); got != want {
			t.Fatalf("len %d: Checksum = %04X, bitwise = %04X", n, got, want)
		}
		if n > 3 {
			if got := updateChecksum(Checksum(p[:3]), p[3:]); got != crcBitwise(p) {
				t.Fatalf("len %d: updateChecksum in two pieces = %04X", n, got)
			}
		}
	}
	// The check value of CRC-16/ARC.
	if got := Checksum([]byte("123456789")); got != 0xBB3D {
		t.Errorf("Checksum(123456789) = %04X, want BB3D", got)
	}
}

// TestChecksumPieces splits the real telegram at every byte: the checksum
// of the two pieces must be that of the whole, which is CFDE.
func TestChecksumPieces(t *testing.T) {
	data := readFile(t, "../../testdata/smarty-2018.txt")
	data = data[:len(data)-len("CFDE\r\n")] // from '/' through '!'
	if got := Checksum(data); got != 0xCFDE {
		t.Fatalf("Checksum = %04X, want CFDE", got)
	}
	for i := range data {
		if got := updateChecksum(Checksum(data[:i]), data[i:]); got != 0xCFDE {
			t.Fatalf("split at %d: %04X, want CFDE", i, got)
		}
	}
	// Every start and length up to 40 bytes, so that each of the loop's
	// paths (16 bytes, 8 bytes, single bytes) meets every alignment.
	for i := range 40 {
		for n := range 40 {
			p := data[i : i+n]
			if got, want := Checksum(p), crcBitwise(p); got != want {
				t.Fatalf("data[%d:%d]: %04X, want %04X", i, i+n, got, want)
			}
		}
	}
}

// TestChecksumLong holds both ways of computing the checksum, the tables
// alone and (where the processor has it) the carry-less multiplication,
// to the bitwise reference on random data of random length and start, from
// a random register.
func TestChecksumLong(t *testing.T) {
	t.Logf("carry-less multiplication: %v", haveCLMUL)
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 2016)
	for range 3000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		off, n := r.IntN(16), r.IntN(2001)
		p := buf[off : off+n]
		crc := uint16(r.Uint32())
		want := crcBitwiseFrom(crc, p)
		if got := updateChecksum(crc, p); got != want {
			t.Fatalf("len %d at %d from %04X: updateChecksum = %04X, want %04X", n, off, crc, got, want)
		}
		if got := updateChecksumTables(crc, p); got != want {
			t.Fatalf("len %d at %d from %04X: updateChecksumTables = %04X, want %04X", n, off, crc, got, want)
		}
	}
}
