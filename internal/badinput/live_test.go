package badinput

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// runDeadline bounds each run through a device or a command: a hang
// becomes a failure. It measures nothing.
const runDeadline = 3 * time.Minute

// rawPty opens a pseudo-terminal in raw mode, so that bytes written to the
// master are delivered untouched, and returns the master and the slave.
func rawPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if _, err := term.MakeRaw(int(s.Fd())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// newLiveStream returns the live reader of OnlineDecryption for device,
// with the suite's key, accepting the corpus's plain telegrams as
// -allowPlain does.
func newLiveStream(t *testing.T, device string) *p1.Stream {
	t.Helper()
	st, err := p1.NewStream(context.Background(), p1.Config{Device: device, Cipher: suiteCipher(), AllowPlain: true, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// gotMsg is a telegram the live reader delivered.
type gotMsg struct {
	offset    int64
	encrypted bool
	counter   uint32
	telegram  []byte
}

// liveRun is what came out of a run through the live reader.
type liveRun struct {
	msgs    []gotMsg
	errs    []frameErr // the first maxKept of them
	nerrs   int        // all of them
	maxKept int        // 0: keep all
	stats   p1.Stats
}

// runLive writes data into a pseudo-terminal and reads it as
// OnlineDecryption does: p1.Open on the slave (the serial code),
// p1.Stream and a smarty.Reader with the suite's key. It
// reads until the telegram with frame counter last has come, or the
// deadline.
func runLive(t *testing.T, data []byte, last uint32) liveRun {
	t.Helper()
	return runLiveKeep(t, bytes.NewReader(data), last, 0)
}

// runLiveKeep is runLive keeping only the first maxKept frame errors, so
// that a flood of them does not fill the test's own memory.
func runLiveKeep(t *testing.T, data io.Reader, last uint32, maxKept int) liveRun {
	t.Helper()
	master, slave := rawPty(t)
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	st := newLiveStream(t, slave.Name())
	defer st.Close()
	go func() {
		buf := make([]byte, 4096)
		for ctx.Err() == nil {
			n, err := data.Read(buf)
			if _, werr := master.Write(buf[:n]); werr != nil || err != nil {
				return
			}
		}
	}()
	r := liveRun{maxKept: maxKept}
	for {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			if r.nerrs++; maxKept == 0 || len(r.errs) < maxKept {
				r.errs = append(r.errs, frameErr{offset: fe.Offset, text: err.Error(), err: err})
			}
			continue
		case err != nil:
			t.Fatalf("Next: %v after %d telegrams and %d errors (a hang or a lost frame)", err, len(r.msgs), len(r.errs))
		}
		r.msgs = append(r.msgs, gotMsg{offset: m.Offset, encrypted: m.Encrypted, counter: m.Header.FrameCounter,
			telegram: append([]byte(nil), m.Telegram.Bytes()...)})
		if m.Encrypted && m.Header.FrameCounter == last {
			break
		}
	}
	r.stats = st.Stats()
	return r
}

// checkLive checks a live run against its stream: every good frame
// decoded at its offset, the accepted telegrams and nothing else
// delivered, and the errors reported as checkErrors wants.
func checkLive(t *testing.T, s stream, r liveRun) {
	t.Helper()
	at := map[int64]gotMsg{}
	var all []byte
	for _, m := range r.msgs {
		at[m.offset] = m
		all = append(all, m.telegram...)
	}
	lost := 0
	for _, g := range s.goods {
		m, ok := at[g.offset]
		if !ok || !m.encrypted || m.counter != g.counter || !bytes.Equal(m.telegram, g.telegram) {
			if lost++; lost <= 10 {
				what := "the first good frame"
				if i := int(g.counter) - int(s.goods[0].counter); i > 0 {
					what = "the good frame after " + s.regions[i-1].name
				}
				t.Errorf("%s (counter %d at byte %d) was not decoded", what, g.counter, g.offset)
			}
		}
	}
	if !bytes.Equal(all, s.telegrams()) {
		t.Errorf("the telegrams delivered are not the good ones and the accepted ones: %d bytes, want %d", len(all), len(s.telegrams()))
	}
	if r.maxKept == 0 {
		checkErrors(t, s, r.errs)
	}
}

// TestLiveTable: the named kinds of bad input through a pseudo-terminal.
func TestLiveTable(t *testing.T) {
	m := newMaker()
	cases := tableCases(t, m, 1<<20)
	s := m.build(t, cases)
	r := runLive(t, s.data, s.goods[len(s.goods)-1].counter)
	checkLive(t, s, r)
	for _, c := range s.regions {
		t.Logf("%-28s %7d bytes at %7d: %s", c.name, c.end-c.start, c.start, describe(r.errs, c))
	}
}

// TestLiveCut: a frame cut after every byte position, each followed by a
// good frame, through a pseudo-terminal.
func TestLiveCut(t *testing.T) {
	m := newMaker()
	s := m.build(t, cutCases(t, m))
	checkLive(t, s, runLive(t, s.data, s.goods[len(s.goods)-1].counter))
}

// TestLiveFlip: one flipped bit in every part of a frame, through a
// pseudo-terminal.
func TestLiveFlip(t *testing.T) {
	m := newMaker()
	s := m.build(t, flipCases(t, m))
	checkLive(t, s, runLive(t, s.data, s.goods[len(s.goods)-1].counter))
}

// describe lists the errors reported in a region, for the log.
func describe(errs []frameErr, r region) string {
	var b bytes.Buffer
	for _, e := range errs {
		if e.offset >= r.start && e.offset < r.end {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(e.text)
		}
	}
	if b.Len() == 0 {
		return "skipped, no frame"
	}
	return b.String()
}
