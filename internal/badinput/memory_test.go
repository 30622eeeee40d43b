package badinput

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// long runs the floods at their full size (.ci/run does): 32 MB through
// the live reader, 128 MB through OfflineDecryption. Without it they are
// run smaller, in the same proportions: see liveSizes and offlineSizes.
var long = flag.Bool("long", false, "run the bad-input floods at their full size, several seconds each (.ci/run does)")

// memoryMargin is how much more memory a flood of bad input may take than
// a small dose of the same, at the floods' full size: a few times the
// reader's buffers and the runtime's slack, and a small part of the flood
// itself. It is the GOMEMLIMIT of OfflineDecryption in every run.
const memoryMargin = 16 << 20

// liveSizes returns the size of a flood through the live reader and the
// margin its heap may grow by. At full size (-long) a flood is twice
// memoryMargin; by default it is 4 MB and the margin 2 MB, the same
// proportion: a reader that kept the flood, or half of it, still goes past
// the margin, and the in-process heap is measured to a few KB. A slow
// flood is 128 KB in every run.
func liveSizes(f flood) (size, margin int) {
	switch {
	case f.slow && *long:
		// About 4 s: the pty delivers the flood in small reads, each
		// of which re-examines what is pending.
		return 128 << 10, memoryMargin
	case f.slow:
		return 128 << 10, 2 << 20
	case *long:
		return 2 * memoryMargin, memoryMargin
	}
	return 4 << 20, 2 << 20
}

// offlineSizes returns the sizes of the small and the large flood run
// through OfflineDecryption, whose peak resident memory (RSS) is compared,
// and the margin. At full size (-long) they are 1 MB and 128 MB, with
// memoryMargin; by default 256 KB and 32 MB, the same ratio of 128, with
// three quarters of the margin (RSS, unlike the heap, moves by a few MB
// from run to run): a command that kept the flood, or two fifths of it,
// goes past it.
// A slow flood is 4 MB and 16 MB at full size, 256 KB and 1 MB by
// default: what it shows is the work per byte, which does not depend on
// the size.
func offlineSizes(f flood) (small, large, margin int) {
	switch {
	case f.slow && *long:
		// Its churn of garbage takes a few MB to reach the
		// collector's steady state.
		return 4 << 20, 16 << 20, memoryMargin
	case f.slow:
		return 256 << 10, 1 << 20, memoryMargin * 3 / 4
	case *long:
		return 1 << 20, 128 << 20, memoryMargin
	}
	return 256 << 10, 32 << 20, memoryMargin * 3 / 4
}

// flood is bad input repeated to a given size.
type flood struct {
	name string
	unit func(m *maker, tb testing.TB) []byte
	// slow floods cost the reader a frame's worth of work for every few
	// bytes, and are run at a smaller size.
	slow bool
}

func floods() []flood {
	return []flood{
		{"endless 0xDB", func(*maker, testing.TB) []byte { return bytes.Repeat([]byte{0xDB}, 64<<10) }, false},
		{"random bytes", func(m *maker, tb testing.TB) []byte { return tableCases(tb, m, 1)[0].data }, false},
		{"length 65535 headers", func(m *maker, tb testing.TB) []byte { return withLength(m, tb, 65535) }, false},
		{"100 KB lines", func(m *maker, tb testing.TB) []byte {
			for _, c := range tableCases(tb, m, 1) {
				if c.name == "plain, 100 KB line" {
					return c.data
				}
			}
			tb.Fatal("no 100 KB line case")
			return nil
		}, false},
		{"frames cut short", func(m *maker, tb testing.TB) []byte { return m.badFrame(tb)[:400] }, false},
		// Each header announces a frame of nearly the largest size the
		// reader accepts; it is examined, then the search goes on one
		// byte after it, 21 bytes further: 16 KB of work per 21 bytes.
		{"headers of 16 KB frames", func(m *maker, tb testing.TB) []byte { return withLength(m, tb, 16<<10-16) }, true},
	}
}

// floodStream lays out a good frame, size bytes (rounded up to whole
// units) of the flood, and a good frame, without making the flood: its
// reader produces the bytes as they are read, so that the test holds
// none of them.
func floodStream(tb testing.TB, f flood, size int) (stream, func() io.Reader) {
	m := newMaker()
	unit := f.unit(m, tb)
	s := m.build(tb, []badCase{{name: f.name, data: unit}})
	n := (size + len(unit) - 1) / len(unit)
	r := &s.regions[0]
	before, after := s.data[:r.start], s.data[r.end:]
	grow := int64(n-1) * int64(len(unit))
	r.end += grow
	s.goods[1].offset += grow
	r.data = nil
	s.data = nil
	return s, func() io.Reader {
		return io.MultiReader(bytes.NewReader(before), &repeatReader{unit: unit, left: n}, bytes.NewReader(after))
	}
}

