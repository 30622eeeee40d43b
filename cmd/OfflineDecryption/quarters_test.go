package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/quartercsv"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
)

// TestQuartersEndToEnd records a simulated day with a known load profile
// with the real SmartySimulator, decrypts it with -quarters, and checks
// each quarter against the profile's integral, and the day's excess
// against a computation by hand.
func TestQuartersEndToEnd(t *testing.T) {
	dir := t.TempDir()
	simulator := cmdtest.Path(t, "SmartySimulator")
	key := strings.TrimSpace(string(readFile(t, realKey)))

	tests := []struct {
		name     string
		profile  string
		day      time.Time // local midnight
		quarters int
		// The day's excess over 3 kW, by hand; 0 to skip.
		excess float64
	}{{
		// Base 0.3 kW; the car 7.4 kW from 22:10 to 02:40, the cooker 3
		// kW from 11:50 to 12:35. Over 3 kW (0.75 kWh a quarter):
		//   00:00-02:30, 10 quarters at 7.7 kW: 10 × (1.925 - 0.75) = 11.75
		//   02:30-02:45: 10 min at 7.7 + 5 min at 0.3 = 1.308333: 0.558333
		//   12:00-12:30, 2 quarters at 3.3 kW: 2 × (0.825 - 0.75) = 0.15
		//   (11:45 and 12:30 hold 0.575 and 0.325, 22:00 holds 0.691667)
		//   22:15-24:00, 7 quarters at 7.7 kW: 7 × 1.175 = 8.225
		// 20 quarters, 20.683333 kWh.
		name:     "cooker and car",
		profile:  "cooker+car",
		day:      time.Date(2025, 6, 2, 0, 0, 0, 0, time.FixedZone("CEST", 2*60*60)),
		quarters: 96,
		excess:   20.683333,
	}, {
		name:     "everything on the day the clock goes back",
		profile:  "cooker+car+heatpump+solar",
		day:      time.Date(2025, 10, 26, 0, 0, 0, 0, time.FixedZone("CEST", 2*60*60)),
		quarters: 100,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			count := tc.quarters*90 + 1 // one every 10 s, and midnight
			dump := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".bin")
			cmd := exec.Command(simulator, "-key", key, "-profile", tc.profile,
				"-start", tc.day.Format(time.RFC3339), "-count", fmt.Sprint(count), "-o", dump)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("SmartySimulator: %v\n%s", err, out)
			}

			r := runCmd(t, nil, "-keyFile", realKey, "-quarters", "-refPower", "3", dump)
			if r.err != nil {
				t.Fatalf("OfflineDecryption: %v\n%s", r.err, r.stderr)
			}
			rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows[0], ","); got != quartercsv.Header {
				t.Fatalf("header %s", got)
			}
			rows = rows[1:]
			if len(rows) != tc.quarters {
				t.Errorf("%d quarters, want %d", len(rows), tc.quarters)
			}

			profile, err := sim.NamedProfile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			var excess float64
			for _, row := range rows {
				start, err1 := time.Parse(time.RFC3339, row[0])
				end, err2 := time.Parse(time.RFC3339, row[1])
				imp, err3 := strconv.ParseFloat(row[2], 64)
				exp, err4 := strconv.ParseFloat(row[3], 64)
				exc, err5 := strconv.ParseFloat(row[5], 64)
				if err := cmpErr(err1, err2, err3, err4, err5); err != nil || row[6] != "ok" {
					t.Fatalf("row %q: %v", row, err)
				}
				wantImp, wantExp := profile.Energy(start, end)
				// The registers count whole watt-hours, rounded down:
				// each quarter within 1 Wh.
				if math.Abs(imp-wantImp) > 0.001+1e-9 || math.Abs(exp-wantExp) > 0.001+1e-9 {
					t.Errorf("%s: %.3f kWh in, %.3f out; the profile gives %.6f, %.6f", row[0], imp, exp, wantImp, wantExp)
				}
				excess += exc
			}
			// The registers count whole watt-hours: the day's excess is
			// the hand computation to the watt-hour.
			if tc.excess != 0 && math.Abs(excess-tc.excess) > 0.001 {
				t.Errorf("the day's excess: %.6f kWh, by hand %.6f", excess, tc.excess)
			}
			// The summary on stderr says the same.
			if tc.excess != 0 && !strings.Contains(r.stderr, fmt.Sprintf("%.3f", tc.excess)) {
				t.Errorf("the summary does not give %.3f kWh:\n%s", tc.excess, r.stderr)
			}
			if !strings.Contains(r.stderr, fmt.Sprintf("%d/%d", tc.quarters, tc.quarters)) {
				t.Errorf("the summary does not count %d quarters:\n%s", tc.quarters, r.stderr)
			}
		})
	}
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestQuartersFlags checks the flags that go with -quarters.
func TestQuartersFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-refPower", "3"}, "-refPower and -excessPrice go with -quarters"},
		{[]string{"-quarters", "-format", "json"}, "leave out -format"},
		{[]string{"-quarters", "-refPower", "-3"}, "-refPower -3: want the reference power in kW"},
		{[]string{"-quarters", "-excessPrice", "0.1139"}, "-excessPrice needs -refPower"},
		{[]string{"-quarters", "-refPower", "3", "-excessPrice", "-1"}, "-excessPrice -1: want a price"},
	}
	for _, tc := range tests {
		r := runCmd(t, nil, append([]string{"-keyFile", realKey}, append(tc.args, realBin)...)...)
		if r.status != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: status %d, stderr %q; want 2 and %q", tc.args, r.status, r.stderr, tc.want)
		}
	}
}

// TestQuartersRealFrame: one telegram makes no quarter; the output is the
// header, and the summary says so.
func TestQuartersRealFrame(t *testing.T) {
	r := runCmd(t, nil, "-keyFile", realKey, "-quarters", realBin)
	if r.status != 0 || r.stdout != quartercsv.Header+"\n" || !strings.Contains(r.stderr, "no complete quarter-hour") {
		t.Errorf("status %d\nstdout %q\nstderr %q", r.status, r.stdout, r.stderr)
	}
}
