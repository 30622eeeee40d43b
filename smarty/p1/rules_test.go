package p1

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// noiseHeader is an envelope a broken adapter's random bytes could make:
// a header that passes every check, with a random system title, and
// random bytes for the rest of a frame of plausible size.
func noiseHeader(r *rand.Rand) []byte {
	const size = 600
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[0], b[1] = 0xDB, 0x08
	b[10], b[11], b[12] = 0x82, byte((size-13)>>8), byte((size-13)&0xFF)
	b[13] = 0x30
	for i := 14; i < size; i++ {
		if b[i] == 0xDB || b[i] == '/' {
			b[i] = 0 // no frame start inside
		}
	}
	return b
}

// TestKeyRules: before the first telegram, three frames of one system
// title that fail authentication end the Stream with a wrong key, three
// that come encrypted without a key with no key; noise with other system
// titles, and failures after a telegram, never do.
func TestKeyRules(t *testing.T) {
	f := newFramer(t)
	wrong := smarty.NewCipher(smarty.Key{1}, smarty.LuxembourgAuthKey)
	r := rand.New(rand.NewPCG(1, 2))
	var noise, noiseAndGood []byte
	for i := range 20 {
		noise = append(noise, noiseHeader(r)...)
		noiseAndGood = append(noiseAndGood, noiseHeader(r)...)
		if i%5 == 4 {
			noiseAndGood = append(noiseAndGood, f.frame(uint32(i))...)
		}
	}
	other := smarty.SystemTitle{'S', 'A', 'G', 9, 9, 9, 9, 9}
	tests := []struct {
		name     string
		cipher   *smarty.Cipher
		data     []byte
		want     error // the error that ends the Stream
		failures int   // frame errors before it
		warn     string
	}{
		{"wrong key", wrong, f.frames(1, 2, 3, 4), ErrWrongKey, 2,
			"/dev/ttyUSB0: 2 frames of the meter (system title 534147677001BD54) failed authentication and none decrypted yet: if the next one fails too, the key is wrong"},
		{"no key", nil, f.frames(1, 2, 3, 4), ErrNoKey, 2,
			"/dev/ttyUSB0: the meter (system title 534147677001BD54) sends encrypted frames and no key was given; the next one ends the reading"},
		{"two meters, wrong key", wrong, append(append(f.frames(1, 2), f.c.Seal(nil, other, 1, f.plain)...), f.frames(3)...), ErrWrongKey, 3,
			"/dev/ttyUSB0: 2 frames of the meter (system title 534147677001BD54) failed authentication and none decrypted yet: if the next one fails too, the key is wrong"},
		{"noise alone", testCipher(), noise, io.EOF, 20, ""},
		{"noise among good frames", testCipher(), noiseAndGood, io.EOF, 20, ""},
		{"damage after a telegram", testCipher(), append(f.frames(1), wrong.Seal(nil, testTitle, 2, f.plain)...), io.EOF, 0, ""},
	}
	// A wrong key that fails after a telegram decoded: damage, to report.
	tests[5].data = append(tests[5].data, append(wrong.Seal(nil, testTitle, 3, f.plain), wrong.Seal(nil, testTitle, 4, f.plain)...)...)
	tests[5].failures = 3
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, ctx context.Context) {
				op := &scriptedOpener{steps: []any{newFakeConn(io.EOF, tt.data)}}
				var log logRecorder
				st, err := NewStream(ctx, log.config(Config{Device: "/dev/ttyUSB0", Cipher: tt.cipher, open: op.open}))
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				failures := 0
				for {
					_, err = st.Next(ctx)
					var fe *smarty.FrameError
					if errors.As(err, &fe) {
						failures++
						continue
					}
					if err != nil {
						break
					}
				}
				if !errors.Is(err, tt.want) || failures != tt.failures {
					t.Fatalf("ended with %v after %d frame errors; want %v after %d", err, failures, tt.want, tt.failures)
				}
				var ke *KeyError
				if errors.As(err, &ke) {
					if ke.Device != "/dev/ttyUSB0" || ke.SystemTitle != testTitle || ke.Frames != 3 {
						t.Errorf("KeyError %+v", ke)
					}
					if _, err2 := st.Next(ctx); err2 != err {
						t.Errorf("Next after the verdict: %v, want the same error", err2)
					}
				}
				var warns []string
				for _, w := range log.level("W") {
					if strings.Contains(w, "key") {
						warns = append(warns, w)
					}
				}
				var want []string
				if tt.warn != "" {
					want = []string{tt.warn}
				}
				if diff := cmp.Diff(want, warns); diff != "" {
					t.Errorf("warnings about the key (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestKeyErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  *KeyError
		want string
	}{
		{&KeyError{Device: "/dev/ttyUSB0", SystemTitle: testTitle, Frames: 3, Err: ErrWrongKey},
			"p1: /dev/ttyUSB0: 3 frames of the meter (system title 534147677001BD54) failed authentication and none decrypted: the key is wrong, or the meter uses another authentication key"},
		{&KeyError{Device: "tcp://p1:2001", SystemTitle: testTitle, Frames: 3, Err: ErrNoKey},
			"p1: tcp://p1:2001: the meter (system title 534147677001BD54) sends encrypted frames and no key was given"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
		if !errors.Is(tt.err, tt.err.Err) || errors.Is(tt.err, smarty.ErrNoKey) {
			t.Errorf("%v wraps the wrong kind", tt.err)
		}
		var fe *smarty.FrameError
		if errors.As(tt.err, &fe) {
			t.Errorf("%v passes for a frame error, which a loop would skip", tt.err)
		}
	}
}

// TestKeyRuleForgetsNoise: a flood of noise titles cannot grow the rule's
// memory.
func TestKeyRuleForgetsNoise(t *testing.T) {
	var k keyRule
	st := &Stream{cfg: Config{Device: "x"}, log: discard()}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		var h smarty.Header
		for i := range h.SystemTitle {
			h.SystemTitle[i] = byte(r.Uint32())
		}
		fe := &smarty.FrameError{Encrypted: true, Header: h, Err: smarty.ErrAuth}
		if err := k.failed(st, fe, smarty.FailureAuth); err != nil {
			t.Fatal(err)
		}
	}
	if len(k.titles) > maxKeyTitles {
		t.Errorf("%d titles kept", len(k.titles))
	}
}

// TestFirstRunDiagnostics: a device that sends nothing, or bytes that hold
// no frame, is explained once on the first run, while the Stream keeps
// waiting; one that sends frames is not, and neither is a file.
func TestFirstRunDiagnostics(t *testing.T) {
	f := newFramer(t)
	garbage := []byte(strings.Repeat("\x00\xff\x13", 300))
	tests := []struct {
		name   string
		device string
		chunks [][]byte
		cfg    Config // NoByteAfter and NoFrameAfter
		want   []string
	}{
		{"nothing", "/dev/ttyUSB0", nil, Config{}, []string{
			"no byte from /dev/ttyUSB0 in the 5s since it was opened: the meter's P1 port may still be closed (the grid operator opens it on request), this may not be the port of the P1 cable, or the cable is not in the meter's P1 socket; still waiting",
			"no complete frame from /dev/ttyUSB0 for 30s: closing it; reopening it, retrying every 1s to 30s until it is back",
		}},
		{"garbage", "/dev/ttyUSB0", [][]byte{garbage}, Config{}, []string{
			"900 bytes from /dev/ttyUSB0 in the 25s since it was opened, but no frame: the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port; still reading",
			"no complete frame from /dev/ttyUSB0 for 30s (900 bytes came, none of them a frame: the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port): closing it; reopening it, retrying every 1s to 30s until it is back",
		}},
		{"frames", "/dev/ttyUSB0", [][]byte{f.frame(1)}, Config{}, nil},
		{"nothing, sooner", "/dev/ttyUSB0", nil, Config{NoByteAfter: 2 * time.Second, NoFrameAfter: -1}, []string{
			"no byte from /dev/ttyUSB0 in the 2s since it was opened: the meter's P1 port may still be closed (the grid operator opens it on request), this may not be the port of the P1 cable, or the cable is not in the meter's P1 socket; still waiting",
			"no complete frame from /dev/ttyUSB0 for 30s: closing it; reopening it, retrying every 1s to 30s until it is back",
		}},
		{"garbage, sooner", "/dev/ttyUSB0", [][]byte{garbage}, Config{NoByteAfter: -1, NoFrameAfter: 3 * time.Second}, []string{
			"900 bytes from /dev/ttyUSB0 in the 3s since it was opened, but no frame: the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port; still reading",
			"no complete frame from /dev/ttyUSB0 for 30s (900 bytes came, none of them a frame: the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port): closing it; reopening it, retrying every 1s to 30s until it is back",
		}},
		{"nothing, never said", "/dev/ttyUSB0", nil, Config{NoByteAfter: -1, NoFrameAfter: -1}, []string{
			"no complete frame from /dev/ttyUSB0 for 30s: closing it; reopening it, retrying every 1s to 30s until it is back",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, ctx context.Context) {
				conn := newFakeConn(nil, tt.chunks...)
				op := &scriptedOpener{steps: []any{conn, newFakeConn(nil)}}
				var log logRecorder
				cfg := tt.cfg
				cfg.Device = tt.device
				st := newTestStream(t, op, log.config(cfg))
				go st.Next(ctx)
				time.Sleep(31 * time.Second)
				if diff := cmp.Diff(tt.want, log.level("W")); diff != "" {
					t.Errorf("warnings (-want +got):\n%s", diff)
				}
				st.Close()
			})
		})
	}
}
