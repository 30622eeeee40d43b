package dsmr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDSTNights reads the clock of each night the clocks change, in the
// zones of the meters the package reads, with and without the S/W letter.
func TestDSTNights(t *testing.T) {
	zone := func(name string) *time.Location {
		loc, err := LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	utc := func(s string) time.Time {
		u, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	lux, dublin, stockholm, budapest := zone(""), zone("Europe/Dublin"), zone("Europe/Stockholm"), zone("Europe/Budapest")
	tests := []struct {
		name string
		loc  *time.Location
		raw  string
		want string // UTC
		off  int    // offset shown, hours
	}{
		// Spring, Luxembourg: 02:00 CET becomes 03:00 CEST on 2024-03-31.
		{"spring, before", lux, "240331015959W", "2024-03-31 00:59:59", 1},
		{"spring, skipped hour", lux, "240331023000", "2024-03-31 01:30:00", 2},
		{"spring, skipped hour with S", lux, "240331023000S", "2024-03-31 01:30:00", 2},
		{"spring, after", lux, "240331030000S", "2024-03-31 01:00:00", 2},
		{"spring, after with a wrong W", lux, "240331030000W", "2024-03-31 01:00:00", 2},
		// Autumn, Luxembourg: 03:00 CEST becomes 02:00 CET on 2024-10-27;
		// 02:00 to 03:00 comes twice.
		{"autumn, before", lux, "241027015959S", "2024-10-26 23:59:59", 2},
		{"autumn, first pass", lux, "241027023000S", "2024-10-27 00:30:00", 2},
		{"autumn, second pass", lux, "241027023000W", "2024-10-27 01:30:00", 1},
		{"autumn, no letter: first pass", lux, "241027023000", "2024-10-27 00:30:00", 2},
		{"autumn, after", lux, "241027030000W", "2024-10-27 02:00:00", 1},
		{"autumn, after with a wrong S", lux, "241027030000S", "2024-10-27 02:00:00", 1},
		// Belgian month starts: S in winter is winter time.
		{"month start with S in winter", lux, "200301000000S", "2020-02-29 23:00:00", 1},
		{"month start with W in summer", lux, "200701000000W", "2020-06-30 22:00:00", 2},
		// Ireland: GMT and IST (+01:00), changes at 01:00 UTC.
		{"Dublin winter", dublin, "240115120000W", "2024-01-15 12:00:00", 0},
		{"Dublin summer", dublin, "240715120000S", "2024-07-15 11:00:00", 1},
		{"Dublin spring, skipped hour", dublin, "240331013000", "2024-03-31 01:30:00", 1},
		{"Dublin autumn, first pass", dublin, "241027013000S", "2024-10-27 00:30:00", 1},
		{"Dublin autumn, second pass", dublin, "241027013000W", "2024-10-27 01:30:00", 0},
		// Sweden and Hungary keep the rules of Luxembourg.
		{"Stockholm autumn, second pass", stockholm, "231029023000W", "2023-10-29 01:30:00", 1},
		{"Stockholm spring", stockholm, "230326030000S", "2023-03-26 01:00:00", 2},
		{"Budapest summer", budapest, "230724150730S", "2023-07-24 13:07:30", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := val(tc.raw).Time(tc.loc)
			if !ok || !got.Equal(utc(tc.want)) {
				t.Fatalf("Time(%s) = %v, %v; want %s UTC", tc.raw, got, ok, tc.want)
			}
			if _, off := got.Zone(); off != tc.off*3600 {
				t.Errorf("offset %d s, want %d h", off, tc.off)
			}
			if got.Location() != tc.loc {
				t.Errorf("location %v, want %v", got.Location(), tc.loc)
			}
		})
	}
}

// TestBuiltInZone checks the built-in rule of the default zone against
// the time zone database, every 5 hours of 2001 to 2069 (every hour of the
// day comes round).
func TestBuiltInZone(t *testing.T) {
	db, err := time.LoadLocation("Europe/Luxembourg")
	if err != nil {
		t.Fatal(err)
	}
	lux, _ := LoadLocation(DefaultZone)
	if lux.String() != DefaultZone {
		t.Errorf("name %q", lux)
	}
	step := 5 * time.Hour
	if testing.Short() {
		step = 7 * time.Hour
	}
	for u := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC); u.Year() < 2070; u = u.Add(step) {
		n1, o1 := u.In(db).Zone()
		n2, o2 := u.In(lux).Zone()
		if n1 != n2 || o1 != o2 {
			t.Fatalf("%v: built in %s %d, database %s %d", u, n2, o2, n1, o1)
		}
	}
	if _, err := LoadLocation("Europe/Nowhere"); err == nil || !strings.HasPrefix(err.Error(), "dsmr: ") {
		t.Errorf("LoadLocation(Europe/Nowhere) = %v", err)
	}
	if _, err := LoadLocation("Local"); err == nil {
		t.Errorf("LoadLocation(Local) accepted")
	}
}

