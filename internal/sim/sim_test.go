package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

func TestDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		m := New(Config{Seed: seed})
		var b []byte
		for range 50 {
			b = m.AppendTelegram(b)
		}
		return b
	}
	if !bytes.Equal(gen(7), gen(7)) {
		t.Error("the same seed gives different telegrams")
	}
	if bytes.Equal(gen(7), gen(8)) {
		t.Error("different seeds give the same telegrams")
	}
}

// smartyCodes are the objects of a full Smarty readout (protocol.md,
// section 4) that every simulated telegram must carry.
var smartyCodes = []string{
	"1-3:0.2.8", "0-0:1.0.0", "0-0:42.0.0", "1-0:1.8.0", "1-0:2.8.0", "1-0:3.8.0", "1-0:4.8.0",
	"1-0:1.7.0", "1-0:2.7.0", "1-0:3.7.0", "1-0:4.7.0", "1-0:9.7.0", "1-0:10.7.0", "0-0:17.0.0",
	"1-1:31.4.0", "0-0:96.3.10", "0-1:96.3.10", "0-0:96.7.21",
	"1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0", "1-0:32.36.0", "1-0:52.36.0", "1-0:72.36.0",
	"0-0:96.13.0", "0-0:96.13.2", "0-0:96.13.3", "0-0:96.13.4", "0-0:96.13.5",
	"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0", "1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0",
	"1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0", "1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0",
	"1-0:23.7.0", "1-0:43.7.0", "1-0:63.7.0", "1-0:24.7.0", "1-0:44.7.0", "1-0:64.7.0",
	"0-1:24.1.0", "0-1:96.1.0", "0-1:24.2.1", "0-1:24.4.0",
}

// TestTelegrams runs a simulated day and checks every telegram: it parses
// with a correct CRC, has every object, its clock advances by one step, and
// its readings stay in range.
func TestTelegrams(t *testing.T) {
	const step = 10 * time.Second
	const n = 24 * 360 // one day
	m := New(Config{Seed: 3, Step: step})
	var tg dsmr.Telegram
	var buf []byte
	var prev time.Time
	var prevGas dsmr.Decimal
	var sawExport, sawImport bool
	for i := range n {
		buf = m.AppendTelegram(buf[:0])
		if err := tg.UnmarshalText(buf); err != nil {
			t.Fatalf("telegram %d: %v\n%s", i, err, buf)
		}
		if _, ok := tg.CRC(); !ok {
			t.Fatalf("telegram %d has no CRC", i)
		}
		for _, c := range smartyCodes {
			if tg.Find(dsmr.MustParseOBIS(c)) == nil {
				t.Fatalf("telegram %d lacks %s", i, c)
			}
		}
		if len(tg.Objects()) != len(smartyCodes) {
			t.Fatalf("telegram %d has %d objects, want %d", i, len(tg.Objects()), len(smartyCodes))
		}
		now, ok := tg.Time()
		if !ok {
			t.Fatalf("telegram %d: no time", i)
		}
		if i > 0 && now.Sub(prev) != step {
			t.Fatalf("telegram %d: time %v, %v after the previous one", i, now, now.Sub(prev))
		}
		prev = now
		for p := 1; p <= 3; p++ {
			if v, _ := tg.Voltage(p); v < 215 || v > 255 {
				t.Fatalf("telegram %d: voltage L%d %v V", i, p, v)
			}
		}
		pi, _ := tg.PowerImport()
		pe, _ := tg.PowerExport()
		if pi < 0 || pe < 0 || pi > 20 || pe > 10 || (pi > 0 && pe > 0 && tg.Find(dsmr.MustParseOBIS("1-0:22.7.0")) == nil) {
			t.Fatalf("telegram %d: import %v kW, export %v kW", i, pi, pe)
		}
		sawImport = sawImport || pi > 1
		sawExport = sawExport || pe > 1
		gas := tg.MBus()
		if len(gas) != 1 || gas[0].Type != dsmr.DeviceGas || !gas[0].HasReading || gas[0].Unit != "m3" || gas[0].ID == "" {
			t.Fatalf("telegram %d: M-Bus %+v", i, gas)
		}
		if gas[0].Reading.Float64() < prevGas.Float64() {
			t.Fatalf("telegram %d: gas went back from %v to %v", i, prevGas, gas[0].Reading)
		}
		if now.Sub(gas[0].Time) < 0 || now.Sub(gas[0].Time) >= 5*time.Minute+step {
			t.Fatalf("telegram %d at %v: gas captured at %v", i, now, gas[0].Time)
		}
		prevGas = gas[0].Reading
	}
	if !sawImport || !sawExport {
		t.Errorf("over a day: import above 1 kW %v, export above 1 kW %v; want both", sawImport, sawExport)
	}
	if id := m.MeterID(); len(id) != 16 || id[:3] != "SAG" || tg.MeterID() != id {
		t.Errorf("meter id %q, telegram says %q", id, tg.MeterID())
	}
}

