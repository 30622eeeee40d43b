package dsmr

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the real rules of Europe/Luxembourg, to check ours against
)

func val(s string) Value { return Value{raw: []byte(s)} }

func TestValueTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		raw         string
		want        time.Time // zero: no time
		zone        string
		placeholder bool
		kind        Kind
	}{
		{"180130102122W", utc(2018, 1, 30, 9, 21, 22), "CET", false, KindTime},
		{"200706104157S", utc(2020, 7, 6, 8, 41, 57), "CEST", false, KindTime},
		// The hour that occurs twice: the letter tells which.
		{"231029023015S", utc(2023, 10, 29, 0, 30, 15), "CEST", false, KindTime},
		{"231029023015W", utc(2023, 10, 29, 1, 30, 15), "CET", false, KindTime},
		// Without the letter: the first of the two, summer time.
		{"231029023015", utc(2023, 10, 29, 0, 30, 15), "CEST", false, KindTime},
		{"231029015959", utc(2023, 10, 28, 23, 59, 59), "CEST", false, KindTime},
		{"231029030000", utc(2023, 10, 29, 2, 0, 0), "CET", false, KindTime},
		// The hour skipped in March: read with winter time's offset, the
		// instant shown in summer time (02:30+01:00 is 03:30+02:00).
		{"230326023000", utc(2023, 3, 26, 1, 30, 0), "CEST", false, KindTime},
		{"230326015959", utc(2023, 3, 26, 0, 59, 59), "CET", false, KindTime},
		{"230326030000", utc(2023, 3, 26, 1, 0, 0), "CEST", false, KindTime},
		{"230614120000", utc(2023, 6, 14, 10, 0, 0), "CEST", false, KindTime},
		{"230115120000", utc(2023, 1, 15, 11, 0, 0), "CET", false, KindTime},
		{"090212160000", utc(2009, 2, 12, 15, 0, 0), "CET", false, KindTime},
		// The calendar wins over a letter that contradicts it: Belgian
		// meters stamp the start of a month with S in winter, and a W
		// in summer is read as summer time too.
		{"230115120000S", utc(2023, 1, 15, 11, 0, 0), "CET", false, KindTime},
		{"200301000000S", utc(2020, 2, 29, 23, 0, 0), "CET", false, KindTime},
		{"200210221500S", utc(2020, 2, 10, 21, 15, 0), "CET", false, KindTime},
		{"230614120000W", utc(2023, 6, 14, 10, 0, 0), "CEST", false, KindTime},
		// The skipped hour with a letter: the offset before it.
		{"230326023000S", utc(2023, 3, 26, 1, 30, 0), "CEST", false, KindTime},
		{"240229235959W", utc(2024, 2, 29, 22, 59, 59), "CET", false, KindTime},
		{"991231235959W", utc(2099, 12, 31, 22, 59, 59), "CET", false, KindTime},
		{"010101000000W", utc(2000, 12, 31, 23, 0, 0), "CET", false, KindTime},
		{"690101000000W", utc(2068, 12, 31, 23, 0, 0), "CET", false, KindTime},
		// Placeholders.
		{"632525252525S", time.Time{}, "", true, KindTime},
		{"632525252525W", time.Time{}, "", true, KindTime},
		{"000101010000W", time.Time{}, "", true, KindTime},
		{"000101010000S", time.Time{}, "", true, KindTime},
		{"000101000000W", time.Time{}, "", true, KindTime},
		{"000101020000S", time.Time{}, "", true, KindTime},
		{"000101010000", time.Time{}, "", true, KindTime},
		// Any time in 2000 or 1970: a clock never set.
		{"000101030000W", time.Time{}, "", true, KindTime},
		{"000101000001W", time.Time{}, "", true, KindTime},
		{"000104180320W", time.Time{}, "", true, KindTime},
		{"700101010000W", time.Time{}, "", true, KindTime},
		{"700101000000", time.Time{}, "", true, KindTime},
		{"700615120000S", time.Time{}, "", true, KindTime},
		{"000000000000W", time.Time{}, "", true, KindTime},
		{"000000000000", time.Time{}, "", true, KindTime},
		{"230229120000W", time.Time{}, "", true, KindTime}, // no 29 February in 2023
		{"230431120000S", time.Time{}, "", true, KindTime},
		{"231301000000W", time.Time{}, "", true, KindTime},
		{"230101240000W", time.Time{}, "", true, KindTime},
		{"230101006000W", time.Time{}, "", true, KindTime},
		{"230101000060W", time.Time{}, "", true, KindTime},
		// Not timestamps.
		{"999999999999", time.Time{}, "", false, KindNumber},
		{"632525252525", time.Time{}, "", false, KindNumber},
		{"23061412000X", time.Time{}, "", false, KindString},
		{"2306141200000W", time.Time{}, "", false, KindString},
		{"23061412000W", time.Time{}, "", false, KindString},
		{"2306141200-0W", time.Time{}, "", false, KindString},
		{"23061412000", time.Time{}, "", false, KindNumber},
		{"", time.Time{}, "", false, KindEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			v := val(tc.raw)
			got, ok := v.Time(nil)
			if ok != !tc.want.IsZero() || ok && !got.Equal(tc.want) {
				t.Errorf("Time() = %v, %v; want %v", got, ok, tc.want)
			}
			if zone, _ := got.Zone(); ok && zone != tc.zone {
				t.Errorf("zone %q, want %q", zone, tc.zone)
			}
			if !ok && !got.IsZero() {
				t.Errorf("Time() = %v with ok false, want the zero time", got)
			}
			if p := v.IsPlaceholder(); p != tc.placeholder {
				t.Errorf("IsPlaceholder() = %v", p)
			}
			if k := v.Kind(); k != tc.kind {
				t.Errorf("Kind() = %v, want %v", k, tc.kind)
			}
		})
	}
}