// TestTelegramLocation: the telegram's zone reaches Time, MBus and the
// power-failure log, and Clone keeps it.
func TestTelegramLocation(t *testing.T) {
	dublin, err := LoadLocation("Europe/Dublin")
	if err != nil {
		t.Fatal(err)
	}
	tg := &Telegram{Location: dublin}
	in := withCRC(hdr + lines("0-0:1.0.0(240115120000W)", "0-1:24.1.0(003)", "0-1:24.2.1(240115115500W)(00012.345*m3)",
		"1-0:99.97.0(1)(0-0:96.7.19)(240110080000W)(0000000060*s)"))
	if err := tg.UnmarshalText([]byte(in)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Telegram{tg, tg.Clone()} {
		now, _ := c.Time()
		gas := c.MBus()[0].Time
		log, _ := c.PowerFailures()
		for _, tm := range []time.Time{now, gas, log[0].End} {
			if tm.Location() != dublin || tm.Hour() != tm.UTC().Hour() {
				t.Errorf("%v is not Dublin's winter time", tm)
			}
		}
	}
}

// t210 is the Austrian Sagemcom T210-D telegram of dsmr_parser's tests:
// energy in Wh, power in W, reactive energy in varh.
const t210 = "/EST5\\253710000_A\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(221006155014S)\r\n" +
	"1-0:1.8.0(006545766*Wh)\r\n1-0:1.8.1(005017120*Wh)\r\n1-0:1.8.2(001528646*Wh)\r\n1-0:1.7.0(000000286*W)\r\n" +
	"1-0:2.8.0(000000058*Wh)\r\n1-0:2.8.1(000000000*Wh)\r\n1-0:2.8.2(000000058*Wh)\r\n1-0:2.7.0(000000000*W)\r\n" +
	"1-0:3.8.0(000000747*varh)\r\n1-0:3.8.1(000000000*varh)\r\n1-0:3.8.2(000000747*varh)\r\n1-0:3.7.0(000000000*var)\r\n" +
	"1-0:4.8.0(003897726*varh)\r\n1-0:4.8.1(002692848*varh)\r\n1-0:4.8.2(001204878*varh)\r\n1-0:4.7.0(000000166*var)\r\n!7EF9\r\n"

func TestUnits(t *testing.T) {
	parse := func(s string) *Telegram {
		tg, err := Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	aut := parse(t210)
	check := func(name string, got float64, ok bool, want float64) {
		t.Helper()
		if !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", name, got, ok, want)
		}
	}
	kWh, ok := aut.EnergyImport()
	check("T210-D EnergyImport", kWh, ok, 6545.766)
	kWh, ok = aut.EnergyExport()
	check("T210-D EnergyExport", kWh, ok, 0.058)
	kW, ok := aut.PowerImport()
	check("T210-D PowerImport", kW, ok, 0.286)
	kW, ok = aut.NetPower()
	check("T210-D NetPower", kW, ok, 0.286)
	if d, u, ok := aut.Decimal(OBIS{1, 0, 4, 8, 0}); !ok || d.String() != "3897726" || u != "varh" {
		t.Errorf("4.8.0 = %v %q %v", d, u, ok)
	}
	if d, ok := aut.quantity(OBIS{1, 0, 4, 8, 0}, "kvarh"); !ok || d.String() != "3897.726" {
		t.Errorf("4.8.0 in kvarh = %v %v", d, ok)
	}
	if _, ok := aut.quantity(OBIS{1, 0, 4, 8, 0}, "kWh"); ok {
		t.Errorf("varh converted to kWh")
	}

	// Tariffs 1 to 4, under channel 1, without units: the catalogue's.
	ch1 := parse(withCRC(hdr + lines("1-1:1.8.1(000001.500)", "1-1:1.8.2(000002.000*kWh)", "1-1:1.8.3(000500*Wh)",
		"1-1:1.8.4(0.000001*MWh)", "1-1:1.7.0(1500*W)", "1-1:2.7.0(02.000*kW)", "1-1:32.7.0(230.1*V)")))
	kWh, ok = ch1.EnergyImport()
	check("1-1: EnergyImport", kWh, ok, 4.001)
	kW, ok = ch1.NetPower()
	check("1-1: NetPower", kW, ok, -0.5)
	v, ok := ch1.Voltage(1)
	check("1-1: Voltage", v, ok, 230.1)
	if _, ok := ch1.Voltage(2); ok {
		t.Errorf("Voltage(2) found")
	}
	if info, ok := Lookup(OBIS{1, 1, 1, 8, 1}); !ok || info.Unit != "kWh" {
		t.Errorf("Lookup(1-1:1.8.1) = %+v, %v", info, ok)
	}
	if _, ok := parse(withCRC(hdr + lines("1-0:1.8.0(1*m3)"))).EnergyImport(); ok {
		t.Errorf("m3 taken for kWh")
	}
	if _, ok := parse(withCRC(hdr + lines("0-0:96.14.0(0001)"))).NetPower(); ok {
		t.Errorf("NetPower without power registers")
	}

	// Telegram.Unit: counts have none, M-Bus readings by device type.
	tg := parse(withCRC(hdr + lines(
		"0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)",
		"0-0:98.1.0(0)(1-0:1.6.0)(1-0:1.6.0)",
		"1-0:1.6.0(200509134558S)(02.589)",
		"0-1:24.1.0(003)", "0-1:24.2.1(200512134558S)(00112.384)",
		"0-2:24.2.1(200512134558S)(00872.234)",
		"0-3:24.1.0(004)", "0-3:24.2.1(200512134558S)(00001.234)",
		"0-4:24.1.0(002)", "0-4:24.2.1(632525252525S)(00000.000)",
		"0-0:96.7.21(00005)", "1-0:13.7.0(0.998)", "1-0:14.7.0(50.01)")))
	wantUnits := []string{"kW", "", "kW", "", "m3", "", "", "GJ", "", "", "", "", "Hz"}
	for k, o := range tg.Objects() {
		if u := tg.Unit(&tg.Objects()[k]); u != wantUnits[k] {
			t.Errorf("Unit(%v) = %q, want %q", o.OBIS, u, wantUnits[k])
		}
	}
	devs := tg.MBus()
	for _, want := range []struct {
		ch   int
		unit string
	}{{1, "m3"}, {2, ""}, {3, "GJ"}, {4, ""}} {
		if d := devs[want.ch-1]; d.Unit != want.unit || !d.HasReading {
			t.Errorf("channel %d: %+v, want unit %q", want.ch, d, want.unit)
		}
	}
	if !devs[3].Time.IsZero() {
		t.Errorf("channel 4 read at %v, want no time", devs[3].Time)
	}
}

func TestMeterIDSources(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{[]string{"0-0:42.0.0(53414733303832323030303032313630)", "0-0:96.1.0(383930303832323030303032313630)"}, "SAG3082200002160"},
		{[]string{"0-0:96.1.0(383930303832323030303032313630)"}, "890082200002160"},
		{[]string{"0-0:96.1.1(4B384547303034303436333935353037)"}, "K8EG004046395507"},
		{[]string{"0-0:96.1.0(09610)"}, "09610"},
		{[]string{"1-0:1.8.0(1*kWh)"}, ""},
	}
	for _, tc := range tests {
		tg, err := Parse([]byte(withCRC(hdr + lines(tc.lines...))))
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.MeterID(); got != tc.want {
			t.Errorf("%v: MeterID() = %q, want %q", tc.lines, got, tc.want)
		}
	}
}