// TestEnergyFollowsPower checks that each energy register grows by the
// power the telegrams show times the time between them.
func TestEnergyFollowsPower(t *testing.T) {
	const step = 10 * time.Second
	registers := []struct{ energy, power string }{
		{"1-0:1.8.0", "1-0:1.7.0"},
		{"1-0:2.8.0", "1-0:2.7.0"},
		{"1-0:3.8.0", "1-0:3.7.0"},
		{"1-0:4.8.0", "1-0:4.7.0"},
	}
	for _, seed := range []uint64{1, 2, 3} {
		m := New(Config{Seed: seed, Start: time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC), Step: step})
		var tg dsmr.Telegram
		read := func(code string) float64 {
			d, _, ok := tg.Decimal(dsmr.MustParseOBIS(code))
			if !ok {
				t.Fatalf("no %s", code)
			}
			return d.Float64()
		}
		start := make([]float64, len(registers))
		sum := make([]float64, len(registers)) // kWh from power
		var buf []byte
		const n = 3 * 360 // three hours
		for i := 0; i <= n; i++ {
			buf = m.AppendTelegram(buf[:0])
			if err := tg.UnmarshalText(buf); err != nil {
				t.Fatal(err)
			}
			for k, r := range registers {
				if i == 0 {
					start[k] = read(r.energy)
				}
				if i == n {
					continue
				}
				sum[k] += read(r.power) * step.Hours()
			}
		}
		for k, r := range registers {
			grew := read(r.energy) - start[k]
			// Registers are shown rounded down to 1 Wh.
			if diff := grew - sum[k]; diff < -0.0011 || diff > 0.0011 {
				t.Errorf("seed %d: %s grew by %.4f kWh, %s over the time gives %.4f kWh", seed, r.energy, grew, r.power, sum[k])
			}
			if r.energy == "1-0:1.8.0" && grew <= 0 {
				t.Errorf("seed %d: import register did not move in three hours", seed)
			}
		}
	}
}

func TestSummerTime(t *testing.T) {
	tests := []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC), "250115130000W"},
		{time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC), "250715140000S"},
		// Summer time starts at 01:00 UTC on 30 March 2025.
		{time.Date(2025, 3, 30, 0, 59, 59, 0, time.UTC), "250330015959W"},
		{time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC), "250330030000S"},
		// It ends at 01:00 UTC on 26 October 2025: 02:30 local happens twice.
		{time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC), "251026023000S"},
		{time.Date(2025, 10, 26, 1, 30, 0, 0, time.UTC), "251026023000W"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := string(appendTimestamp(nil, tc.utc))
			if got != tc.want {
				t.Errorf("%v: %s, want %s", tc.utc, got, tc.want)
			}
			// The dsmr parser must read it back as the same instant.
			tg, err := dsmr.Parse(fmt.Appendf(nil, "/X\r\n\r\n0-0:1.0.0(%s)\r\n!\r\n", got))
			if err != nil {
				t.Fatal(err)
			}
			if back, ok := tg.Time(); !ok || !back.Equal(tc.utc) {
				t.Errorf("parsed back as %v, want %v", back, tc.utc)
			}
		})
	}
}

func TestAppendFixed(t *testing.T) {
	tests := []struct {
		v         float64
		int, frac int
		want      string
	}{
		{6.695, 6, 3, "000006.695"},
		{6.6959, 6, 3, "000006.695"},
		{0, 2, 3, "00.000"},
		{0.005, 2, 3, "00.005"},
		{233.04, 3, 1, "233.0"},
		{99, 5, 0, "00099"},
		{1234567.5, 6, 3, "1234567.500"},
		{-1, 2, 3, "00.000"},
	}
	for _, tc := range tests {
		if got := string(appendFixed(nil, tc.v, tc.int, tc.frac)); got != tc.want {
			t.Errorf("appendFixed(%v, %d, %d) = %q, want %q", tc.v, tc.int, tc.frac, got, tc.want)
		}
	}
}