// TestSummerTimeRule compares the local-time rule Value.Time uses when the
// letter is missing with the time zone database's Europe/Luxembourg, for
// every 4 h 59 min of 2001 to 2069 (2000 and 2070 are placeholders) outside the hours that are ambiguous
// or skipped, and checks that S and W always give UTC+2 and UTC+1.
func TestSummerTimeRule(t *testing.T) {
	lux, err := time.LoadLocation("Europe/Luxembourg")
	if err != nil {
		t.Fatal(err)
	}
	step := 4*time.Hour + 59*time.Minute // every minute and hour comes round
	if testing.Short() {
		step = 7*time.Hour + time.Minute
	}
	end := time.Date(2069, 12, 31, 22, 0, 0, 0, time.UTC) // 2070: YY 70 is a placeholder
	for u := time.Date(2001, 1, 1, 3, 0, 0, 0, time.UTC); u.Before(end); u = u.Add(step) {
		local := u.In(lux)
		// Skip the hour that occurs twice (its second pass: local time
		// repeats the hour before) and the hour after each change.
		if _, off := local.Add(-time.Hour).Zone(); off != func() int { _, o := local.Zone(); return o }() {
			continue
		}
		if _, off := local.Add(time.Hour).Zone(); off != func() int { _, o := local.Zone(); return o }() {
			continue
		}
		digits := local.Format("060102150405")
		got, ok := val(digits).Time(nil)
		if !ok || !got.Equal(u) {
			t.Fatalf("%s (Europe/Luxembourg %v) gave %v, %v; want %v", digits, local, got, ok, u)
		}
		_, off := local.Zone()
		letter := "W"
		if off == 7200 {
			letter = "S"
		}
		if got, _ := val(digits + letter).Time(nil); !got.Equal(u) {
			t.Fatalf("%s%s gave %v, want %v", digits, letter, got, u)
		}
	}
}