// TestLineErrors: a telegram whose CRC verifies is kept without the lines
// that do not parse; without a CRC, or with a wrong one, nothing changes.
func TestLineErrors(t *testing.T) {
	good := "1-0:1.8.0(000001.000*kWh)"
	tests := []struct {
		name    string
		in      string
		wantErr error
		objects int
		skipped []LineError
	}{
		{"one bad line", withCRC(hdr + lines(good, "1-0:2.8.0(1", "1-0:1.7.0(00.100*kW)")), nil, 2,
			[]LineError{{Line: 4, Offset: 48, Text: "1-0:2.8.0(1"}}},
		{"bad first line", withCRC(hdr + lines("1-0:1.8(1)", good)), nil, 1,
			[]LineError{{Line: 3, Offset: 21, Text: "1-0:1.8(1)"}}},
		{"text after a value, and a line that continues it", withCRC(hdr + lines(good, "0-1:24.3.0(1)(m3)x", "(00001.001)", "(2)", good)), nil, 2,
			[]LineError{{Line: 4, Text: "0-1:24.3.0(1)(m3)x"}, {Line: 5, Text: "(00001.001)"}, {Line: 6, Text: "(2)"}}},
		{"unknown line form", withCRC(hdr + lines(good, "1-0:0.0.0*255(123)", "F.F(00)", good)), nil, 2,
			[]LineError{{Line: 4, Text: "1-0:0.0.0*255(123)"}, {Line: 5, Text: "F.F(00)"}}},
		{"only bad lines", withCRC(hdr + lines("x", "y")), ErrSyntax, 0, nil},
		{"no CRC", hdr + lines(good, "1-0:2.8.0(1") + "!\r\n", ErrSyntax, 0, nil},
		{"wrong CRC", strings.Replace(withCRC(hdr+lines(good, "1-0:2.8.0(1")), "!", "\r\n1-0:1.8.0(2)\r\n!", 1), ErrSyntax, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Parse error %v, want %v", err, tc.wantErr)
			}
			checkAgainstReference(t, []byte(tc.in))
			if n := len(tg.Objects()); n != tc.objects {
				t.Errorf("%d objects, want %d", n, tc.objects)
			}
			if tg.CRCOK() != (err == nil) {
				t.Errorf("CRCOK() = %v with error %v: the lines left out must not spoil it", tg.CRCOK(), err)
			}
			got := tg.LineErrors()
			if len(got) != len(tc.skipped) {
				t.Fatalf("LineErrors() = %+v, want %+v", got, tc.skipped)
			}
			for k, e := range got {
				w := tc.skipped[k]
				if e.Line != w.Line || e.Text != w.Text || w.Offset != 0 && e.Offset != w.Offset || e.Msg == "" {
					t.Errorf("line error %d = %+v, want %+v", k, e, w)
				}
				if tc.in[e.Offset:e.Offset+len(e.Text)] != e.Text {
					t.Errorf("offset %d does not point at %q", e.Offset, e.Text)
				}
				if !strings.HasPrefix(e.Error(), "dsmr: line ") {
					t.Errorf("Error() = %q", e.Error())
				}
			}
			if err == nil {
				if again := tg.Clone(); len(again.LineErrors()) != len(got) {
					t.Errorf("the clone has %d line errors", len(again.LineErrors()))
				}
			}
		})
	}
	// Reuse forgets the line errors of the telegram before.
	var tg Telegram
	_ = tg.UnmarshalText([]byte(tests[0].in))
	if err := tg.UnmarshalText([]byte(withCRC(hdr + lines(good)))); err != nil || tg.LineErrors() != nil {
		t.Errorf("after a good telegram: %v, %v", err, tg.LineErrors())
	}
}

