package format

import (
	"fmt"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

func withCRC(body string) string {
	body += "!"
	return body + fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(body)))
}

// TestAppendJSONRules: the units, times and skipped lines of issue 10 as
// a consumer of the JSON sees them.
func TestAppendJSONRules(t *testing.T) {
	in := withCRC("/FLU5\\253769484_A\r\n\r\n" +
		"0-0:1.0.0(200301000000S)\r\n" + // S in winter: the calendar decides
		"0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)\r\n" +
		"0-1:24.1.0(003)\r\n0-1:24.2.1(200512134558S)(00112.384)\r\n" + // gas: m3 by the standard
		"0-2:24.2.1(700101010000W)(00001.000)\r\n" + // no device type: no unit; 1970: no time
		"1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)\r\n" +
		"1-0:1.8.0(000001.000*kWh\r\n" + // unbalanced: skipped, the CRC vouches
		"1-0:2.8.0(000002.000*kWh)\r\n")
	tg, err := dsmr.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, AppendJSON(nil, tg, nil))
	value := func(obis string, k int) string {
		for _, o := range v.Objects {
			if o.OBIS == obis {
				x := o.Values[k]
				s := x.Raw
				if x.Number != nil {
					s += " " + x.Number.String()
				}
				if x.Unit != nil {
					s += " " + *x.Unit
				}
				if x.Time != nil {
					s += " time=" + string(x.Time)
				}
				return s
			}
		}
		return "<absent>"
	}
	tests := []struct{ name, got, want string }{
		{"timestamp", str(v.Timestamp), "2020-03-01T00:00:00+01:00"},
		{"buffer count has no unit", value("0-0:98.1.0", 0), "1 1"},
		{"buffer entry keeps its unit", value("0-0:98.1.0", 5), "03.695*kW 3.695 kW"},
		{"buffer entry time", value("0-0:98.1.0", 3), `200501000000S time="2020-05-01T00:00:00+02:00"`},
		{"gas reading", value("0-1:24.2.1", 1), "00112.384 112.384 m3"},
		{"reading without device type", value("0-2:24.2.1", 1), "00001.000 1.000"},
		{"1970", value("0-2:24.2.1", 0), "700101010000W time=null"},
		{"empty slot", value("1-0:99.97.0", 2), "000101000001W time=null"},
		{"skipped line absent", value("1-0:1.8.0", 0), "<absent>"},
		{"line after it", value("1-0:2.8.0", 0), "000002.000*kWh 2.000 kWh"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	if len(v.Errors) != 1 || v.Errors[0].Line != 9 || v.Errors[0].Text != "1-0:1.8.0(000001.000*kWh" || v.Errors[0].Error == "" {
		t.Errorf("errors = %+v", v.Errors)
	}

	// The zone of the telegram; no errors array when nothing was skipped.
	dublin, err := dsmr.LoadLocation("Europe/Dublin")
	if err != nil {
		t.Fatal(err)
	}
	tg = &dsmr.Telegram{Location: dublin}
	if err := tg.UnmarshalText([]byte(withCRC("/ISK5\\2M550E-1013\r\n\r\n0-0:1.0.0(240715120000S)\r\n"))); err != nil {
		t.Fatal(err)
	}
	v = decode(t, AppendJSON(nil, tg, nil))
	if str(v.Timestamp) != "2024-07-15T12:00:00+01:00" || v.Errors != nil {
		t.Errorf("Dublin: timestamp %s, errors %+v", str(v.Timestamp), v.Errors)
	}
}