func TestValueDecimal(t *testing.T) {
	tests := []struct {
		raw  string
		want Decimal
		unit string
		ok   bool
	}{
		{"000006.695*kWh", Decimal{6695, 3}, "kWh", true},
		{"00.000*kW", Decimal{0, 3}, "kW", true},
		{"233.0*V", Decimal{2330, 1}, "V", true},
		{"000*A", Decimal{0, 0}, "A", true},
		{"-063*A", Decimal{-63, 0}, "A", true},
		{"+12.5*kW", Decimal{125, 1}, "kW", true},
		{"00.000", Decimal{0, 3}, "", true},
		{"77.376", Decimal{77376, 3}, "", true},
		{"00099", Decimal{99, 0}, "", true},
		{"00000.006*m3", Decimal{6, 3}, "m3", true},
		{"001.234*GJ", Decimal{1234, 3}, "GJ", true},
		{"0000002936*s", Decimal{2936, 0}, "s", true},
		{"1*foo", Decimal{1, 0}, "foo", true},
		{"123456789012345678", Decimal{123456789012345678, 0}, "", true},
		{"0.00000000000000001", Decimal{1, 17}, "", true},
		{"1234567890123456789", Decimal{}, "", false}, // 19 digits
		{"0001234567890123456789", Decimal{}, "", false},
		{"000123456789012345678", Decimal{123456789012345678, 0}, "", true},
		{"0.000000000000000001", Decimal{1, 18}, "", true},
		{"0.0000000000000000001", Decimal{}, "", false}, // 19 decimals
		{"", Decimal{}, "", false},
		{"-", Decimal{}, "", false},
		{"1.", Decimal{}, "", false},
		{".5", Decimal{5, 1}, "", true},
		{"1.2.3", Decimal{}, "", false},
		{"1*", Decimal{}, "", false},
		{"1*k W", Decimal{}, "", false},
		{"1 *kW", Decimal{}, "", false},
		{"1e3", Decimal{}, "", false},
		{"0x10", Decimal{}, "", false},
		{"53414731303330373030313134303034", Decimal{}, "", false},
		{"0-0:96.7.19", Decimal{}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			v := val(tc.raw)
			d, unit, ok := v.Decimal()
			if ok != tc.ok || d != tc.want || unit != tc.unit {
				t.Errorf("Decimal() = %v %q %v, want %v %q %v", d, unit, ok, tc.want, tc.unit, tc.ok)
			}
			if ok && d.Float64() != tc.want.Float64() {
				t.Errorf("Float64() = %v", d.Float64())
			}
			if ok && v.Kind() != KindNumber {
				t.Errorf("Kind() = %v, want number", v.Kind())
			}
		})
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		d    Decimal
		want string
		f    float64
	}{
		{Decimal{6695, 3}, "6.695", 6.695},
		{Decimal{0, 3}, "0.000", 0},
		{Decimal{-63, 0}, "-63", -63},
		{Decimal{2330, 1}, "233.0", 233},
		{Decimal{7, 3}, "0.007", 0.007},
		{Decimal{-7, 3}, "-0.007", -0.007},
		{Decimal{25653, 3}, "25.653", 25.653},
		{Decimal{1, 18}, "0.000000000000000001", 1e-18},
		{Decimal{1, 25}, "0.0000000000000000000000001", 1e-25},
		{Decimal{math.MaxInt64, 0}, "9223372036854775807", 9223372036854775807},
		{Decimal{math.MinInt64, 0}, "-9223372036854775808", -9223372036854775808},
		{Decimal{math.MaxInt64, 3}, "9223372036854775.807", 9223372036854775.807},
		{Decimal{1<<53 + 1, 0}, "9007199254740993", 9007199254740992},
		{Decimal{}, "0", 0},
	}
	for _, tc := range tests {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.d, got, tc.want)
		}
		if got, _ := tc.d.MarshalText(); string(got) != tc.want {
			t.Errorf("%#v.MarshalText() = %q", tc.d, got)
		}
		if got, _ := tc.d.MarshalJSON(); string(got) != tc.want {
			t.Errorf("%#v.MarshalJSON() = %q", tc.d, got)
		}
		if got := tc.d.Float64(); got != tc.f {
			t.Errorf("%#v.Float64() = %v, want %v", tc.d, got, tc.f)
		}
	}
	// Float64 is the float nearest to the decimal: the same as
	// strconv.ParseFloat of its text, and String reads back as itself.
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		d := Decimal{Coef: r.Int64N(1e18) - 5e17, Scale: uint8(r.IntN(19))}
		if r.IntN(2) == 0 {
			d.Coef = r.Int64N(1e7)
		}
		s := d.String()
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Float64(); got != want {
			t.Fatalf("%#v.Float64() = %v, want %v (%s)", d, got, want, s)
		}
		back, _, ok := parseNumber([]byte(s))
		if !ok || back != d {
			t.Fatalf("%#v: String %q reads back as %#v, %v", d, s, back, ok)
		}
	}
}