// TestLineErrorsLinear: many bad lines cost time in proportion to their
// number (the count of lines looked at, not a clock).
func TestLineErrorsLinear(t *testing.T) {
	body := hdr + strings.Repeat("1-0:1.8(1)\r\n(2)\r\nx\r\n", 20000) + lines("1-0:1.8.0(1*kWh)")
	tg, err := Parse([]byte(withCRC(body)))
	if err != nil || len(tg.Objects()) != 1 || len(tg.LineErrors()) != 60000 {
		t.Fatalf("%v, %d objects, %d line errors", err, len(tg.Objects()), len(tg.LineErrors()))
	}
	if last := tg.LineErrors()[59999]; last.Line != 60002 || last.Text != "x" {
		t.Errorf("last line error %+v", last)
	}
}

// refWallTime is the rule of Value.Time asked of the time package at
// every step, as the package did before it cached the zone's offsets per
// year: TestZoneCache holds the two together.
func refWallTime(year int, month time.Month, day, hour, min, sec int, letter byte, loc *time.Location) time.Time {
	naive := time.Date(year, month, day, hour, min, sec, 0, time.UTC)
	_, before := naive.Add(-24 * time.Hour).In(loc).Zone()
	_, after := naive.Add(24 * time.Hour).In(loc).Zone()
	at := func(off int) (time.Time, bool) {
		t := naive.Add(-time.Duration(off) * time.Second)
		_, o := t.In(loc).Zone()
		return t, o == off
	}
	tb, okBefore := at(before)
	if before == after {
		return tb.In(loc)
	}
	ta, okAfter := at(after)
	switch {
	case okBefore && okAfter:
		first, second := tb, ta
		if second.Before(first) {
			first, second = second, first
		}
		if letter == 'W' {
			return second.In(loc)
		}
		return first.In(loc)
	case okAfter:
		return ta.In(loc)
	}
	return tb.In(loc)
}