var testKey = smarty.Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func TestFramer(t *testing.T) {
	c := smarty.NewCipher(testKey, smarty.LuxembourgAuthKey)
	f := &Framer{Cipher: c, SystemTitle: SystemTitle(1), Counter: 41}
	m := New(Config{Seed: 1})
	for i := range 3 {
		tg := m.AppendTelegram(nil)
		frame, err := f.AppendFrame(nil, tg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := smarty.NewReader(bytes.NewReader(frame), c).Next()
		if err != nil {
			t.Fatal(err)
		}
		plain, h := m.Telegram.Bytes(), m.Header
		if !bytes.Equal(plain, tg) || h.FrameCounter != uint32(41+i) || h.SystemTitle != SystemTitle(1) {
			t.Errorf("frame %d: counter %d, title %s, plaintext equal %v", i, h.FrameCounter, h.SystemTitle, bytes.Equal(plain, tg))
		}
	}
	t.Run("plain", func(t *testing.T) {
		f := &Framer{}
		got, err := f.AppendFrame([]byte("x"), []byte("/T"))
		if err != nil || string(got) != "x/T" {
			t.Errorf("AppendFrame = %q, %v", got, err)
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		f := &Framer{Cipher: c, Counter: 0xFFFFFFFE}
		if _, err := f.AppendFrame(nil, []byte("/T")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.AppendFrame(nil, []byte("/T")); !errors.Is(err, ErrCounterExhausted) {
			t.Fatalf("error %v, want ErrCounterExhausted", err)
		}
	})
	if SystemTitle(1) == SystemTitle(2) || SystemTitle(1).String()[:6] != "534147" {
		t.Errorf("system titles %s, %s", SystemTitle(1), SystemTitle(2))
	}
}

// TestStream reads a stream through the library's reader, in odd chunks,
// and gets back exactly the telegrams the meter made.
func TestStream(t *testing.T) {
	c := smarty.NewCipher(testKey, smarty.LuxembourgAuthKey)
	for _, encrypted := range []bool{true, false} {
		t.Run(fmt.Sprint("encrypted=", encrypted), func(t *testing.T) {
			f := &Framer{SystemTitle: SystemTitle(5), Counter: 1000}
			if encrypted {
				f.Cipher = c
			}
			const n = 20
			s := &Stream{Meter: New(Config{Seed: 5}), Framer: f, Count: n}
			r := smarty.NewReader(iotest.HalfReader(s), c)
			r.AllowPlain = true // the plain stream, read with the same key
			want := New(Config{Seed: 5})
			for i := range n {
				msg, err := r.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if tg := want.AppendTelegram(nil); !bytes.Equal(msg.Telegram.Bytes(), tg) {
					t.Fatalf("telegram %d differs", i)
				}
				if msg.Encrypted != encrypted || (encrypted && msg.Header.FrameCounter != uint32(1000+i)) {
					t.Fatalf("frame %d: encrypted %v, counter %d", i, msg.Encrypted, msg.Header.FrameCounter)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after %d frames: %v, want io.EOF", n, err)
			}
			if s.Frames() != n {
				t.Errorf("Frames() = %d", s.Frames())
			}
		})
	}
}

func ExampleMeter() {
	m := New(Config{Seed: 1})
	tg, _ := dsmr.Parse(m.AppendTelegram(nil))
	kWh, _ := tg.EnergyImport()
	when, _ := tg.Time()
	fmt.Println(tg.MeterID(), when, kWh)
	// Output: SAG1047209550261 2025-06-02 06:00:00 +0200 CEST 14725.34
}

func BenchmarkAppendTelegram(b *testing.B) {
	m := New(Config{Seed: 1})
	buf := m.AppendTelegram(nil)
	// Baseline: the CRC of a telegram, the least any generator must do.
	b.Run("crc", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			dsmr.Checksum(buf)
		}
	})
	b.Run("telegram", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = m.AppendTelegram(buf[:0])
		}
	})
}
