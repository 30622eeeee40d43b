package quarter

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// statusAt feeds the samples to l and returns the Status after the one at
// time t.
func statusAt(t *testing.T, l *Ledger, samples []Sample, when time.Time) Status {
	t.Helper()
	for _, s := range samples {
		l.Add(s)
		if s.Time.Equal(when) {
			st, ok := l.Status()
			if !ok {
				t.Fatal("no status")
			}
			return st
		}
	}
	t.Fatalf("no sample at %v", when)
	return Status{}
}

// TestStatus checks the live figures against values computed by hand.
func TestStatus(t *testing.T) {
	// 1 kW until 10:05, then 4.2 kW; reference power 3 kW, so 0.75 kWh a
	// quarter; 0.1139 EUR/kWh.
	load := stepAt(at(10, 5, 0), 1, 4.2)
	tests := []struct {
		name  string
		begin time.Time // the first reading
		when  time.Time
		want  Status
	}{{
		name: "at the step",
		when: at(10, 5, 0),
		// 1 kW × 5 min = 0.083333; projection + 4.2 × 10/60 = 0.783333;
		// margin (0.75 - 0.083333) / (1/6 h) - 4.2 = -0.2.
		want: Status{Import: 0.083333, Average: 1, Power: 4.2, Projected: 0.783333, Margin: -0.2,
			Warning: true, Warn: true},
	}, {
		name: "ten seconds later",
		when: at(10, 5, 10),
		// + 4.2 × 10 s = 0.011667, over 310 s; the warning is not sent
		// again.
		want: Status{Import: 0.095, Average: 1.103226, Power: 4.2, Projected: 0.783333,
			Margin: (0.75-0.095)/(590.0/3600) - 4.2, Warning: true},
	}, {
		name: "over the reference energy",
		when: at(10, 14, 50),
		// 0.083333 + 4.2 × 590 s = 0.771667: excess 0.021667 so far,
		// and all that can be drawn is nothing: margin -4.2.
		want: Status{Import: 0.771667, Average: 3.121348, Power: 4.2, Projected: 0.783333, Margin: -4.2,
			Excess: 0.021667, ExcessDay: 0.021667, ExcessMonth: 0.021667,
			Cost: 0.002468, CostDay: 0.002468, CostMonth: 0.002468, Warning: true},
	}, {
		name: "the next quarter",
		when: at(10, 15, 0),
		// The first quarter ended at 0.783333, excess 0.033333. The
		// new one projects 4.2 × 0.25 = 1.05 and warns again.
		want: Status{Power: 4.2, Projected: 1.05, Margin: 3 - 4.2,
			ExcessDay: 0.033333, ExcessMonth: 0.033333, CostDay: 0.003797, CostMonth: 0.003797,
			Warning: true, Warn: true},
	}, {
		name:  "readings begin in mid-quarter",
		begin: at(10, 5, 0),
		when:  at(10, 5, 0),
		// The 5 minutes before count at the first reading's power:
		// 4.2 × 5/60 = 0.35, estimated.
		want: Status{Import: 0.35, Average: 4.2, Power: 4.2, Projected: 1.05, Margin: (0.75-0.35)*6 - 4.2,
			Quality: Estimated, Warning: true, Warn: true},
	}, {
		name:  "readings begin in mid-quarter, later",
		begin: at(10, 5, 0),
		when:  at(10, 10, 0),
		want: Status{Import: 0.7, Average: 4.2, Power: 4.2, Projected: 1.05,
			Margin: (0.75-0.7)*12 - 4.2, Quality: Estimated, Warning: true},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			begin := tc.begin
			if begin.IsZero() {
				begin = at(10, 0, 0)
			}
			m := newMeter(begin)
			if begin.After(at(10, 0, 0)) {
				m.imp += load(at(10, 0, 0)) * begin.Sub(at(10, 0, 0)).Hours()
			}
			samples := m.run(nil, at(10, 30, 0), 10*time.Second, load)
			l := Ledger{RefPower: 3, Price: 0.1139}
			got := statusAt(t, &l, samples, tc.when)
			want := tc.want
			want.Time = tc.when
			want.Start = tc.when.Truncate(Length)
			want.End = want.Start.Add(Length)
			want.RefPower, want.Price = 3, 0.1139
			opts := cmp.Options{cmpopts.EquateApprox(0, 2e-6), cmpopts.EquateApproxTime(0)}
			if diff := cmp.Diff(want, got, opts); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStatusZone: the times of a Status are local, CET or CEST.
func TestStatusZone(t *testing.T) {
	var l Ledger
	if _, ok := l.Status(); ok {
		t.Error("a status before the first reading")
	}
	l.Add(Sample{Time: time.Date(2025, 1, 10, 11, 7, 0, 0, time.UTC), Import: 1})
	st, _ := l.Status()
	if got := st.Start.Format(time.RFC3339); got != "2025-01-10T12:00:00+01:00" {
		t.Errorf("Start %s", got)
	}
	if got := st.Time.Format(time.RFC3339); got != "2025-01-10T12:07:00+01:00" {
		t.Errorf("Time %s", got)
	}
}

// TestWarning drives the projection across the reference power and back:
// the warning is raised when the projection exceeds it, held within the
// 5% band below, cleared under it, and sent at most once per quarter.
func TestWarning(t *testing.T) {
	// Reference power 3 kW: 0.75 kWh a quarter, released below 0.7125.
	// One reading a minute, each giving the load until the next.
	tests := []struct {
		name  string
		loads []float64 // from 10:00, one a minute
		want  string    // per reading: . nothing, W warning sent, w warning on
	}{{
		name:  "under",
		loads: []float64{1, 2, 2.9, 2.9, 2.9},
		want:  ".....",
	}, {
		// 10:02 at 5 kW: 0.033 + 5 × 13/60 = 1.117, raised. 10:04 at 1
		// kW: 0.2 + 11/60 = 0.383, cleared. 10:06 at 5 kW: 0.233 + 5 ×
		// 9/60 = 0.983, raised but not sent again.
		name:  "once per quarter",
		loads: []float64{1, 1, 5, 5, 1, 1, 5, 5},
		want:  "..Ww..ww",
	}, {
		// 10:00 at 3.1 kW: 0.775 > 0.75, raised. 10:01 at 2.9: 0.0517 +
		// 2.9 × 14/60 = 0.728, inside the band: held. 10:03 at 2 kW:
		// 0.155 + 2 × 12/60 = 0.555, cleared.
		name:  "hysteresis",
		loads: []float64{3.1, 2.9, 3.1, 2, 2},
		want:  "Www..",
	}, {
		// Over for 20 minutes: sent in each quarter.
		name:  "the next quarter",
		loads: []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5},
		want:  "...............W" + "w",
	}, {
		// Exactly the reference power is not over it.
		name:  "exactly at the reference",
		loads: []float64{3, 3, 3},
		want:  "...",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			load := func(x time.Time) float64 {
				return tc.loads[min(int(x.Sub(at(10, 0, 0))/time.Minute), len(tc.loads)-1)]
			}
			samples := newMeter(at(10, 0, 0)).run(nil, at(10, 0, 0).Add(time.Duration(len(tc.loads)-1)*time.Minute), time.Minute, load)
			l := Ledger{RefPower: 3}
			var got strings.Builder
			for _, s := range samples {
				l.Add(s)
				st, _ := l.Status()
				switch {
				case st.Warn:
					got.WriteByte('W')
				case st.Warning:
					got.WriteByte('w')
				default:
					got.WriteByte('.')
				}
			}
			if got.String() != tc.want {
				t.Errorf("got %s, want %s", got.String(), tc.want)
			}
		})
	}
}

// TestExcessTotals: the day's and month's excess start again at local
// midnight and on the first of the month.
func TestExcessTotals(t *testing.T) {
	// 4 kW against 3 kW: 0.25 kWh excess each quarter.
	begin := time.Date(2025, 6, 30, 23, 30, 0, 0, summer)
	samples := newMeter(begin).run(nil, begin.Add(time.Hour), 10*time.Second, constant(4))
	tests := []struct {
		when       time.Time
		day, month float64
	}{
		{begin.Add(15 * time.Minute), 0.25, 0.25},
		{begin.Add(30*time.Minute - 10*time.Second), 0.25 + 0.25 - 4.0/360, 0.5 - 4.0/360},
		{begin.Add(30 * time.Minute), 0, 0},
		{begin.Add(45 * time.Minute), 0.25, 0.25},
	}
	for _, tc := range tests {
		t.Run(tc.when.Format("15:04:05"), func(t *testing.T) {
			l := Ledger{RefPower: 3}
			st := statusAt(t, &l, samples, tc.when)
			if d := st.ExcessDay - tc.day; d > 1e-6 || d < -1e-6 {
				t.Errorf("ExcessDay %v, want %v", st.ExcessDay, tc.day)
			}
			if d := st.ExcessMonth - tc.month; d > 1e-6 || d < -1e-6 {
				t.Errorf("ExcessMonth %v, want %v", st.ExcessMonth, tc.month)
			}
		})
	}
}

// TestNoReference: without a reference power, only the energies.
func TestNoReference(t *testing.T) {
	var l Ledger
	st := statusAt(t, &l, newMeter(at(10, 0, 0)).run(nil, at(10, 10, 0), 10*time.Second, constant(5)), at(10, 10, 0))
	if st.Import != round(5.0/6) || st.Projected != 1.25 {
		t.Errorf("Import %v Projected %v", st.Import, st.Projected)
	}
	if st.Margin != 0 || st.Excess != 0 || st.Warning || st.Warn {
		t.Errorf("figures without a reference power: %+v", st)
	}
}