// TestZoneCache checks Value.Time and Value.AppendTime, which read the
// zone's offsets from a cache per year, against the time package asked
// directly: every 10 minutes of the nights around each change of the
// clocks and every 7 hours of the years between, with S, W and no
// letter, in zones with summer time in the north and the south, without
// it, and with a half-hour offset.
func TestZoneCache(t *testing.T) {
	var locs []*time.Location
	for _, name := range []string{"", "Europe/Dublin", "Europe/Stockholm", "Australia/Sydney", "America/Santiago", "Asia/Kolkata", "UTC"} {
		loc, err := LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	years := []int{2001, 2020, 2024, 2025, 2069}
	if testing.Short() {
		years = years[1:3]
	}
	check := func(loc *time.Location, wall time.Time, letter byte) {
		t.Helper()
		raw := wall.Format("060102150405")
		if letter != 0 {
			raw += string(letter)
		}
		v := val(raw)
		want := refWallTime(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), letter, loc)
		got, ok := v.Time(loc)
		if !ok || !got.Equal(want) || got.Location() != loc {
			t.Fatalf("%s in %s: Time = %v, %v; want %v", raw, loc, got, ok, want)
		}
		text, ok := v.AppendTime([]byte("x"), loc)
		if w := want.AppendFormat([]byte("x"), time.RFC3339); !ok || string(text) != string(w) {
			t.Fatalf("%s in %s: AppendTime = %q, %v; want %q", raw, loc, text, ok, w)
		}
	}
	for _, loc := range locs {
		for _, y := range years {
			for wall := time.Date(y, 1, 1, 0, 3, 7, 0, time.UTC); wall.Year() == y; wall = wall.Add(7 * time.Hour) {
				check(loc, wall, 'S')
			}
			// The nights around each change: where the offset a day
			// earlier differs.
			for day := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() == y; day = day.AddDate(0, 0, 1) {
				_, a := day.Add(-12 * time.Hour).In(loc).Zone()
				_, b := day.Add(36 * time.Hour).In(loc).Zone()
				if a == b {
					continue
				}
				for wall := day.Add(-2 * time.Hour); wall.Before(day.Add(30 * time.Hour)); wall = wall.Add(10 * time.Minute) {
					for _, letter := range []byte{0, 'S', 'W'} {
						check(loc, wall, letter)
					}
				}
			}
		}
	}
	if _, ok := val("000101010000W").AppendTime(nil, nil); ok {
		t.Errorf("AppendTime of a placeholder succeeded")
	}
	if _, ok := val("6.695*kWh").AppendTime(nil, nil); ok {
		t.Errorf("AppendTime of a number succeeded")
	}
}