func TestValueText(t *testing.T) {
	tests := []struct {
		raw  string
		want string
		ok   bool
	}{
		{"53414731303330373030313134303034", "SAG1030700114004", true},
		{"464c4f313839393030303630333535", "FLO189900060355", true},
		{"436F757075726520707267726D6DC3A965", "Coupure prgrmmée", true}, // UTF-8
		{"4C696E6520310D0A4C696E652032", "Line 1\r\nLine 2", true},
		{"", "", false},
		{"414", "", false},
		{"4G", "", false},
		{"00", "", false},   // NUL
		{"7F", "", false},   // DEL
		{"C3", "", false},   // not UTF-8
		{"E9", "", false},   // Latin-1, not UTF-8
		{"1B5B", "", false}, // ESC
	}
	for _, tc := range tests {
		got, ok := val(tc.raw).Text()
		if got != tc.want || ok != tc.ok {
			t.Errorf("Text(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
		// AppendText: the same text after what dst holds; dst's bytes
		// alone when the value is not text.
		for _, prefix := range []string{"", "key="} {
			dst := append(make([]byte, 0, len(prefix)+1), prefix...)
			b, err := val(tc.raw).AppendText(dst)
			ok := err == nil
			want := prefix
			if tc.ok {
				want += tc.want
			}
			if string(b) != want || ok != tc.ok {
				t.Errorf("AppendText(%q, %q) = %q, %v; want %q, %v", prefix, tc.raw, b, ok, want, tc.ok)
			}
		}
	}
	// A message of 1024 hex digits, the longest a meter sends.
	long := make([]byte, 1024)
	for i := range long {
		long[i] = "4142"[i%4]
	}
	if s, ok := val(string(long)).Text(); !ok || len(s) != 512 || s[:4] != "ABAB" {
		t.Errorf("1024 hex digits: %d bytes, %v", len(s), ok)
	}
}

// TestValueAppendTextAllocs: with room in dst, AppendText allocates
// nothing, whether the value is text or not.
func TestValueAppendTextAllocs(t *testing.T) {
	for _, raw := range []string{"436F757075726520707267726D6DC3A965", "E9", "4G"} {
		v := val(raw)
		buf := make([]byte, 0, 64)
		allocs := testing.AllocsPerRun(100, func() {
			buf, _ = v.AppendText(buf[:0])
		})
		if allocs != 0 {
			t.Errorf("AppendText(%q) allocates %v times, want 0", raw, allocs)
		}
	}
}

func TestValueKindAndOBIS(t *testing.T) {
	tests := []struct {
		raw  string
		kind Kind
		obis string
	}{
		{"0-0:96.7.19", KindOBIS, "0-0:96.7.19"},
		{"1-0:1.6.0", KindOBIS, "1-0:1.6.0"},
		{"1-0:1.6", KindString, ""},
		{"1-0:1.6.0*255", KindString, ""},
		{"TST", KindString, ""},
		{"m3", KindString, ""},
		{"53414731303330373030313134303034", KindString, ""},
		{"42", KindNumber, ""},
		{"()", KindString, ""},
	}
	for _, tc := range tests {
		v := val(tc.raw)
		if k := v.Kind(); k != tc.kind {
			t.Errorf("Kind(%q) = %v, want %v", tc.raw, k, tc.kind)
		}
		o, ok := v.obis()
		if ok != (tc.obis != "") || ok && o.String() != tc.obis {
			t.Errorf("OBIS(%q) = %v, %v", tc.raw, o, ok)
		}
	}
	if s := Kind(200).String(); s != "Kind(200)" {
		t.Errorf("Kind(200).String() = %q", s)
	}
}

func TestOBIS(t *testing.T) {
	good := []struct {
		s    string
		want OBIS
		norm string
	}{
		{"1-0:1.8.0", OBIS{1, 0, 1, 8, 0}, "1-0:1.8.0"},
		{"0-0:96.13.0", OBIS{0, 0, 96, 13, 0}, "0-0:96.13.0"},
		{"1-0:99.97.0", OBIS{1, 0, 99, 97, 0}, "1-0:99.97.0"},
		{"255-255:255.255.255", OBIS{255, 255, 255, 255, 255}, "255-255:255.255.255"},
		{"001-000:001.008.000", OBIS{1, 0, 1, 8, 0}, "1-0:1.8.0"},
	}
	for _, tc := range good {
		o, err := ParseOBIS(tc.s)
		if err != nil || o != tc.want {
			t.Errorf("ParseOBIS(%q) = %v, %v", tc.s, o, err)
		}
		if s := o.String(); s != tc.norm {
			t.Errorf("%v.String() = %q, want %q", o, s, tc.norm)
		}
		var u OBIS
		if err := u.UnmarshalText([]byte(tc.s)); err != nil || u != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v", tc.s, u, err)
		}
		if m, _ := o.MarshalText(); string(m) != tc.norm {
			t.Errorf("MarshalText = %q", m)
		}
	}
	bad := []string{"", "1", "1-0", "1-0:1.8", "1-0:1.8.0.0", "1-0:1.8.0 ", " 1-0:1.8.0", "1-0:256.8.0",
		"1-0:1000.8.0", "1:0-1.8.0", "1-0:1-8.0", "a-0:1.8.0", "1-0:1.8.", "1-0::1.8.0", "-0:1.8.0", "1-0:1.8.0*255"}
	for _, s := range bad {
		if o, err := ParseOBIS(s); err == nil {
			t.Errorf("ParseOBIS(%q) = %v, want an error", s, o)
		} else if want := "dsmr: " + strconv.Quote(s) + " is not an OBIS code"; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("ParseOBIS(%q) error = %q", s, err)
		}
		var u OBIS
		if err := u.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", s)
		}
	}
	// Round trip over random codes.
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		o := OBIS{uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32())}
		back, err := ParseOBIS(o.String())
		if err != nil || back != o {
			t.Fatalf("%v: ParseOBIS(String()) = %v, %v", o, back, err)
		}
	}
	if got := MustParseOBIS("0-0:24.2.1").withChannel(3); got != (OBIS{0, 3, 24, 2, 1}) {
		t.Errorf("WithChannel(3) = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("MustParseOBIS of a bad code did not panic")
		}
	}()
	MustParseOBIS("1-0:1.8")
}

