package dsmr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// addSeeds adds the corpus and the inputs of the table tests to f.
func addSeeds(f *testing.F) {
	for _, c := range corpus(f) {
		f.Add(readFile(f, c.path))
	}
	// The telegrams of real meters (see testdata/meters/README.md).
	meters, _ := filepath.Glob("../../testdata/meters/*.txt")
	for _, p := range meters {
		f.Add(readFile(f, p))
	}
	for _, s := range []string{
		"",
		"/",
		"/A\r\n!",
		"/A\n1-0:1.8.0(1)\n!",
		withCRC(hdr + lines("1-1:31.4.0(100*A)(-063*A)")),
		withCRC(hdr + lines("0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)", "(00001.001)")),
		withCRC(hdr + lines("1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)")),
		hdr + "1-0:1.8.0(1\xc3)\r\n!\r\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that Parse never panics, agrees with the reference
// parser, gives the same result when the telegram's own bytes are parsed
// again or when it parses into a used Telegram, that Clone equals the
// original, that memory stays proportional to the input, and that no
// accessor panics on what it returns.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	real := readFile(f, "../../testdata/lux-spec-example.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		tg, err := Parse(data)
		if err != nil && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrCRC) {
			t.Fatalf("error %v wraps neither ErrSyntax nor ErrCRC", err)
		}
		var se *SyntaxError
		if errors.As(err, &se) && (se.Msg == "malformed line" || se.Offset < 0 || se.Offset > len(data) || se.Line < 1) {
			t.Fatalf("scan and explain disagree, or the position is off: %v", err)
		}
		got := resultOf(tg, err)
		if want := refParse(data); !got.equal(want) {
			t.Fatalf("Parse and the reference parser disagree on %q\nParse (error %v):\n%v\nreference:\n%v", data, err, got, want)
		}

		// Memory: the copy, one Value per "()" and one Object per code.
		if c := cap(tg.raw); c > 2*len(data)+64 {
			t.Errorf("raw buffer of %d bytes for %d bytes of input", c, len(data))
		}
		if n := len(tg.values); n > len(data)/2+1 {
			t.Errorf("%d values for %d bytes", n, len(data))
		}
		if n := len(tg.objects); n > len(data)/11+1 {
			t.Errorf("%d objects for %d bytes", n, len(data))
		}

		// Parsing into a Telegram that held another one, twice, so that
		// it expects that one's code lines (Telegram.layout).
		var used Telegram
		_ = used.UnmarshalText(real)
		_ = used.UnmarshalText(real)
		uerr := used.UnmarshalText(data)
		if r := resultOf(&used, uerr); !r.equal(got) {
			t.Fatalf("parsing into a used Telegram differs:\n%v\nfresh:\n%v", r, got)
		}

		if errors.Is(err, ErrSyntax) {
			if len(tg.Objects()) != 0 || tg.Header() != "" || len(tg.Bytes()) != 0 {
				t.Fatalf("not empty after a syntax error")
			}
			return
		}
		if !bytes.Equal(tg.Bytes(), data) {
			t.Fatalf("Bytes() is not the input")
		}
		again, aerr := Parse(tg.Bytes())
		if r := resultOf(again, aerr); !r.equal(got) {
			t.Fatalf("parsing Bytes() again differs:\n%v\nfirst:\n%v", r, got)
		}
		var cerr error
		if err != nil {
			cerr = ErrCRC
		}
		if r := resultOf(tg.Clone(), cerr); !r.equal(got) {
			t.Fatalf("Clone differs:\n%v\noriginal:\n%v", r, got)
		}
		exercise(t, tg)
	})
}

// exercise calls every accessor on t, checking what holds for any input.
func exercise(t *testing.T, tg *Telegram) {
	for _, o := range tg.Objects() {
		_, _ = Lookup(o.OBIS)
		_, _, _ = o.Decimal()
		for _, v := range o.Values {
			exerciseValue(t, v)
		}
	}
	_ = tg.Version()
	_ = tg.MeterID()
	_, _ = tg.Time()
	_, _ = tg.EnergyImport()
	_, _ = tg.EnergyExport()
	_, _ = tg.PowerImport()
	_, _ = tg.PowerExport()
	for p := 0; p <= 4; p++ {
		_, _ = tg.Voltage(p)
		_, _ = tg.Current(p)
		_, _ = tg.PhasePowerImport(p)
		_, _ = tg.PhasePowerExport(p)
	}
	for _, d := range tg.MBus() {
		if d.Channel < 1 || d.Channel > 4 {
			t.Errorf("M-Bus channel %d", d.Channel)
		}
	}
	if log, ok := tg.PowerFailures(); ok && len(log) > len(tg.Bytes()) {
		t.Errorf("power-failure log of %d entries", len(log))
	}
}

func exerciseValue(t *testing.T, v Value) {
	k := v.Kind()
	d, _, isNum := v.Decimal()
	tm, isTime := v.Time(nil)
	_, isText := v.Text()
	_, isOBIS := v.obis()
	ph := v.IsPlaceholder()
	switch k {
	case KindEmpty:
		if len(v.Bytes()) != 0 || isNum || isTime || isText || isOBIS || ph {
			t.Errorf("empty value %q: number %v, time %v, text %v, obis %v, placeholder %v", v, isNum, isTime, isText, isOBIS, ph)
		}
	case KindTime:
		if isTime == ph {
			t.Errorf("time value %q: Time ok %v, IsPlaceholder %v", v, isTime, ph)
		}
	case KindNumber:
		if !isNum || isTime || ph {
			t.Errorf("number %q: Decimal ok %v, time %v, placeholder %v", v, isNum, isTime, ph)
		}
	case KindOBIS:
		if !isOBIS || isNum || isTime {
			t.Errorf("OBIS value %q: OBIS ok %v", v, isOBIS)
		}
	case KindString:
		if isNum || isTime || isOBIS || ph {
			t.Errorf("string %q: number %v, time %v, obis %v, placeholder %v", v, isNum, isTime, isOBIS, ph)
		}
	default:
		t.Errorf("Kind %v", k)
	}
	if isTime {
		if y := tm.Year(); y < 2000 || y > 2099 {
			t.Errorf("%q: year %d", v, y)
		}
	}
	if isNum {
		back, _, ok := parseNumber([]byte(d.String()))
		if !ok || back != d {
			t.Errorf("%q: Decimal %#v, its String %q reads back as %#v, %v", v, d, d.String(), back, ok)
		}
		_ = d.Float64()
	}
}

// FuzzValue feeds any text to the Value methods.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"000006.695*kWh", "-063*A", "180130102122W", "632525252525S", "000101010000W",
		"090212160000", "53414731303330373030313134303034", "0-0:96.7.19", "", "1.", "0.000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exerciseValue(t, val(s))
		got, ok := val(s).Text()
		if want, wok := refText(s); got != want || ok != wok {
			t.Errorf("Text(%q) = %q, %v; the plain reading gives %q, %v", s, got, ok, want, wok)
		}
	})
}

// refText is Value.Text the plain way, to check the one-pass decoding
// against.
func refText(s string) (string, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || !utf8.Valid(b) {
		return "", false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7F {
			return "", false
		}
	}
	return string(b), true
}
