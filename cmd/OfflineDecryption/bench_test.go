package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// simStream is a dump of n encrypted frames from the simulator, made as it
// is read.
func simStream(n int) *sim.Stream {
	return &sim.Stream{
		Meter:  sim.New(sim.Config{Seed: 42}),
		Framer: &sim.Framer{Cipher: smarty.NewCipher(simKey, smarty.LuxembourgAuthKey), SystemTitle: sim.SystemTitle(42), Counter: 1},
		Count:  n,
	}
}

// hexStream turns a reader of bytes into a reader of their hex text, 64
// digits a line.
type hexStream struct {
	r   io.Reader
	in  [1024]byte
	buf []byte
	out []byte
	col int
}

func (h *hexStream) Read(p []byte) (int, error) {
	if len(h.out) == 0 {
		n, err := h.r.Read(h.in[:])
		if n == 0 {
			return 0, err
		}
		const digits = "0123456789abcdef"
		buf := h.buf[:0]
		for _, c := range h.in[:n] {
			buf = append(buf, digits[c>>4], digits[c&0xF])
			if h.col += 2; h.col == 64 {
				buf = append(buf, '\n')
				h.col = 0
			}
		}
		h.buf, h.out = buf, buf
	}
	n := copy(p, h.out)
	h.out = h.out[n:]
	return n, nil
}

// heapSampler measures the live heap every few megabytes of input, after
// a collection, so that what it sees is what the decoder holds.
type heapSampler struct {
	r     io.Reader
	every int64
	next  int64
	read  int64
	peak  uint64
}

func (s *heapSampler) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.read += int64(n)
	if s.read >= s.next {
		s.next = s.read + s.every
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapAlloc)
	}
	return n, err
}

// TestMemoryDoesNotGrow decodes a dump ten times longer than another and
// checks that the live heap stays the same: OfflineDecryption streams.
func TestMemoryDoesNotGrow(t *testing.T) {
	// 10 000 frames are 12 MB of raw input: a decoder that kept
	// anything per frame would hold it many times over the slack below.
	small, large := 1_000, 10_000
	for _, form := range []string{"raw", "hex"} {
		t.Run(form, func(t *testing.T) {
			peak := func(n int) (uint64, int64) {
				var in io.Reader = simStream(n)
				if form == "hex" {
					in = &hexStream{r: in}
				}
				s := &heapSampler{r: in, every: 512 << 10}
				// The output goes nowhere: a buffer would grow with it.
				var stderr strings.Builder
				err := run(context.Background(), []string{"-key", simKeyHex, "-format", "json", "-"}, s, io.Discard, &stderr)
				if err != nil {
					t.Fatalf("%v: %s", err, stderr.String())
				}
				return s.peak, s.read
			}
			peakSmall, readSmall := peak(small)
			peakLarge, readLarge := peak(large)
			t.Logf("%s: %d frames (%.0f MB): live heap peak %d KB; %d frames (%.0f MB): %d KB",
				form, small, float64(readSmall)/1e6, peakSmall>>10, large, float64(readLarge)/1e6, peakLarge>>10)
			// Ten times the input may not cost more than a little slack:
			// a growing decoder would hold megabytes more.
			if peakLarge > peakSmall+256<<10 {
				t.Errorf("live heap grew from %d KB to %d KB with ten times the input", peakSmall>>10, peakLarge>>10)
			}
		})
	}
}

// BenchmarkOfflineDecryption runs the command over a 100 000-frame dump
// from the simulator, in text and JSON, beside the bare AES-GCM Open of the
// same frames: the ratio is the cost of framing, parsing and output.
//
//	go test -run XXX -bench OfflineDecryption -benchtime 3x ./cmd/OfflineDecryption
func BenchmarkOfflineDecryption(b *testing.B) {
	const frames = 100_000
	dump := filepath.Join(b.TempDir(), "dump.bin")
	f, err := os.Create(dump)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, simStream(frames)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(dump)
	if err != nil {
		b.Fatal(err)
	}
	size := int64(len(data))
	// Split the dump into its frames for the baseline: a Reader without
	// a key reports each envelope with its offset and size.
	var split [][]byte
	for r := smarty.NewReader(bytes.NewReader(data), nil); ; {
		_, err := r.Next()
		var fe *smarty.FrameError
		if !errors.As(err, &fe) || fe.Failure() != smarty.FailureNoKey {
			if err != io.EOF {
				b.Fatal(err)
			}
			break
		}
		split = append(split, data[fe.Offset:fe.Offset+int64(fe.Size)])
	}
	if len(split) != frames {
		b.Fatalf("%d frames in the dump", len(split))
	}

	b.Run("baseline-gcm-open", func(b *testing.B) {
		block, err := aes.NewCipher(simKey[:])
		if err != nil {
			b.Fatal(err)
		}
		aead, err := cipher.NewGCMWithTagSize(block, 12)
		if err != nil {
			b.Fatal(err)
		}
		aad := append([]byte{0x30}, smarty.LuxembourgAuthKey[:]...)
		var buf []byte
		var nonce [12]byte
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, fr := range split {
				// DB 08 <title> <length: n, 81 n or 82 n n> 30 <counter>
				lf := 1
				if fr[10] >= 0x80 {
					lf += int(fr[10] - 0x80)
				}
				copy(nonce[:8], fr[2:10])
				copy(nonce[8:], fr[10+lf+1:])
				if buf, err = aead.Open(buf[:0], nonce[:], fr[10+lf+5:], aad); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
	})
	data, split = nil, nil
	for _, kind := range []string{"text", "json"} {
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				err := run(context.Background(), []string{"-key", simKeyHex, "-format", kind, dump}, nil, io.Discard, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
		})
	}
}

// TestNoAllocationPerFrame decodes a dump of n frames and one of 3n, in
// text and JSON: the second may not allocate more than the first, beyond
// a little slack. The cost of a file (buffers, the summary) is the same
// for both; a cost per frame would show up about 2n times.
func TestNoAllocationPerFrame(t *testing.T) {
	const n = 500
	dump := func(frames int) []byte {
		var b bytes.Buffer
		if _, err := io.Copy(&b, simStream(frames)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	small, large := dump(n), dump(3*n)
	for _, kind := range []string{"text", "json"} {
		t.Run(kind, func(t *testing.T) {
			allocs := func(data []byte) float64 {
				return testing.AllocsPerRun(5, func() {
					err := run(context.Background(), []string{"-key", simKeyHex, "-format", kind, "-"}, bytes.NewReader(data), io.Discard, io.Discard)
					if err != nil {
						t.Fatal(err)
					}
				})
			}
			a, b := allocs(small), allocs(large)
			t.Logf("%d frames: %.0f allocations, %d frames: %.0f", n, a, 3*n, b)
			if perFrame := (b - a) / (2 * n); perFrame > 0.05 {
				t.Errorf("%.2f allocations per frame, want 0", perFrame)
			}
		})
	}
}
