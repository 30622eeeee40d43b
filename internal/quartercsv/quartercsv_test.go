package quartercsv

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Luxembourg for the test's own clock

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	cet  = time.FixedZone("CET", 1*60*60)
	cest = time.FixedZone("CEST", 2*60*60)
)

// day runs a household through a day with the readings of a meter every
// 10 s: 0.3 kW, a cooker of 3 kW from 11:50 to 12:35, 2 kW of solar
// exported from 10:00 to 11:00, no readings from 08:14 to 08:16 nor from
// 15:20 to 16:20, in local time.
func day(t *testing.T, from, to time.Time) []quarter.Sample {
	lux, err := time.LoadLocation("Europe/Luxembourg")
	if err != nil {
		t.Fatal(err)
	}
	load := func(t time.Time) float64 {
		l := t.In(lux)
		hm := l.Hour()*60 + l.Minute()
		switch {
		case hm >= 11*60+50 && hm < 12*60+35:
			return 3.3
		case hm >= 10*60 && hm < 11*60:
			return -1.7
		}
		return 0.3
	}
	gap := func(t time.Time) bool {
		l := t.In(lux)
		hm := l.Hour()*60 + l.Minute()
		return hm >= 8*60+14 && hm < 8*60+16 && !(hm == 8*60+14 && l.Second() == 0) ||
			hm >= 15*60+20 && hm < 16*60+20 && !(hm == 15*60+20 && l.Second() == 0)
	}
	var s []quarter.Sample
	imp, exp := 1234.5, 321.0
	for t := from; !t.After(to); t = t.Add(10 * time.Second) {
		p := load(t)
		if !gap(t) {
			s = append(s, quarter.Sample{Time: t, MeterID: "SAG1", Import: imp, Export: exp, Power: p, HasPower: true})
		}
		if p > 0 {
			imp += p * 10 / 3600
		} else {
			exp -= p * 10 / 3600
		}
	}
	return s
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// TestGolden writes the quarters of simulated days as CSV, and their
// summary.
func TestGolden(t *testing.T) {
	tests := []struct {
		name            string
		from, to        time.Time
		refPower, price float64
	}{
		// The day the clock goes back: 100 quarters, one hour twice.
		{"october", time.Date(2025, 10, 26, 0, 0, 0, 0, cest), time.Date(2025, 10, 27, 0, 5, 0, 0, cet), 3, 0.1139},
		// The day the clock goes forward, on into April.
		{"march", time.Date(2025, 3, 30, 0, 0, 0, 0, cet), time.Date(2025, 4, 1, 0, 0, 0, 0, cest), 3, 0},
		{"noref", time.Date(2025, 6, 2, 11, 0, 0, 0, cest), time.Date(2025, 6, 2, 13, 0, 0, 0, cest), 0, 0},
		{"empty", time.Date(2025, 6, 2, 11, 0, 0, 0, cest), time.Date(2025, 6, 2, 11, 14, 0, 0, cest), 3, 0.1139},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, summary bytes.Buffer
			w := NewWriter(&out, tc.refPower, tc.price)
			var l quarter.Ledger
			for _, s := range day(t, tc.from, tc.to) {
				for _, q := range l.Add(s) {
					if err := w.Write(q); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteSummary(&summary); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".csv", out.Bytes())
			golden(t, tc.name+".summary", summary.Bytes())

			// Whatever the case, it is CSV with the header and seven
			// fields a row.
			rows, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rows[0], ",") != Header {
				t.Errorf("header %q", rows[0])
			}
		})
	}
}

// TestRows checks single rows, written by hand.
func TestRows(t *testing.T) {
	start := time.Date(2025, 10, 26, 2, 45, 0, 0, cest)
	end := time.Date(2025, 10, 26, 2, 0, 0, 0, cet)
	tests := []struct {
		q    quarter.Quarter
		ref  float64
		want string
	}{
		{quarter.Quarter{Start: start, End: end, Import: 0.8125, Export: 0, Quality: quarter.OK}, 3,
			"2025-10-26T02:45:00+02:00,2025-10-26T02:00:00+01:00,0.812,0.000,3.250,0.062,ok"},
		{quarter.Quarter{Start: start, End: end, Import: 0.1, Export: 0.2, Quality: quarter.Estimated}, 0,
			"2025-10-26T02:45:00+02:00,2025-10-26T02:00:00+01:00,0.100,0.200,0.400,,estimated"},
		{quarter.Quarter{Start: start, End: end, Quality: quarter.Broken}, 3,
			"2025-10-26T02:45:00+02:00,2025-10-26T02:00:00+01:00,,,,,broken"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		w := NewWriter(&b, tc.ref, 0)
		w.Write(tc.q)
		w.Flush()
		if got := strings.TrimPrefix(b.String(), Header+"\n"); got != tc.want+"\n" {
			t.Errorf("got  %q\nwant %q", got, tc.want+"\n")
		}
	}
}

func TestQuartersIn(t *testing.T) {
	lux, err := dsmr.LoadLocation(dsmr.DefaultZone)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		y       int
		m       time.Month
		d, want int
	}{
		{2025, 3, 30, 92}, {2025, 3, 23, 96}, {2025, 10, 26, 100}, {2025, 10, 19, 96},
		{2026, 3, 29, 92}, {2026, 10, 25, 100}, {2024, 3, 31, 92}, {2025, 6, 2, 96},
	}
	for _, tc := range tests {
		if got := quartersIn(time.Date(tc.y, tc.m, tc.d, 12, 0, 0, 0, lux)); got != tc.want {
			t.Errorf("%d-%02d-%02d: %d, want %d", tc.y, tc.m, tc.d, got, tc.want)
		}
	}
	if got := quartersInMonth(time.Date(2025, 3, 5, 0, 0, 0, 0, lux)); got != 31*96-4 {
		t.Errorf("March 2025: %d", got)
	}
	if got := quartersInMonth(time.Date(2025, 10, 31, 23, 0, 0, 0, lux)); got != 31*96+4 {
		t.Errorf("October 2025: %d", got)
	}
}