// FuzzAppendNumber holds Value.AppendNumber, which reads a number's text
// once, to Value.Decimal and Decimal.AppendText.
func FuzzAppendNumber(f *testing.F) {
	for _, s := range []string{"000006.695*kWh", "-063*A", ".5", "5.", "0.000", "00.000", "+5", "-0.0", "-000",
		"1.2.3", "0000000000000000000000001", "1234567890123456789", "123456789012345678", "0.1234567890123456789",
		"-", ".", "*kWh", "5*", "5*k W", "00069", "0.0000000000000000001", "180130102122W", "2.5*m3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := Value{raw: []byte(s)}
		d, unit, ok := v.Decimal()
		got, sent, ok2 := v.AppendNumber([]byte("x"))
		if ok != ok2 {
			t.Fatalf("%q: Decimal ok %v, AppendNumber ok %v", s, ok, ok2)
		}
		if !ok {
			if string(got) != "x" {
				t.Fatalf("%q: AppendNumber wrote %q for a value that is no number", s, got)
			}
			return
		}
		want, _ := d.AppendText([]byte("x"))
		if string(got) != string(want) || string(sent) != unit {
			t.Fatalf("%q: AppendNumber %q, unit %q; Decimal %q, unit %q", s, got, sent, want, unit)
		}
	})
}

// TestUnhex8 holds the eight-digit decoding of AppendText to the table,
// digit by digit, on words made mostly of hex digits and of the bytes
// next to their ranges, where a wrong bound would show.
func TestUnhex8(t *testing.T) {
	pool := []byte("0123456789abcdefABCDEF/:@G`g\x00\x1f\x7f\x80\xff 2 7 6 7 ")
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b [8]byte
		for i := range b {
			b[i] = pool[r.IntN(len(pool))]
		}
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(b[i])
		}
		got, ok := unhex8(w)
		var want uint32
		wok := true
		for i := 3; i >= 0; i-- {
			hi, lo := unhexTable[b[2*i]], unhexTable[b[2*i+1]]
			c := hi<<4 | lo
			if (hi|lo)&0xF0 != 0 || c < 0x20 || c >= 0x7F {
				wok = false
			}
			want = want<<8 | uint32(c)
		}
		if ok != wok || ok && got != want {
			t.Fatalf("unhex8(%q) = %08X, %v; want %08X, %v", b[:], got, ok, want, wok)
		}
	}
}

// TestCivilUnix holds civilUnix to the time package on every day of the
// years a meter's two digits give, and a few before.
func TestCivilUnix(t *testing.T) {
	for d := time.Date(1968, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2101; d = d.AddDate(0, 0, 1) {
		h, mi, s := d.YearDay()%24, d.YearDay()%60, 59-d.YearDay()%60
		want := time.Date(d.Year(), d.Month(), d.Day(), h, mi, s, 0, time.UTC).Unix()
		if got := civilUnix(d.Year(), int(d.Month()), d.Day(), h, mi, s); got != want {
			t.Fatalf("civilUnix(%d-%02d-%02d %02d:%02d:%02d) = %d; want %d", d.Year(), d.Month(), d.Day(), h, mi, s, got, want)
		}
	}
}
