package soak

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

var long = flag.Bool("soak", false, "run the long soak: 100 000 frames, a reconnect every 10 000")

// The soak's meter. The key is not a real one.
var (
	soakKey  = smarty.Key{0x5A, 0x4B, 0x3C, 0x2D, 0x1E, 0x0F, 0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5, 0x96, 0x87, 0x78, 0x69}
	soakSeed = uint64(100_000)
)

// deadline bounds the whole soak: a hang fails it. It measures nothing.
const deadline = 20 * time.Minute

// sample is the state of the process at a reconnect.
type sample struct {
	frames     int
	goroutines int
	heap       uint64 // bytes in use after a full collection
}

func measure(frames int) sample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{frames: frames, goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc}
}

// device is the simulated P1 cable: a symbolic link, as
// /dev/serial/by-id/... is, to a raw pseudo-terminal.
type device struct {
	link          string
	master, slave *os.File
}

// plug creates a new pseudo-terminal and points the link at it.
func (d *device) plug(t *testing.T) {
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if _, err := term.MakeRaw(int(s.Fd())); err != nil {
		t.Fatal(err)
	}
	d.master, d.slave = m, s
	if err := os.Symlink(s.Name(), d.link); err != nil {
		t.Fatal(err)
	}
}

// unplug removes the link and hangs the terminal up.
func (d *device) unplug() {
	os.Remove(d.link)
	d.master.Close()
	d.slave.Close()
}

func TestSoak(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	total, every := 20_000, 2_000
	switch {
	case *long:
		total, every = 100_000, 10_000
	case testing.Short():
		total, every = 1_000, 250
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cipher := smarty.NewCipher(soakKey, smarty.LuxembourgAuthKey)

	d := &device{link: filepath.Join(t.TempDir(), "usb-FTDI_FT232R_USB_UART_SOAK-if00-port0")}
	d.plug(t)
	var warnings warnCounter
	st, err := p1.NewStream(ctx, p1.Config{
		Device:     d.link,
		Cipher:     cipher,
		Wait:       true,
		MinBackoff: time.Millisecond,
		MaxBackoff: 10 * time.Millisecond,
		Logger:     slog.New(&warnings),
	})
	if err != nil {
		t.Fatal(err)
	}

	// The meter writes as fast as the terminal takes the frames. After
	// every `every` frames it waits until the reader has decoded them all
	// (a hang-up discards what the terminal still holds, as unplugging
	// a cable loses what is in flight), samples the process, and
	// unplugs and replugs the cable.
	var decoded atomic.Int64
	samples := make(chan sample, total/every+2)
	writerDone := make(chan error, 1)
	go func() {
		writerDone <- func() error {
			meter := sim.New(sim.Config{Seed: soakSeed})
			framer := &sim.Framer{Cipher: cipher, SystemTitle: sim.SystemTitle(soakSeed), Counter: 1}
			var tg, fr []byte
			for n := 1; n <= total; n++ {
				tg = meter.AppendTelegram(tg[:0])
				var err error
				if fr, err = framer.AppendFrame(fr[:0], tg); err != nil {
					return err
				}
				if _, err := d.master.Write(fr); err != nil {
					return fmt.Errorf("frame %d: %w", n, err)
				}
				if n%every != 0 {
					continue
				}
				for decoded.Load() < int64(n) {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					time.Sleep(time.Millisecond)
				}
				samples <- measure(n)
				if n == total {
					return nil
				}
				d.unplug()
				d.plug(t)
			}
			return nil
		}()
	}()

	// The reader side, as OnlineDecryption runs it. A second meter with
	// the same seed tells what each telegram must be.
	want := sim.New(sim.Config{Seed: soakSeed})
	var wantTg []byte
	before := measure(0)
	start := time.Now()
	for n := 1; n <= total; n++ {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			t.Fatalf("frame %d: %v", n, err)
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", n-1, err)
		}
		wantTg = want.AppendTelegram(wantTg[:0])
		if m.Header.FrameCounter != uint32(n) || !bytes.Equal(m.Telegram.Bytes(), wantTg) {
			t.Fatalf("frame %d: counter %d, or not the telegram that was sent", n, m.Header.FrameCounter)
		}
		decoded.Add(1)
	}
	elapsed := time.Since(start)
	if err := <-writerDone; err != nil {
		t.Fatalf("the meter: %v", err)
	}
	close(samples)
	stats := st.Stats()
	st.Close()
	d.unplug()

	var all []sample
	for s := range samples {
		all = append(all, s)
	}
	first, last := all[0], all[len(all)-1]
	t.Logf("%d frames (%d bytes) in %s, %d reconnects, %d warnings; before: %d goroutines, heap %d B",
		stats.Telegrams, stats.BytesRead, elapsed.Round(time.Millisecond), stats.Reconnects(), warnings.n.Load(), before.goroutines, before.heap)
	for _, s := range all {
		t.Logf("after %6d frames: %d goroutines, heap %d B", s.frames, s.goroutines, s.heap)
	}

	if stats.Telegrams != int64(total) || stats.Failed != 0 || stats.Tracker.Anomalies() != 0 {
		t.Errorf("stats %v: want %d telegrams, no failure, no frame counter anomaly", stats, total)
	}
	if want := int64(total/every - 1); stats.Reconnects() != want {
		t.Errorf("%d reconnects, want %d", stats.Reconnects(), want)
	}
	if last.goroutines != first.goroutines {
		t.Errorf("goroutines: %d after %d frames, %d after %d: not flat", first.goroutines, first.frames, last.goroutines, last.frames)
	}
	// Flat: the heap after the last reconnect is within a few buffers of
	// the heap after the first, whatever the number of frames between.
	const slack = 256 << 10
	if last.heap > first.heap+slack {
		t.Errorf("heap: %d B after %d frames, %d B after %d: grew by more than %d B", first.heap, first.frames, last.heap, last.frames, slack)
	}
}

// warnCounter is a slog.Handler that counts the warnings.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }
