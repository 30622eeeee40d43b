package sim

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Luxembourg, to check the profile's clock against

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

var (
	cet  = time.FixedZone("CET", 1*60*60)
	cest = time.FixedZone("CEST", 2*60*60)
)

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name, in string
		err      string            // a part of the error, "" for none
		power    map[string]string // RFC 3339 time -> kW
	}{{
		name: "daily",
		in:   "time,kW\n# night\n00:00,0.25\n12:30,-1.5\n\n07:15:30,2\n",
		power: map[string]string{
			"2025-06-02T00:00:00+02:00": "0.25",
			"2025-06-02T07:15:29+02:00": "0.25",
			"2025-06-02T07:15:30+02:00": "2",
			"2025-06-02T12:29:59+02:00": "2",
			"2025-06-02T12:30:00+02:00": "-1.5",
			"2025-06-03T06:00:00+02:00": "0.25",
			"2025-01-02T12:30:00+01:00": "-1.5", // local noon in winter too
			"2025-01-02T12:29:00+01:00": "2",
		},
	}, {
		name: "daily, no point at midnight",
		in:   "08:00,1\n20:00,2\n",
		power: map[string]string{
			"2025-06-02T03:00:00+02:00": "2", // the day before's last point
			"2025-06-02T08:00:00+02:00": "1",
		},
	}, {
		name: "absolute",
		in:   "2025-06-02T12:00:00+02:00, 3\n2025-06-02T11:00:00+02:00,1\n",
		power: map[string]string{
			"2025-06-02T10:59:59+02:00": "0",
			"2025-06-02T11:00:00+02:00": "1",
			"2025-06-02T12:00:00+02:00": "3",
			"2026-06-02T12:00:00+02:00": "3",
		},
	}, {
		name: "no line", in: "time,kw\n# nothing\n", err: "no line",
	}, {
		name: "no comma", in: "12:00 3\n", err: "line 1",
	}, {
		name: "bad time", in: "00:00,1\n25:00,3\n", err: "line 2: \"25:00\" is neither",
	}, {
		name: "bad power", in: "12:00,three\n", err: "\"three\" is not a power",
	}, {
		name: "mixed", in: "12:00,1\n2025-06-02T12:00:00+02:00,2\n", err: "mixed",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProfile(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "sim: ") {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for when, want := range tc.power {
				tm, _ := time.Parse(time.RFC3339, when)
				if got := p.Power(tm); formatKW(got) != want {
					t.Errorf("%s: %s kW, want %s", when, formatKW(got), want)
				}
			}
		})
	}
}

func formatKW(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestNamedProfile(t *testing.T) {
	p, err := NamedProfile("cooker+car+heatpump+solar")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		when time.Time
		kW   float64
	}{
		{time.Date(2025, 6, 2, 9, 0, 0, 0, cest), 0.3},
		{time.Date(2025, 6, 2, 9, 5, 0, 0, cest), 2.3},     // heat pump
		{time.Date(2025, 6, 2, 9, 25, 0, 0, cest), 0.3},    // ... off
		{time.Date(2025, 6, 2, 10, 0, 0, 0, cest), -3.2},   // solar
		{time.Date(2025, 6, 2, 10, 5, 0, 0, cest), -1.2},   // solar and heat pump
		{time.Date(2025, 6, 2, 11, 55, 0, 0, cest), -0.2},  // solar and cooker
		{time.Date(2025, 6, 2, 12, 10, 0, 0, cest), 1.8},   // ... and heat pump
		{time.Date(2025, 6, 2, 23, 0, 0, 0, cest), 7.7},    // car
		{time.Date(2025, 6, 2, 23, 10, 0, 0, cest), 9.7},   // car and heat pump
		{time.Date(2025, 6, 3, 2, 39, 59, 0, cest), 7.7},   // past midnight
		{time.Date(2025, 6, 3, 2, 40, 0, 0, cest), 0.3},    // car done
		{time.Date(2025, 10, 26, 11, 55, 0, 0, cet), -0.2}, // local time after the change
		{time.Date(2025, 10, 26, 2, 10, 0, 0, cest), 9.7},  // the hour that comes twice: the first time
		{time.Date(2025, 10, 26, 2, 10, 0, 0, cet), 0.3},   // ... the car stopped at the first 02:40
		{time.Date(2025, 3, 30, 1, 59, 59, 0, cet), 7.7},   // before the skipped hour
		{time.Date(2025, 3, 30, 3, 0, 0, 0, cest), 0.3},    // 02:05, 02:25 and 02:40 all happen at 03:00
		{time.Date(2025, 3, 30, 3, 5, 0, 0, cest), 2.3},
	}
	for _, tc := range tests {
		if got := p.Power(tc.when); formatKW(got) != formatKW(tc.kW) {
			t.Errorf("%s: %v kW, want %v", tc.when.Format(time.RFC3339), got, tc.kW)
		}
	}
	for _, name := range []string{"base", "cooker", "Car", "heatpump+solar", "base+cooker"} {
		if _, err := NamedProfile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NamedProfile("cooker+sauna"); err == nil || !strings.Contains(err.Error(), `"sauna"`) || !strings.Contains(err.Error(), "heatpump") {
		t.Errorf("unknown pattern: %v", err)
	}
}

func TestProfileEnergy(t *testing.T) {
	cooker, _ := NamedProfile("cooker")
	solar, _ := NamedProfile("solar")
	day := func(y int, m time.Month, d int, z *time.Location) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, z) }
	tests := []struct {
		name     string
		p        *Profile
		from, to time.Time
		imp, exp float64
	}{
		// 0.3 × 5/60 + 3.3 × 10/60
		{"cooker starts", cooker, time.Date(2025, 6, 2, 11, 45, 0, 0, cest), time.Date(2025, 6, 2, 12, 0, 0, 0, cest), 0.575, 0},
		{"cooker on", cooker, time.Date(2025, 6, 2, 12, 0, 0, 0, cest), time.Date(2025, 6, 2, 12, 15, 0, 0, cest), 0.825, 0},
		// 0.3 × 24 + 3 × 0.75
		{"a day", cooker, day(2025, 6, 2, cest), day(2025, 6, 3, cest), 9.45, 0},
		// 25 hours
		{"the long day", cooker, day(2025, 10, 26, cest), day(2025, 10, 27, cet), 9.75, 0},
		// 23 hours
		{"the short day", cooker, day(2025, 3, 30, cet), day(2025, 3, 31, cest), 9.15, 0},
		{"solar", solar, time.Date(2025, 6, 2, 10, 0, 0, 0, cest), time.Date(2025, 6, 2, 11, 0, 0, 0, cest), 0, 3.2},
		{"solar ends", solar, time.Date(2025, 6, 2, 15, 30, 0, 0, cest), time.Date(2025, 6, 2, 16, 30, 0, 0, cest), 0.15, 1.6},
		{"empty", solar, time.Date(2025, 6, 2, 15, 30, 0, 0, cest), time.Date(2025, 6, 2, 15, 30, 0, 0, cest), 0, 0},
	}
	for _, tc := range tests {
		imp, exp := tc.p.Energy(tc.from, tc.to)
		if math.Abs(imp-tc.imp) > 1e-12 || math.Abs(exp-tc.exp) > 1e-12 {
			t.Errorf("%s: %v kWh in, %v kWh out; want %v, %v", tc.name, imp, exp, tc.imp, tc.exp)
		}
	}
	// Integrals of adjacent spans add up exactly.
	all, _ := NamedProfile("cooker+car+heatpump+solar")
	a := time.Date(2025, 10, 25, 21, 3, 7, 0, cest)
	b, c := a.Add(5*time.Hour+17*time.Second), a.Add(29*time.Hour+3*time.Millisecond)
	i1, e1 := all.energy(a, b)
	i2, e2 := all.energy(b, c)
	i, e := all.energy(a, c)
	if i1+i2 != i || e1+e2 != e {
		t.Errorf("%d + %d != %d or %d + %d != %d", i1, i2, i, e1, e2, e)
	}
}

// TestMeterProfile: the telegrams of a meter that follows a profile show
// its power, and registers that are its integral rounded down to the watt-hour.
func TestMeterProfile(t *testing.T) {
	p, err := NamedProfile("cooker+solar+heatpump")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 6, 2, 11, 40, 0, 0, cest)
	m := New(Config{Seed: 4, Start: start, Step: 10 * time.Second, Profile: p})
	var tg dsmr.Telegram
	var imp0, exp0 int64
	for k := range 6 * 60 {
		now := start.Add(time.Duration(k) * 10 * time.Second)
		if err := tg.UnmarshalText(m.AppendTelegram(nil)); err != nil {
			t.Fatal(err)
		}
		imp, _ := tg.EnergyImport()
		exp, _ := tg.EnergyExport()
		impWh, expWh := int64(math.Round(imp*1000)), int64(math.Round(exp*1000))
		if k == 0 {
			imp0, exp0 = impWh, expWh
		}
		wantImp, wantExp := p.energy(start, now)
		if impWh != imp0+wantImp/wattMicrosPerWh || expWh != exp0+wantExp/wattMicrosPerWh {
			t.Fatalf("%s: registers %d, %d Wh; want %d, %d", now.Format("15:04:05"), impWh, expWh,
				imp0+wantImp/wattMicrosPerWh, exp0+wantExp/wattMicrosPerWh)
		}
		pi, _ := tg.PowerImport()
		pe, _ := tg.PowerExport()
		if got, want := math.Round((pi-pe)*1000), p.Power(now)*1000; got != math.Round(want) {
			t.Fatalf("%s: power %v W, want %v", now.Format("15:04:05"), got, want)
		}
		var phases float64
		for ph := 1; ph <= 3; ph++ {
			i, _ := tg.PhasePowerImport(ph)
			e, _ := tg.PhasePowerExport(ph)
			phases += i - e
		}
		if math.Round(phases*1000) != math.Round(p.Power(now)*1000) {
			t.Fatalf("%s: phases add to %v kW, want %v", now.Format("15:04:05"), phases, p.Power(now))
		}
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/day.csv"
	if err := os.WriteFile(path, []byte("00:00,1\n12:00,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadProfile(path); err != nil || p.Power(time.Date(2025, 6, 2, 13, 0, 0, 0, cest)) != 2 {
		t.Errorf("file: %v", err)
	}
	if _, err := LoadProfile(dir + "/missing.csv"); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadProfile("cooker+car"); err != nil {
		t.Errorf("names: %v", err)
	}
	if _, err := LoadProfile("sauna"); err == nil {
		t.Error("no error for an unknown pattern")
	}
	bad := dir + "/bad.csv"
	os.WriteFile(bad, []byte("12:00,x\n"), 0o644)
	if _, err := LoadProfile(bad); err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Errorf("bad file: %v", err)
	}
}