// repeatReader reads unit left times.
type repeatReader struct {
	unit []byte
	left int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:], r.unit[r.off:])
		n += c
		if r.off += c; r.off == len(r.unit) {
			r.off = 0
			r.left--
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// heapPeak samples the heap in use until stop is called, and returns the
// highest value seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// heapAfterGC returns the heap in use after a collection that returned
// what is free to the system, and all the memory the runtime holds from
// the system then, which is what a memory limit is compared with.
func heapAfterGC() (heap, total uint64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.Sys - ms.HeapReleased
}

// TestLiveMemory floods the live reader, through a pseudo-terminal, with
// many times its buffer of each kind of bad input: the heap stays within
// a margin that is half the flood (liveSizes: 4 MB by default, 32 MB with
// -long), and the good frame after the flood is decoded.
func TestLiveMemory(t *testing.T) {
	for _, f := range floods() {
		t.Run(f.name, func(t *testing.T) {
			size, margin := liveSizes(f)
			s, data := floodStream(t, f, size)
			base, total := heapAfterGC()
			// A memory limit makes the collector work to keep the heap
			// under it: only memory the reader keeps can go past it.
			// It counts all the runtime holds, stacks and metadata too.
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(total) + int64(margin)/2))
			stop := heapPeak()
			start := time.Now()
			r := runLiveKeep(t, data(), s.goods[len(s.goods)-1].counter, 100)
			peak := stop()
			elapsed := time.Since(start)
			checkLive(t, s, r)
			t.Logf("%d KB in %s: heap %.1f MB before, peak %.1f MB, %d frame errors, %d bytes skipped",
				(s.regions[0].end-s.regions[0].start)>>10, elapsed.Round(time.Millisecond), float64(base)/(1<<20), float64(peak)/(1<<20), r.nerrs, r.stats.Skipped)
			if peak > base+uint64(margin) {
				t.Errorf("the heap grew from %d to %d bytes on %d bytes of %s: more than %d", base, peak, s.regions[0].end-s.regions[0].start, f.name, margin)
			}
		})
	}
}

// TestOfflineMemory: OfflineDecryption's peak memory on a large flood of
// bad input is that of a small one, 128 times smaller, give or take a
// margin (offlineSizes: 32 MB against 256 KB by default, 128 MB against
// 1 MB with -long). Both run with a memory limit (GOMEMLIMIT) under which
// the collector keeps the garbage, so that what is compared is what the
// command keeps.
func TestOfflineMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak memory of a child process is read from Linux's rusage")
	}
	for _, f := range floods() {
		t.Run(f.name, func(t *testing.T) {
			// Each flood runs in child processes of its own, whose peak
			// memory is their own: the floods may run side by side.
			t.Parallel()
			small, large, margin := offlineSizes(f)
			var rss [2]int64
			for i, size := range []int{small, large} {
				s, data := floodStream(t, f, size)
				dump := filepath.Join(t.TempDir(), "flood.bin")
				writeFile(t, dump, data())
				start := time.Now()
				r := runOfflineFile(t, dump, "-v", "0")
				if want := s.telegrams(); !bytes.Equal(r.stdout, want) {
					t.Fatalf("%d KB: the good frames around the flood were not both decoded; stderr:\n%s", size>>10, tail(r.stderr))
				}
				rss[i] = r.maxRSS
				t.Logf("%6d KB: peak RSS %.1f MB, %s; %s", size>>10, float64(r.maxRSS)/(1<<20),
					time.Since(start).Round(time.Millisecond), firstLine(r.stderr))
			}
			if rss[1] > rss[0]+int64(margin) {
				t.Errorf("peak RSS %d bytes on %d KB of %s, %d on %d KB: it grows with the input", rss[1], large>>10, f.name, rss[0], small>>10)
			}
		})
	}
}

func writeFile(t *testing.T, name string, r io.Reader) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// TestDeadline is the guard of every run: a reader that hangs on a
// silent device must fail the test rather than block it. A pty that stays
// silent after a partial frame is read until the deadline of a short
// context, which must end the call; the Stream lives on until Close,
// which ends the next call.
func TestDeadline(t *testing.T) {
	master, slave := rawPty(t)
	m := newMaker()
	if _, err := master.Write(m.badFrame(t)[:300]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := newLiveStream(t, slave.Name())
	defer r.Close()
	if _, err := r.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next on a silent device after a partial frame: %v, want the context's deadline", err)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		r.Close()
	}()
	if _, err := r.Next(context.Background()); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Next on a silent device after Close: %v, want fs.ErrClosed", err)
	}
}
