package p1

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Live latency: the time from a frame's last byte to its telegram out of
// the reader, one frame at a time as a meter sends them. Run with at
// least 1000 frames:
//
//	go test -run '^$' -bench Latency -benchtime 1000x ./smarty/p1
//
// Each reports the median and the 99th percentile (p50-µs, p99-µs) beside
// ns/op, which is the whole round, the write included. The baselines run
// the same frames through a smarty.Reader without the Stream: over the
// same pseudo-terminal and serial code, over an io.Pipe (a writer and a
// reader in two goroutines, without the kernel), and over memory (the
// decoding alone).

// latency keeps the latencies of a run and reports their percentiles.
type latency []time.Duration

func (l latency) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	pct := func(p float64) float64 {
		i := min(int(p*float64(len(l))), len(l)-1)
		return float64(l[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// latencyFrames returns the frames of a run of b.N, the real telegram
// sealed under counters 1, 2, ...
func latencyFrames(b *testing.B) [][]byte {
	f := newFramer(b)
	frames := make([][]byte, b.N)
	for i := range frames {
		frames[i] = f.frame(uint32(i + 1))
	}
	b.SetBytes(int64(len(frames[0])))
	return frames
}

func checkTelegram(b *testing.B, m *smarty.Message, err error, want uint32) {
	if err != nil || m.Header.FrameCounter != want {
		b.Fatalf("frame %d: %v, %v", want, m, err)
	}
}

// BenchmarkLatencyStreamPty: frames written to a pseudo-terminal, read by
// a Stream through the serial code.
func BenchmarkLatencyStreamPty(b *testing.B) {
	frames := latencyFrames(b)
	master, slave := rawPty(b)
	st, err := NewStream(context.Background(), Config{Device: slave.Name(), Cipher: testCipher(), Timeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	lat := make(latency, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		fr := frames[i]
		if _, err := master.Write(fr[:len(fr)-1]); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := master.Write(fr[len(fr)-1:]); err != nil {
			b.Fatal(err)
		}
		m, err := st.Next(ctx)
		lat = append(lat, time.Since(start))
		checkTelegram(b, m, err, uint32(i+1))
	}
	lat.report(b)
}

// BenchmarkLatencyReaderPty is the baseline of the Stream on the same
// device: the frames through the pseudo-terminal and the serial code
// (Open) into a smarty.Reader, without the Stream.
func BenchmarkLatencyReaderPty(b *testing.B) {
	frames := latencyFrames(b)
	master, slave := rawPty(b)
	src, err := Open(context.Background(), slave.Name())
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	r := smarty.NewReader(src, testCipher())
	lat := make(latency, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		fr := frames[i]
		if _, err := master.Write(fr[:len(fr)-1]); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := master.Write(fr[len(fr)-1:]); err != nil {
			b.Fatal(err)
		}
		m, err := r.Next()
		lat = append(lat, time.Since(start))
		checkTelegram(b, m, err, uint32(i+1))
	}
	lat.report(b)
}

// BenchmarkLatencyReaderPipe is the baseline of the Stream: the same
// frames through an io.Pipe into a smarty.Reader.
func BenchmarkLatencyReaderPipe(b *testing.B) {
	frames := latencyFrames(b)
	pr, pw := io.Pipe()
	defer pr.Close()
	written := make(chan []byte, 2)
	go func() {
		for fr := range written {
			pw.Write(fr)
		}
	}()
	defer close(written)
	r := smarty.NewReader(pr, testCipher())
	lat := make(latency, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		fr := frames[i]
		written <- fr[:len(fr)-1]
		start := time.Now()
		written <- fr[len(fr)-1:]
		m, err := r.Next()
		lat = append(lat, time.Since(start))
		checkTelegram(b, m, err, uint32(i+1))
	}
	lat.report(b)
}

// BenchmarkLatencyReaderMemory is the floor: the frames decoded from
// memory, one Next each.
func BenchmarkLatencyReaderMemory(b *testing.B) {
	frames := latencyFrames(b)
	r := smarty.NewReader(bytes.NewReader(bytes.Join(frames, nil)), testCipher())
	lat := make(latency, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		m, err := r.Next()
		lat = append(lat, time.Since(start))
		checkTelegram(b, m, err, uint32(i+1))
	}
	lat.report(b)
}
