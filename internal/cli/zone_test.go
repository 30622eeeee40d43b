package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func TestZoneFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // name; "" for an error
		wantOff int    // offset in summer, hours
	}{
		{nil, "Europe/Luxembourg", 2},
		{[]string{"-zone", "Europe/Dublin"}, "Europe/Dublin", 1},
		{[]string{"-zone", "Europe/Vilnius"}, "Europe/Vilnius", 3},
		{[]string{"-zone", "Europe/Luxembourg"}, "Europe/Luxembourg", 2},
		{[]string{"-zone", "Europe/Nowhere"}, "", 0},
		{[]string{"-zone", "Local"}, "", 0},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		var out bytes.Buffer
		fs.SetOutput(&out)
		z := AddZoneFlag(fs)
		err := fs.Parse(tc.args)
		if tc.want == "" {
			if err == nil || !strings.Contains(out.String(), "-zone") || strings.Contains(out.String(), "dsmr:") {
				t.Errorf("%v: err %v, output %q", tc.args, err, out.String())
			}
			continue
		}
		if err != nil || z.String() != tc.want {
			t.Fatalf("%v: %v, zone %q", tc.args, err, z.String())
		}
		// The zone reaches the telegrams a Reader returns.
		r := smarty.NewReader(strings.NewReader("/ISK5\\2M550E-1012\r\n\r\n0-0:1.0.0(240715120000S)\r\n!\r\n"), nil)
		r.Location = z.Location()
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		tm, _ := m.Telegram.Time()
		if _, off := tm.Zone(); off != tc.wantOff*3600 {
			t.Errorf("%v: %v, want UTC%+d", tc.args, tm, tc.wantOff)
		}
	}
}
