package format

import (
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// valueOf returns raw as the value of a parsed telegram; ok is false when
// dsmr does not take it as a value.
func valueOf(raw string) (dsmr.Value, bool) {
	var tg dsmr.Telegram
	if err := tg.UnmarshalText([]byte("/X\r\n\r\n1-0:1.8.0(" + raw + ")\r\n!\r\n")); err != nil {
		return dsmr.Value{}, false
	}
	o := tg.Objects()
	if len(o) != 1 || len(o[0].Values) != 1 {
		return dsmr.Value{}, false
	}
	return o[0].Values[0], true
}

// checkPlainNumber holds appendPlainNumber to the long way, appendRaw and
// dsmr's Value.AppendNumber: the same bytes and unit whenever it takes a
// value, and it takes every unsigned number dsmr takes.
func checkPlainNumber(t *testing.T, raw string) {
	v, ok := valueOf(raw)
	if !ok {
		return
	}
	want, wunit, wok := v.AppendNumber(append(appendRaw([]byte("x"), v.Bytes()), `,"number":`...))
	got, unit, ok := appendPlainNumber([]byte("x"), v.Bytes())
	unsigned := len(raw) > 0 && raw[0] != '-' && raw[0] != '+'
	switch {
	case ok && (!wok || string(got) != string(want) || string(unit) != string(wunit)):
		t.Errorf("appendPlainNumber(%q) = %s, unit %q; the long way gives %s, unit %q, %v", raw, got, unit, want, wunit, wok)
	case !ok && string(got) != "x":
		t.Errorf("appendPlainNumber(%q) refused it but wrote %q", raw, got)
	case !ok && wok && unsigned:
		t.Errorf("appendPlainNumber(%q) refused a number the fast way should take: %s", raw, want)
	}
}

func TestAppendPlainNumber(t *testing.T) {
	for _, raw := range []string{
		"000006.695*kWh", "00.000*kW", "00069", "1", "0", "000", "42", "000*A", "00.007",
		"0000000000000001", "1234567890123456", "12345678901234567", "0.000000000000001",
		".5", "000.5", "5.", ".", "*kWh", "1*", "1*k W", "1*kWh2", "1.2.3", "1*m3", "00044*V",
		"-063*A", "+5", "1e5", "0x10", "12:30", "1-0:1.8.0", "180130102122W", "AbCz09*Zz",
		"0.1*" + strings.Repeat("k", 12), "1." + strings.Repeat("0", 14),
		"0000000000000000001", "000000000000000000000000012345678", "0.000000000000000001", "0.0000000000000000001",
		"123456789012345678", "1234567890123456789", "1.23456789012345678", "0000000001.23456789012345678",
		// Registers and the like, 8 to 16 bytes.
		"00000.006*m3", "000000.000*kWh", "00.005*kW", "0000000.0000000", "1234567.1234567", "0012345.678901*kW",
		"1.2345678", "12345678.1", "0000001.", "0000001.*kWh", "1234567*", "1234567*kWh", "123.4567*k-W",
		"0000.00000000001", "0.12345*kWh", "00000000", "0000000.", "0000000.0", "1234567.", "7654321.12345678",
		"1.23456789012345", "123.45678*kvarh", "0000001*kWh", "00000.000*m3", "1*kWhkWhkW", "1.5*kWh.x",
	} {
		checkPlainNumber(t, raw)
	}
}

func FuzzPlainNumber(f *testing.F) {
	for _, s := range []string{"000006.695*kWh", "00069", ".5", "000.5", "-063*A", "1*m3", "5.", "1234567890123456",
		"00000.006*m3", "0000000.0000000", "1234567.1234567", "0000001.*kWh", "0.12345*kWh"} {
		f.Add(s)
	}
	f.Fuzz(checkPlainNumber)
}
