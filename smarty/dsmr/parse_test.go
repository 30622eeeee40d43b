package dsmr

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// withCRC ends body, which must end with a line end, with "!", its CRC in
// four hex digits and CR LF.
func withCRC(body string) string {
	body += "!"
	return body + fmt.Sprintf("%04X\r\n", crcBitwise([]byte(body)))
}

// lines joins lines with CR LF, and ends the last one.
func lines(l ...string) string { return strings.Join(l, "\r\n") + "\r\n" }

const hdr = "/Lux5\\253663629_D\r\n\r\n"

func TestParseTable(t *testing.T) {
	long := strings.Repeat("41", 50_000) // 100 KB of hex text, "AAA..."
	tests := []struct {
		name    string
		in      string
		wantErr error // nil, ErrSyntax or ErrCRC
		objects int   // number of objects, when it parses
		crc     int   // -1: no CRC
		check   func(t *testing.T, tg *Telegram)
	}{
		{name: "minimal", in: withCRC(hdr + lines("1-3:0.2.8(42)")), objects: 1,
			check: func(t *testing.T, tg *Telegram) {
				if got := tg.Objects()[0].Values[0].String(); got != "42" {
					t.Errorf("value = %q", got)
				}
			}},
		{name: "no objects", in: withCRC(hdr), wantErr: ErrSyntax},
		{name: "no empty line after the header", in: withCRC("/ISk5\\2ME382-1003\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), objects: 1},
		{name: "LF line ends", in: strings.ReplaceAll(withCRC(hdr+lines("1-0:1.8.0(000006.695*kWh)")), "\r\n", "\n"), objects: 1, wantErr: ErrCRC},
		{name: "CR line ends", in: "/AB5 x\r1-0:1.8.0(1)\r!\r", objects: 1, crc: -1},
		{name: "DSMR 2.2 bare '!'", in: hdr + lines("1-0:1.8.1(00001.001*kWh)") + "!\r\n", objects: 1, crc: -1},
		{name: "bare '!' without line end", in: hdr + lines("1-0:1.8.1(1)") + "!", objects: 1, crc: -1},
		{name: "three-digit CRC", in: "/ABC5 meter\r\n\r\n" + lines("1-0:1.8.0(1)") + "!" + crcDigits("/ABC5 meter\r\n\r\n"+lines("1-0:1.8.0(1)")+"!", "%X"), objects: 1},
		{name: "lower-case CRC", in: "/ABC5 meter\r\n\r\n" + lines("1-0:1.8.0(1)") + "!" + crcDigits("/ABC5 meter\r\n\r\n"+lines("1-0:1.8.0(1)")+"!", "%04x"), objects: 1},
		{name: "trailing CR LF, spaces, tabs, NUL", in: withCRC(hdr+lines("1-0:1.8.0(1)")) + "\r\n\r\n \t\x00\x00", objects: 1},
		{name: "wrong CRC", in: hdr + lines("1-0:1.8.0(1)") + "!" + fmt.Sprintf("%04X", crcBitwise([]byte(hdr+lines("1-0:1.8.0(1)")+"!"))^0x0100) + "\r\n", wantErr: ErrCRC, objects: 1},
		{name: "two values, one negative", in: withCRC(hdr + lines("1-1:31.4.0(100*A)(-063*A)")), objects: 1,
			check: func(t *testing.T, tg *Telegram) {
				o := tg.Objects()[0]
				if len(o.Values) != 2 {
					t.Fatalf("%d values", len(o.Values))
				}
				if d, u, ok := o.Values[1].Decimal(); !ok || d != (Decimal{-63, 0}) || u != "A" {
					t.Errorf("second value = %v %q %v", d, u, ok)
				}
			}},
		{name: "continuation line", in: withCRC(hdr + lines("0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)", "(00001.001)", "0-1:24.4.0(1)")), objects: 2,
			check: func(t *testing.T, tg *Telegram) {
				if n := len(tg.Objects()[0].Values); n != 7 {
					t.Errorf("24.3.0 has %d values, want 7", n)
				}
				if n := len(tg.Objects()[1].Values); n != 1 {
					t.Errorf("24.4.0 has %d values, want 1", n)
				}
			}},
		{name: "empty values", in: withCRC(hdr + lines("0-0:96.13.0()", "0-0:96.13.2()()")), objects: 2},
		{name: "value with OBIS, colons, dots, spaces", in: withCRC(hdr + lines("1-0:99.97.0(1)(0-0:96.7.19)(a b:c.d!)")), objects: 1},
		{name: "100 KB value", in: withCRC(hdr + lines("0-0:96.13.0("+long+")")), objects: 1,
			check: func(t *testing.T, tg *Telegram) {
				s, ok := tg.Objects()[0].Values[0].Text()
				if !ok || len(s) != 50_000 || strings.Trim(s, "A") != "" {
					t.Errorf("Text() = %d bytes, %v", len(s), ok)
				}
			}},
		{name: "100 KB of groups", in: withCRC(hdr + lines("0-0:96.13.0"+strings.Repeat("()", 50_000))), objects: 1,
			check: func(t *testing.T, tg *Telegram) {
				if n := len(tg.Objects()[0].Values); n != 50_000 {
					t.Errorf("%d values", n)
				}
			}},
		{name: "100 KB line of garbage", in: hdr + lines(strings.Repeat("x", 100_000)) + "!\r\n", wantErr: ErrSyntax},
		{name: "100 KB line without ')'", in: hdr + lines("0-0:96.13.0("+long) + "!\r\n", wantErr: ErrSyntax},
		{name: "128-byte header", in: withCRC("/" + strings.Repeat("H", 128) + "\r\n\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), objects: 1},
		{name: "129-byte header", in: withCRC("/" + strings.Repeat("H", 129) + "\r\n\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), wantErr: ErrSyntax},
		{name: "100 KB header", in: withCRC("/" + strings.Repeat("H", 100_000) + "\r\n\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), wantErr: ErrSyntax},
		{name: "'/' in the header", in: withCRC("/ISk5/2\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), wantErr: ErrSyntax},
		{name: "'(' in the header", in: withCRC("/ISk5(2\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), wantErr: ErrSyntax},
		{name: "'!' in the header", in: withCRC("/ISk5!2\r\n" + lines("1-0:1.8.1(00001.001*kWh)")), wantErr: ErrSyntax},
		{name: "OBIS codes at their limits", in: withCRC(hdr + lines("255-255:255.255.255(x)", "0-0:0.0.0(y)")), objects: 2},

		{name: "empty input", in: "", wantErr: ErrSyntax},
		{name: "no '/'", in: "Lux5\r\n\r\n1-0:1.8.0(1)\r\n!\r\n", wantErr: ErrSyntax},
		{name: "leading garbage", in: "x" + withCRC(hdr), wantErr: ErrSyntax},
		{name: "header only, no line end", in: "/Lux5", wantErr: ErrSyntax},
		{name: "empty header", in: "/\r\n!\r\n", wantErr: ErrSyntax},
		{name: "non-ASCII header", in: "/Lux\xe95\r\n!\r\n", wantErr: ErrSyntax},
		{name: "missing '!'", in: hdr + lines("1-0:1.8.0(1)"), wantErr: ErrSyntax},
		{name: "cut inside a value", in: hdr + "1-0:1.8.0(00", wantErr: ErrSyntax},
		{name: "cut inside an OBIS code", in: hdr + "1-0:1.8", wantErr: ErrSyntax},
		{name: "cut after an OBIS code", in: hdr + "1-0:1.8.0", wantErr: ErrSyntax},
		{name: "cut after a value", in: hdr + "1-0:1.8.0(1)", wantErr: ErrSyntax},
		{name: "unbalanced '(' at the line end", in: hdr + lines("1-0:1.8.0(1", "1-0:2.8.0(2)") + "!\r\n", wantErr: ErrSyntax},
		{name: "'(' inside a value", in: hdr + lines("1-0:1.8.0(1(2)") + "!\r\n", wantErr: ErrSyntax},
		{name: "')' without '('", in: hdr + lines("1-0:1.8.0(1))") + "!\r\n", wantErr: ErrSyntax},
		{name: "text after a value", in: hdr + lines("1-0:1.8.0(1)x") + "!\r\n", wantErr: ErrSyntax},
		{name: "space between groups", in: hdr + lines("1-1:31.4.0(100*A) (063*A)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS code without a value", in: hdr + lines("1-0:1.8.0") + "!\r\n", wantErr: ErrSyntax},
		{name: "value without an OBIS code", in: hdr + lines("(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS group 256", in: hdr + lines("1-0:256.8.0(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS group of four digits", in: hdr + lines("1-0:0001.8.0(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS code with four groups", in: hdr + lines("1-0:1.8(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS code with six groups", in: hdr + lines("1-0:1.8.0.255(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "OBIS code with a wrong separator", in: hdr + lines("1:0-1.8.0(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "non-ASCII in a value", in: hdr + lines("0-0:96.13.0(caf\xc3\xa9)") + "!\r\n", wantErr: ErrSyntax},
		{name: "DEL in a value", in: hdr + lines("0-0:96.13.0(\x7f)") + "!\r\n", wantErr: ErrSyntax},
		{name: "tab in a value", in: hdr + lines("0-0:96.13.0(a\tb)") + "!\r\n", wantErr: ErrSyntax},
		{name: "NUL in a value", in: hdr + lines("0-0:96.13.0(a\x00b)") + "!\r\n", wantErr: ErrSyntax},
		{name: "NUL at the start of a line", in: hdr + lines("\x001-0:1.8.0(1)") + "!\r\n", wantErr: ErrSyntax},
		{name: "five hex digits after '!'", in: hdr + "!12345\r\n", wantErr: ErrSyntax},
		{name: "garbage after the CRC", in: withCRC(hdr) + "x", wantErr: ErrSyntax},
		{name: "two telegrams", in: withCRC(hdr) + withCRC(hdr), wantErr: ErrSyntax},
		{name: "line after '!'", in: hdr + "!\r\n1-0:1.8.0(1)\r\n", wantErr: ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Parse([]byte(tc.in))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tc.wantErr)
			}
			checkAgainstReference(t, []byte(tc.in))
			if errors.Is(err, ErrSyntax) {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("error %T is no *SyntaxError", err)
				}
				if len(tg.Objects()) != 0 || tg.Header() != "" || len(tg.Bytes()) != 0 {
					t.Errorf("after a syntax error the telegram is not empty: %d objects, header %q", len(tg.Objects()), tg.Header())
				}
				return
			}
			if n := len(tg.Objects()); n != tc.objects {
				t.Errorf("%d objects, want %d", n, tc.objects)
			}
			if !bytes.Equal(tg.Bytes(), []byte(tc.in)) {
				t.Errorf("Bytes() differs from the input")
			}
			if crc, ok := tg.CRC(); tc.crc == -1 && ok {
				t.Errorf("CRC() = %04X, true; want none", crc)
			} else if tc.crc != -1 && !ok {
				t.Errorf("CRC() = none")
			}
			if _, has := tg.CRC(); tg.CRCOK() != (has && err == nil) {
				t.Errorf("CRCOK() = %v with CRC() present %v and error %v", tg.CRCOK(), has, err)
			}
			for _, o := range tg.Objects() {
				if len(o.Values) == 0 {
					t.Errorf("object %v has no values", o.OBIS)
				}
			}
			if tc.check != nil {
				tc.check(t, tg)
			}
		})
	}
}

// crcDigits returns the CRC of s formatted with format.
func crcDigits(s, format string) string {
	return fmt.Sprintf(format, crcBitwise([]byte(s)))
}

// TestSyntaxErrorPosition checks that errors name the byte offset and line
// of the fault, and say what is wrong.
func TestSyntaxErrorPosition(t *testing.T) {
	real := string(readFile(t, "../../testdata/smarty-2018.txt"))
	tests := []struct {
		name       string
		in         string
		offset     int
		line       int
		msgContain string
	}{
		{"empty", "", 0, 1, "empty input"},
		{"no slash", "Lux5\r\n", 0, 1, "starts with '/'"},
		{"header not ended", "/Lux5", 5, 1, "ends in the identification line"},
		{"control byte in header", "/Lux\x015\r\n", 4, 1, "byte 0x01 in the identification line"},
		{"empty header", "/\r\n", 1, 1, "empty identification line"},
		{"missing '!'", real[:strings.Index(real, "!")], 610, 31, "without the final '!' line"},
		{"garbage line", hdr + "1-0:1.8.0(1)\r\nxyz\r\n!\r\n", 35, 4, "unexpected 'x' at the start of a line"},
		{"value first", hdr + "(1)\r\n!\r\n", 21, 3, "value without an OBIS code"},
		{"bad OBIS digit", hdr + "1-0:x.8.0(1)\r\n!\r\n", 25, 3, "unexpected 'x' in an OBIS code"},
		{"bad OBIS separator", hdr + "1-0:1-8.0(1)\r\n!\r\n", 26, 3, "where '.' belongs"},
		{"big OBIS group", hdr + "1-0:1.8.300(1)\r\n!\r\n", 21, 3, "larger than 255"},
		{"OBIS without value", hdr + "1-0:1.8.0\r\n!\r\n", 30, 3, "after the OBIS code 1-0:1.8.0"},
		{"unbalanced at line end", hdr + "1-0:1.8.0(12\r\n!\r\n", 30, 3, "the line ends at byte 33 before its ')'"},
		{"unbalanced, second '('", hdr + "1-0:1.8.0(1(2)\r\n!\r\n", 30, 3, "another '(' at byte 32"},
		{"unbalanced at the end", hdr + "1-0:1.8.0(12", 30, 3, "ends inside this value"},
		{"non-ASCII in value", hdr + "1-0:1.8.0(1\xc32)\r\n!\r\n", 32, 3, "byte 0xC3 inside a value"},
		{"text after value", hdr + "1-0:1.8.0(1)x\r\n!\r\n", 33, 3, "unexpected 'x' after a value"},
		{"after the CRC", hdr + "1-0:1.8.1(1)\r\n!ABCD\r\nx", 42, 5, "after the checksum"},
		{"LF-only lines", "/A\n\n1-0:1.8.0(1)\nx\n!\n", 17, 4, "unexpected 'x'"},
		{"CR-only lines", "/A\r\r1-0:1.8.0(1)\rx\r!\r", 17, 4, "unexpected 'x'"},
		{"in the real telegram", strings.Replace(real, "1-0:4.7.0(00.007)", "1-0:4.7.0(00.007", 1), 292, 13, "unbalanced '(': the line ends at byte 299"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SyntaxError", err)
			}
			if se.Offset != tc.offset || se.Line != tc.line {
				t.Errorf("error at byte %d line %d, want byte %d line %d: %v", se.Offset, se.Line, tc.offset, tc.line, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.msgContain) {
				t.Errorf("error %q does not say %q", msg, tc.msgContain)
			}
			want := fmt.Sprintf("dsmr: malformed telegram at byte %d (line %d): ", tc.offset, tc.line)
			if !strings.HasPrefix(msg, want) {
				t.Errorf("error %q does not start with %q", msg, want)
			}
			if !errors.Is(err, ErrSyntax) || errors.Is(err, ErrCRC) {
				t.Errorf("errors.Is(err, ErrSyntax) = false or errors.Is(err, ErrCRC) = true")
			}
		})
	}
}

func TestCRCError(t *testing.T) {
	real := readFile(t, "../../testdata/smarty-2018.txt")
	bad := bytes.Replace(real, []byte("!CFDE"), []byte("!CFDF"), 1)
	tg, err := Parse(bad)
	var ce *CRCError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want a *CRCError", err)
	}
	if ce.Sent != 0xCFDF || ce.Computed != 0xCFDE {
		t.Errorf("CRCError = %+v, want sent CFDF, computed CFDE", *ce)
	}
	if !errors.Is(err, ErrCRC) || errors.Is(err, ErrSyntax) {
		t.Errorf("errors.Is(err, ErrCRC) = false or errors.Is(err, ErrSyntax) = true")
	}
	if want := "dsmr: CRC mismatch: the telegram says CFDF but its content gives CFDE"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	// The content stays readable.
	if crc, ok := tg.CRC(); !ok || crc != 0xCFDF || tg.CRCOK() {
		t.Errorf("CRC() = %04X, %v, CRCOK() = %v; want CFDF, true, false", crc, ok, tg.CRCOK())
	}
	if got := tg.MeterID(); got != "SAG1030700114004" {
		t.Errorf("MeterID() = %q", got)
	}
	if n := len(tg.Objects()); n != 28 {
		t.Errorf("%d objects, want 28", n)
	}
}

// TestReal2018 checks the real telegram of 2018 value by value.
func TestReal2018(t *testing.T) {
	data := readFile(t, "../../testdata/smarty-2018.txt")
	tg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.Header(); got != `Lux5\253663629_D` {
		t.Errorf("Header() = %q", got)
	}
	if crc, ok := tg.CRC(); !ok || crc != 0xCFDE || !tg.CRCOK() {
		t.Errorf("CRC() = %04X, %v, CRCOK() = %v", crc, ok, tg.CRCOK())
	}
	if got := Checksum(data[:bytes.IndexByte(data, '!')+1]); got != 0xCFDE {
		t.Errorf("Checksum = %04X, want CFDE", got)
	}
	if !bytes.Equal(tg.Bytes(), data) {
		t.Errorf("Bytes() is not the input")
	}
	if got := tg.Version(); got != "42" {
		t.Errorf("Version() = %q", got)
	}
	if got := tg.MeterID(); got != "SAG1030700114004" {
		t.Errorf("MeterID() = %q", got)
	}
	when, ok := tg.Time()
	want := time.Date(2018, 1, 30, 10, 21, 22, 0, time.FixedZone("", 3600))
	if _, off := when.Zone(); !ok || !when.Equal(want) || off != 3600 {
		t.Errorf("Time() = %v, %v; want %v in UTC+1", when, ok, want)
	}
	if name, _ := when.Zone(); name != "CET" {
		t.Errorf("zone %q, want CET", name)
	}

	decimals := []struct {
		code string
		d    Decimal
		unit string
	}{
		{"1-0:1.8.0", Decimal{6695, 3}, "kWh"},
		{"1-0:2.8.0", Decimal{25, 3}, "kWh"},
		{"1-0:3.8.0", Decimal{818, 3}, "kvarh"},
		{"1-0:4.8.0", Decimal{2745, 3}, "kvarh"},
		{"1-0:1.7.0", Decimal{0, 3}, "kW"},
		{"1-0:2.7.0", Decimal{0, 3}, "kW"},
		{"1-0:3.7.0", Decimal{0, 3}, "kvar"}, // no unit sent: the catalogue's
		{"1-0:4.7.0", Decimal{7, 3}, "kvar"},
		{"0-0:17.0.0", Decimal{77376, 3}, "kVA"},
		{"0-0:96.3.10", Decimal{1, 0}, ""},
		{"0-0:96.7.21", Decimal{69, 0}, ""},
		{"1-0:32.32.0", Decimal{44, 0}, ""},
		{"1-0:52.32.0", Decimal{3, 0}, ""},
		{"1-0:72.32.0", Decimal{2, 0}, ""},
		{"1-0:32.36.0", Decimal{0, 0}, ""},
		{"1-0:31.7.0", Decimal{0, 0}, "A"},
		{"1-0:51.7.0", Decimal{0, 0}, "A"},
		{"1-0:71.7.0", Decimal{0, 0}, "A"},
	}
	for _, w := range decimals {
		d, unit, ok := tg.Decimal(MustParseOBIS(w.code))
		if !ok || d != w.d || unit != w.unit {
			t.Errorf("Decimal(%s) = %v %q %v, want %v %q", w.code, d, unit, ok, w.d, w.unit)
		}
	}
	// The unit as sent, without the catalogue.
	if _, unit, _ := tg.Find(MustParseOBIS("1-0:3.7.0")).Values[0].Decimal(); unit != "" {
		t.Errorf("1-0:3.7.0 value unit = %q, want none", unit)
	}
	floats := []struct {
		name string
		f    func() (float64, bool)
		want float64
	}{
		{"EnergyImport", tg.EnergyImport, 6.695},
		{"EnergyExport", tg.EnergyExport, 0.025},
		{"PowerImport", tg.PowerImport, 0},
		{"PowerExport", tg.PowerExport, 0},
		{"Current(1)", func() (float64, bool) { return tg.Current(1) }, 0},
	}
	for _, f := range floats {
		if got, ok := f.f(); !ok || got != f.want {
			t.Errorf("%s() = %v, %v; want %v", f.name, got, ok, f.want)
		}
	}
	if _, ok := tg.Voltage(1); ok {
		t.Errorf("Voltage(1) found, but this telegram has no voltages")
	}
	for _, code := range []string{"0-0:96.13.0", "0-0:96.13.2", "0-0:96.13.3", "0-0:96.13.4", "0-0:96.13.5"} {
		o := tg.Find(MustParseOBIS(code))
		if o == nil || len(o.Values) != 1 || len(o.Values[0].Bytes()) != 0 || o.Values[0].Kind() != KindEmpty {
			t.Errorf("%s: %+v, want one empty value", code, o)
		}
	}
	if m := tg.MBus(); len(m) != 0 {
		t.Errorf("MBus() = %+v, want none", m)
	}
	if _, ok := tg.PowerFailures(); ok {
		t.Errorf("PowerFailures() found a log")
	}
	if n := len(tg.Objects()); n != 28 {
		t.Errorf("%d objects, want 28", n)
	}
}

// TestSpecExample checks the example telegram of the Luxembourg P1
// specification: four M-Bus channels, placeholders, two current thresholds.
func TestSpecExample(t *testing.T) {
	tg, err := Parse(readFile(t, "../../testdata/lux-spec-example.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if crc, ok := tg.CRC(); !ok || crc != 0x8B52 {
		t.Errorf("CRC() = %04X, %v", crc, ok)
	}
	if got := tg.MeterID(); got != "SAG1030790002574" {
		t.Errorf("MeterID() = %q", got)
	}
	when, _ := tg.Time()
	if want := time.Date(2020, 7, 6, 8, 41, 57, 0, time.UTC); !when.Equal(want) {
		t.Errorf("Time() = %v, want %v", when, want)
	}
	th := tg.Find(MustParseOBIS("1-1:31.4.0"))
	if th == nil || len(th.Values) != 2 {
		t.Fatalf("1-1:31.4.0 = %+v, want two values", th)
	}
	for k, want := range []Decimal{{100, 0}, {-63, 0}} {
		if d, unit, ok := th.Values[k].Decimal(); !ok || d != want || unit != "A" {
			t.Errorf("1-1:31.4.0 value %d = %v %q %v, want %v A", k, d, unit, ok, want)
		}
	}
	if v, ok := tg.Voltage(1); !ok || v != 233.0 {
		t.Errorf("Voltage(1) = %v, %v", v, ok)
	}
	if v, ok := tg.Voltage(3); !ok || v != 1.0 {
		t.Errorf("Voltage(3) = %v, %v", v, ok)
	}
	if _, ok := tg.Voltage(4); ok {
		t.Errorf("Voltage(4) found")
	}
	if v, ok := tg.PhasePowerImport(1); !ok || v != 0.005 {
		t.Errorf("PhasePowerImport(1) = %v, %v", v, ok)
	}
	if d, unit, ok := tg.Decimal(MustParseOBIS("1-0:9.7.0")); !ok || d != (Decimal{21, 3}) || unit != "kVA" {
		t.Errorf("apparent power = %v %q %v", d, unit, ok)
	}

	cest := time.FixedZone("CEST", 7200)
	want := []MBusDevice{
		{Channel: 1, Type: DeviceGas, ID: "FLO189900060355", Reading: Decimal{6, 3}, Unit: "m3", HasReading: true,
			Time: time.Date(2020, 7, 6, 10, 31, 40, 0, cest), Valve: 0, Breaker: 0},
		{Channel: 2, Type: DeviceWater, Reading: Decimal{0, 3}, Unit: "m3", HasReading: true, Valve: 1, Breaker: 0},
		{Channel: 3, Type: DeviceWater, Reading: Decimal{0, 3}, Unit: "m3", HasReading: true, Valve: 1, Breaker: -1},
		{Channel: 4, Type: DeviceGas, ID: "ELS353589980300", Reading: Decimal{28103, 3}, Unit: "m3", HasReading: true,
			Time: time.Date(2020, 7, 6, 10, 29, 0, 0, cest), Valve: 1, Breaker: -1},
	}
	got := tg.MBus()
	if len(got) != len(want) {
		t.Fatalf("MBus() = %d channels, want %d: %+v", len(got), len(want), got)
	}
	for k := range want {
		g, w := got[k], want[k]
		if !g.Time.Equal(w.Time) {
			t.Errorf("channel %d: Time = %v, want %v", w.Channel, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("channel %d:\n got %+v\nwant %+v", w.Channel, g, w)
		}
	}
	// The placeholder capture times of channels 2 and 3.
	for _, code := range []string{"0-2:24.2.1", "0-3:24.2.1"} {
		v := tg.Find(MustParseOBIS(code)).Values[0]
		if _, ok := v.Time(nil); ok || !v.IsPlaceholder() || v.Kind() != KindTime {
			t.Errorf("%s: %q is not a placeholder time", code, v)
		}
	}
	// Empty device ids.
	if v := tg.Find(MustParseOBIS("0-2:96.1.0")).Values[0]; len(v.Bytes()) != 0 {
		t.Errorf("0-2:96.1.0 = %q, want empty", v)
	}
}

func TestPowerFailures(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []PowerFailure
		ok   bool
	}{
		{"two entries", "1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)",
			[]PowerFailure{
				{time.Date(2010, 12, 8, 15, 24, 15, 0, time.FixedZone("CET", 3600)), 240 * time.Second},
				{time.Date(2010, 12, 8, 15, 10, 4, 0, time.FixedZone("CET", 3600)), 301 * time.Second},
			}, true},
		{"empty log", "1-0:99.97.0(0)(0-0:96.7.19)", []PowerFailure{}, true},
		// The empty slots some meters fill the log with are left out;
		// an entry with a placeholder end but a real duration is kept.
		{"empty slots", "1-0:99.97.0(3)(0-0:96.7.19)(000104180320W)(0000237126*s)(000101000001W)(2147483647*s)(000102000003W)(2317482647*s)",
			[]PowerFailure{{time.Time{}, 237126 * time.Second}}, true},
		{"empty slot, no letter", "1-0:99.97.0(1)(0-0:96.7.19)(000101010000)(2147483648*s)", []PowerFailure{}, true},
		{"count does not match", "1-0:99.97.0(3)(0-0:96.7.19)(101208152415W)(0000000240*s)", nil, false},
		{"duration in hours", "1-0:99.97.0(1)(0-0:96.7.19)(101208152415W)(0000000240*h)", nil, false},
		{"not a count", "1-0:99.97.0(x)(0-0:96.7.19)", nil, false},
		{"empty", "1-0:99.97.0()", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Parse([]byte(withCRC(hdr + lines(tc.line))))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tg.PowerFailures()
			if ok != tc.ok || len(got) != len(tc.want) {
				t.Fatalf("PowerFailures() = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
			for k := range got {
				if !got[k].End.Equal(tc.want[k].End) || got[k].Duration != tc.want[k].Duration {
					t.Errorf("entry %d = %v, want %v", k, got[k], tc.want[k])
				}
			}
		})
	}
}

func TestMBusOldGas(t *testing.T) {
	tg, err := Parse(readFile(t, "testdata/corpus/nl-dsmr22.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tg.CRC(); ok {
		t.Errorf("a DSMR 2.2 telegram has a CRC")
	}
	m := tg.MBus()
	if len(m) != 1 {
		t.Fatalf("MBus() = %+v", m)
	}
	want := time.Date(2009, 2, 12, 16, 0, 0, 0, time.FixedZone("CET", 3600))
	if d := m[0]; d.Channel != 1 || d.Type != DeviceGas || d.Reading != (Decimal{1001, 3}) || d.Unit != "m3" || !d.Time.Equal(want) || d.Valve != 1 {
		t.Errorf("MBus()[0] = %+v", d)
	}
	// The tariff registers add up exactly.
	if e, ok := tg.EnergyImport(); !ok || e != 35802.467 {
		t.Errorf("EnergyImport() = %v, %v; want 35802.467", e, ok)
	}
}

func TestUnitFromOwnGroup(t *testing.T) {
	tg, err := Parse([]byte(withCRC(hdr + lines("0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(GJ)", "(00001.001)"))))
	if err != nil {
		t.Fatal(err)
	}
	if d, unit, ok := tg.Objects()[0].Decimal(); !ok || d != (Decimal{1001, 3}) || unit != "GJ" {
		t.Errorf("Decimal() = %v %q %v, want 1.001 GJ", d, unit, ok)
	}
}

func TestAddDecimal(t *testing.T) {
	tests := []struct {
		a, b, want Decimal
		ok         bool
	}{
		{Decimal{1581123, 3}, Decimal{1435706, 3}, Decimal{3016829, 3}, true},
		{Decimal{15, 1}, Decimal{25, 3}, Decimal{1525, 3}, true},
		{Decimal{-5, 0}, Decimal{25, 2}, Decimal{-475, 2}, true},
		{Decimal{math.MaxInt64, 0}, Decimal{1, 0}, Decimal{}, false},
		{Decimal{math.MinInt64, 0}, Decimal{-1, 0}, Decimal{}, false},
		{Decimal{math.MaxInt64 / 5, 0}, Decimal{1, 1}, Decimal{}, false},
	}
	for _, tc := range tests {
		got, ok := addDecimal(tc.a, tc.b)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("addDecimal(%v, %v) = %v, %v; want %v, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

// TestUnmarshalTextReuse parses different telegrams into one Telegram and
// checks each result, that nothing of the previous one shows through, and
// that steady-state parsing allocates nothing.
func TestUnmarshalTextReuse(t *testing.T) {
	var files [][]byte
	for _, f := range corpus(t) {
		files = append(files, readFile(t, f.path))
	}
	var tg Telegram
	// Round 0 parses the files in turn; round 1 parses each three times
	// in a row, so that tg expects its code lines (Telegram.layout), and
	// the next file meets them.
	for round := range 2 {
		for k, data := range files {
			for range 1 + 2*round {
				err := tg.UnmarshalText(data)
				fresh, ferr := Parse(data)
				if fmt.Sprint(err) != fmt.Sprint(ferr) {
					t.Fatalf("round %d file %d: reused error %v, fresh error %v", round, k, err, ferr)
				}
				if got, want := resultOf(&tg, err), resultOf(fresh, ferr); !got.equal(want) {
					t.Fatalf("round %d file %d: reused Telegram differs from a fresh one\n%v\n%v", round, k, got, want)
				}
			}
		}
	}
	// The caller's buffer may change after the call.
	data := bytes.Clone(files[0])
	if err := tg.UnmarshalText(data); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if got := tg.MeterID(); got != "SAG1030700114004" {
		t.Errorf("after the input changed, MeterID() = %q", got)
	}
	// Parsing t's own bytes into it.
	if err := tg.UnmarshalText(tg.Bytes()); err != nil || tg.MeterID() != "SAG1030700114004" {
		t.Errorf("parsing Bytes() into the same Telegram: %v, %q", err, tg.MeterID())
	}

	for _, data := range files[:2] {
		allocs := testing.AllocsPerRun(100, func() {
			if err := tg.UnmarshalText(data); err != nil {
				t.Fatal(err)
			}
			_ = tg.Header()
			_, _ = tg.Time()
			_, _ = tg.EnergyImport()
			_, _, _ = tg.Decimal(CodePowerImport)
			for _, o := range tg.Objects() {
				_, _ = Lookup(o.OBIS)
				_, _ = Lookup(o.OBIS)
				for _, v := range o.Values {
					_ = v.Kind()
					_, _, _ = v.Decimal()
				}
			}
		})
		if allocs != 0 {
			t.Errorf("steady state: %v allocations per telegram, want 0", allocs)
		}
	}
}

func TestClone(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(f.name, func(t *testing.T) {
			data := readFile(t, f.path)
			var tg Telegram
			err := tg.UnmarshalText(data)
			c := tg.Clone()
			want := resultOf(&tg, err)
			other := readFile(t, "testdata/corpus/nl-dsmr50.txt")
			if err := tg.UnmarshalText(other); err != nil {
				t.Fatal(err)
			}
			if want.err == "syntax" {
				if len(c.Objects()) != 0 || c.Header() != "" || len(c.Bytes()) != 0 {
					t.Errorf("the clone of an empty Telegram is not empty")
				}
				return
			}
			var cerr error
			if want.err == "crc" {
				cerr = ErrCRC
			}
			if got := resultOf(c, cerr); !got.equal(want) {
				t.Errorf("the clone changed when the original was parsed into again\n%v\n%v", got, want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		code string
		id   string
		unit string
		text bool
		ok   bool
	}{
		{"1-0:1.8.0", "energy_import", "kWh", false, true},
		{"0-0:42.0.0", "meter_id", "", true, true},
		{"0-0:96.13.0", "message", "", true, true},
		{"1-0:3.7.0", "reactive_power_import", "kvar", false, true},
		{"0-0:17.0.0", "power_limit", "kVA", false, true},
		{"0-1:24.2.1", "mbus1_reading", "", false, true},
		{"0-4:24.2.3", "mbus4_reading", "m3", false, true},
		{"0-3:96.1.0", "mbus3_device_id", "", true, true},
		{"0-2:96.3.10", "mbus2_breaker_state", "", false, true},
		{"0-5:24.2.1", "", "", false, false},
		{"0-0:24.2.1", "", "", false, false},
		{"1-1:24.2.1", "", "", false, false},
		{"9-9:9.9.9", "", "", false, false},
	}
	for _, tc := range tests {
		info, ok := Lookup(MustParseOBIS(tc.code))
		if ok != tc.ok || info.ID != tc.id || info.Unit != tc.unit || info.Text != tc.text {
			t.Errorf("Lookup(%s) = %+v, %v", tc.code, info, ok)
		}
		if ok && info.Name == "" {
			t.Errorf("Lookup(%s) has no name", tc.code)
		}
	}
	// Every ID is made of lower-case letters, digits and underscores, and
	// is unique but for the codes that carry the same quantity (M-Bus
	// readings and device ids in their DSMR variants).
	seen := map[string]OBIS{}
	n := 0
	for i, key := range catalogue.keys {
		if key == 0 {
			continue
		}
		n++
		key--
		code := OBIS{uint8(key >> 32), uint8(key >> 24), uint8(key >> 16), uint8(key >> 8), uint8(key)}
		info := catalogue.infos[catalogue.index[i]]
		if got, ok := Lookup(code); !ok || got != info {
			t.Errorf("Lookup(%v) = %+v, %v; the table holds %+v", code, got, ok, info)
		}
		if strings.Trim(info.ID, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("%v: ID %q", code, info.ID)
		}
		same := strings.HasSuffix(info.ID, "_reading") || strings.HasSuffix(info.ID, "_device_id")
		if prev, dup := seen[info.ID]; dup && !same {
			t.Errorf("ID %q used by %v and %v", info.ID, prev, code)
		}
		seen[info.ID] = code
	}
	if n != len(catalogue.infos) || 2*n > tableSize {
		t.Errorf("%d codes in the table, %d infos, %d slots", n, len(catalogue.infos), tableSize)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Lookup(OBIS{0, 3, 24, 2, 1}) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}
