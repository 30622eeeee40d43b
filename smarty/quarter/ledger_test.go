package quarter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	summer = time.FixedZone("CEST", 2*60*60)
	winter = time.FixedZone("CET", 1*60*60)
)

// at is a time on 2 June 2025, local summer time.
func at(hh, mm, ss int) time.Time { return time.Date(2025, 6, 2, hh, mm, ss, 0, summer) }

// meter simulates readings: a load in kW (negative: export) that changes
// only at multiples of the step, integrated exactly into the registers.
type meter struct {
	t        time.Time
	imp, exp float64
	id       string
}

func newMeter(t time.Time) *meter { return &meter{t: t, imp: 1000, exp: 500, id: "SAG1"} }

// run reads every step from m.t up to and including until, with the load
// given by kW (of the time a step starts), and appends the samples.
func (m *meter) run(s []Sample, until time.Time, step time.Duration, kW func(time.Time) float64) []Sample {
	for {
		p := kW(m.t)
		s = append(s, Sample{Time: m.t, MeterID: m.id, Import: m.imp, Export: m.exp, Power: p, HasPower: true})
		if !m.t.Before(until) {
			return s
		}
		h := step.Hours()
		if p >= 0 {
			m.imp += p * h
		} else {
			m.exp += -p * h
		}
		m.t = m.t.Add(step)
	}
}

// skip advances the meter's clock by d at load kW, with no reading: a gap.
func (m *meter) skip(d time.Duration, kW float64) {
	if kW >= 0 {
		m.imp += kW * d.Hours()
	} else {
		m.exp += -kW * d.Hours()
	}
	m.t = m.t.Add(d)
}

func constant(kW float64) func(time.Time) float64 { return func(time.Time) float64 { return kW } }

// stepAt is load a until t, then b.
func stepAt(t time.Time, a, b float64) func(time.Time) float64 {
	return func(x time.Time) float64 {
		if x.Before(t) {
			return a
		}
		return b
	}
}

// show writes a quarter as the tests expect it: local start and end,
// import and export in kWh, quality.
func show(q Quarter) string {
	return fmt.Sprintf("%s-%s %.6f %.6f %s", q.Start.Format("01-02 15:04Z07:00"), q.End.Format("15:04Z07:00"),
		q.Import, q.Export, q.Quality)
}

func feed(l *Ledger, samples []Sample) []string {
	var got []string
	for _, s := range samples {
		for _, q := range l.Add(s) {
			got = append(got, show(q))
		}
	}
	return got
}

// TestQuarters checks the quarters of readings whose values are computed
// by hand in each case.
func TestQuarters(t *testing.T) {
	tests := []struct {
		name    string
		samples func() []Sample
		want    []string
		ignored int64
	}{{
		name: "constant load",
		samples: func() []Sample {
			// 2 kW for 45 minutes: 0.5 kWh a quarter.
			return newMeter(at(10, 0, 0)).run(nil, at(10, 45, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
			"06-02 10:30+02:00-10:45+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "readings begin and end inside quarters",
		samples: func() []Sample {
			// The quarters of the first and the last reading are not
			// complete and are not reported.
			return newMeter(at(10, 3, 7)).run(nil, at(10, 41, 3), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "a step in mid-quarter",
		samples: func() []Sample {
			// 1 kW until 10:05, then 4 kW: 1 × 5/60 + 4 × 10/60 = 0.75
			// kWh, then 4 × 0.25 = 1 kWh.
			return newMeter(at(10, 0, 0)).run(nil, at(10, 30, 0), 10*time.Second, stepAt(at(10, 5, 0), 1, 4))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.750000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 1.000000 0.000000 ok",
		},
	}, {
		name: "export only",
		samples: func() []Sample {
			// Solar: 2 kW exported for a quarter, then 1 kW imported
			// from 10:20: import 1 × 10/60, export 2 × 5/60.
			return newMeter(at(10, 0, 0)).run(nil, at(10, 30, 0), 10*time.Second, stepAt(at(10, 20, 0), -2, 1))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.000000 0.500000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.166667 0.166667 ok",
		},
	}, {
		name: "a gap of 2 minutes over a boundary",
		samples: func() []Sample {
			// Readings stop at 10:14 and resume at 10:16; the load
			// steps from 1 to 3 kW at 10:15. The register grows by
			// 1/60 + 3/60 over the gap; the boundary is put halfway,
			// at +2/60: 14/60 + 2/60 = 0.266667 (really 0.25) and
			// 2/60 + 3 × 14/60 = 0.733333 (really 0.75). Both
			// quarters are estimated.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 14, 0), 10*time.Second, constant(1))
			m.imp += 1.0 / 60
			m.t = at(10, 15, 0)
			m.skip(time.Minute, 3)
			return m.run(s, at(10, 45, 0), 10*time.Second, constant(3))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.266667 0.000000 estimated",
			"06-02 10:15+02:00-10:30+02:00 0.733333 0.000000 estimated",
			"06-02 10:30+02:00-10:45+02:00 0.750000 0.000000 ok",
		},
	}, {
		name: "a gap of one minute is ok",
		samples: func() []Sample {
			// Readings at 10:14:30 and 10:15:30 only: 1 kW stays 1 kW.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 14, 30), 10*time.Second, constant(1))
			m.skip(time.Minute, 1)
			return m.run(s, at(10, 30, 0), 10*time.Second, constant(1))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.250000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.250000 0.000000 ok",
		},
	}, {
		name: "a gap of an hour",
		samples: func() []Sample {
			// Nothing from 10:20 to 11:20: four boundaries in the
			// gap, five broken quarters around them.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 20, 0), 10*time.Second, constant(2))
			m.skip(time.Hour, 2)
			return m.run(s, at(11, 45, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.000000 0.000000 broken",
			"06-02 10:30+02:00-10:45+02:00 0.000000 0.000000 broken",
			"06-02 10:45+02:00-11:00+02:00 0.000000 0.000000 broken",
			"06-02 11:00+02:00-11:15+02:00 0.000000 0.000000 broken",
			"06-02 11:15+02:00-11:30+02:00 0.000000 0.000000 broken",
			"06-02 11:30+02:00-11:45+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "a gap of two days",
		samples: func() []Sample {
			// The quarters wholly inside the gap are left out.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 20, 0), 10*time.Second, constant(2))
			m.skip(48*time.Hour-15*time.Minute, 2)
			return m.run(s, at(10, 30, 0).Add(48*time.Hour), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.000000 0.000000 broken",
			"06-04 10:00+02:00-10:15+02:00 0.000000 0.000000 broken",
			"06-04 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "a register reset",
		samples: func() []Sample {
			// At 10:07 the registers start again from zero.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 6, 50), 10*time.Second, constant(2))
			m.t, m.imp, m.exp = at(10, 7, 0), 0, 0
			return m.run(s, at(10, 30, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.000000 0.000000 broken",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "a meter change",
		samples: func() []Sample {
			// At 10:07 another meter, whose registers are higher.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 6, 50), 10*time.Second, constant(2))
			m.t, m.imp, m.id = at(10, 7, 0), 5000, "SAG2"
			return m.run(s, at(10, 30, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.000000 0.000000 broken",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "a repeated telegram",
		samples: func() []Sample {
			s := newMeter(at(10, 0, 0)).run(nil, at(10, 15, 0), 10*time.Second, constant(2))
			return append(s[:10:10], append([]Sample{s[9]}, s[10:]...)...)
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
		},
		ignored: 1,
	}, {
		name: "one telegram from the future",
		samples: func() []Sample {
			// A single reading dated 2030 is a glitch, ignored.
			s := newMeter(at(10, 0, 0)).run(nil, at(10, 30, 0), 10*time.Second, constant(2))
			s[40].Time = time.Date(2030, 1, 1, 0, 0, 0, 0, winter)
			return s
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
		ignored: 1,
	}, {
		name: "one telegram from the past",
		samples: func() []Sample {
			s := newMeter(at(10, 0, 0)).run(nil, at(10, 30, 0), 10*time.Second, constant(2))
			s[40].Time = s[40].Time.Add(-time.Hour)
			return s
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
		ignored: 1,
	}, {
		name: "the clock jumps an hour ahead",
		samples: func() []Sample {
			// At 10:20 the meter's clock is set to 11:20; no energy
			// is lost, but the quarters in between cannot be known.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 20, 0), 10*time.Second, constant(2))
			m.t = m.t.Add(time.Hour)
			return m.run(s, at(11, 45, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.000000 0.000000 broken",
			"06-02 10:30+02:00-10:45+02:00 0.000000 0.000000 broken",
			"06-02 10:45+02:00-11:00+02:00 0.000000 0.000000 broken",
			"06-02 11:00+02:00-11:15+02:00 0.000000 0.000000 broken",
			"06-02 11:15+02:00-11:30+02:00 0.000000 0.000000 broken",
			"06-02 11:30+02:00-11:45+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "the clock is set back half an hour",
		samples: func() []Sample {
			// At 10:20 the clock goes back to 09:50. The quarters up
			// to 10:15 were reported; the clock goes over them again
			// without repeating them, and the quarter across the
			// change is broken.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 20, 0), 10*time.Second, constant(2))
			m.t = m.t.Add(-30 * time.Minute)
			return m.run(s, at(10, 45, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.500000 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.000000 0.000000 broken",
			"06-02 10:30+02:00-10:45+02:00 0.500000 0.000000 ok",
		},
	}, {
		name: "the clock is set back a few seconds",
		samples: func() []Sample {
			// A correction smaller than the step: the telegram that
			// goes back is ignored, nothing breaks. The meter's
			// quarter lasts 4 s longer in real time: 2 kW × 904 s.
			m := newMeter(at(10, 0, 0))
			s := m.run(nil, at(10, 5, 0), 10*time.Second, constant(2))
			m.t = m.t.Add(-4 * time.Second)
			return m.run(s, at(10, 30, 0), 10*time.Second, constant(2))
		},
		want: []string{
			"06-02 10:00+02:00-10:15+02:00 0.502222 0.000000 ok",
			"06-02 10:15+02:00-10:30+02:00 0.500000 0.000000 ok",
		},
		ignored: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l Ledger
			got := feed(&l, tc.samples())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("quarters (-want +got):\n%s", diff)
			}
			if l.Ignored() != tc.ignored {
				t.Errorf("Ignored() = %d, want %d", l.Ignored(), tc.ignored)
			}
		})
	}
}

// TestClockJumpLive: with the process clock, a meter clock that jumps 5
// minutes while the process clock moves 10 s breaks at once; the same
// readings from a capture only make the boundary estimated.
func TestClockJumpLive(t *testing.T) {
	m := newMeter(at(10, 0, 0))
	s := m.run(nil, at(10, 12, 0), 10*time.Second, constant(2))
	m.t = m.t.Add(5 * time.Minute)
	s = m.run(s, at(10, 45, 0), 10*time.Second, constant(2))
	recv := time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	for k := range s {
		s[k].Received = recv.Add(time.Duration(k) * 10 * time.Second)
	}
	var live, offline Ledger
	got := feed(&live, s)
	want := []string{
		"06-02 10:00+02:00-10:15+02:00 0.000000 0.000000 broken",
		"06-02 10:15+02:00-10:30+02:00 0.000000 0.000000 broken",
		"06-02 10:30+02:00-10:45+02:00 0.500000 0.000000 ok",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live (-want +got):\n%s", diff)
	}
	for k := range s {
		s[k].Received = time.Time{}
	}
	// Offline it looks like a gap of 5 minutes in which nothing was
	// drawn: 2 kW × 12 min = 0.4 kWh, then 2 kW × 13 min.
	got = feed(&offline, s)
	want = []string{
		"06-02 10:00+02:00-10:15+02:00 0.400000 0.000000 estimated",
		"06-02 10:15+02:00-10:30+02:00 0.433333 0.000000 estimated",
		"06-02 10:30+02:00-10:45+02:00 0.500000 0.000000 ok",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offline (-want +got):\n%s", diff)
	}
}

// TestDST checks the two nights the clock changes: 92 quarters on the last
// Sunday of March, 100 on the last Sunday of October, each aligned to the
// local clock.
func TestDST(t *testing.T) {
	tests := []struct {
		name       string
		day        time.Time // local midnight
		next       time.Time // the next local midnight
		quarters   int
		around     string // the quarter across the change
		aroundWant string
	}{{
		name:       "March",
		day:        time.Date(2025, 3, 30, 0, 0, 0, 0, winter),
		next:       time.Date(2025, 3, 31, 0, 0, 0, 0, summer),
		quarters:   92,
		around:     "03-30 01:45+01:00",
		aroundWant: "03-30 01:45+01:00-03:00+02:00 0.250000 0.000000 ok",
	}, {
		name:       "October",
		day:        time.Date(2025, 10, 26, 0, 0, 0, 0, summer),
		next:       time.Date(2025, 10, 27, 0, 0, 0, 0, winter),
		quarters:   100,
		around:     "10-26 02:45+02:00",
		aroundWant: "10-26 02:45+02:00-02:00+01:00 0.250000 0.000000 ok",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l Ledger
			got := feed(&l, newMeter(tc.day).run(nil, tc.next, time.Minute, constant(1)))
			if len(got) != tc.quarters {
				t.Errorf("%d quarters, want %d", len(got), tc.quarters)
			}
			for k, q := range got {
				if strings.HasPrefix(q, tc.around) && q != tc.aroundWant {
					t.Errorf("quarter %d: %s, want %s", k, q, tc.aroundWant)
				}
				if !strings.HasSuffix(q, " 0.250000 0.000000 ok") {
					t.Errorf("quarter %d: %s", k, q)
				}
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.aroundWant) {
				t.Errorf("no quarter %s", tc.aroundWant)
			}
			// Each local hour has its four quarters at :00, :15, :30, :45.
			for k, q := range got {
				if mm := q[9:11]; mm != [4]string{"00", "15", "30", "45"}[k%4] {
					t.Errorf("quarter %d starts at minute %s: %s", k, mm, q)
				}
			}
		})
	}
}

// TestMeasuredEnergy checks that the quarters add up to the registers:
// with no gap, the quarters between two readings on boundaries hold all
// the energy, through DST and a varying load.
func TestMeasuredEnergy(t *testing.T) {
	m := newMeter(time.Date(2025, 10, 25, 22, 0, 0, 0, summer))
	load := func(x time.Time) float64 { return float64(x.Unix()/70%9) - 2 } // -2 to 6 kW
	s := m.run(nil, time.Date(2025, 10, 26, 6, 0, 0, 0, winter), 10*time.Second, load)
	var l Ledger
	var imp, exp float64
	for _, x := range s {
		for _, q := range l.Add(x) {
			if q.Quality != OK {
				t.Fatalf("%s", show(q))
			}
			imp += q.Import
			exp += q.Export
		}
	}
	first, last := s[0], s[len(s)-1]
	if d := imp - (last.Import - first.Import); d > 1e-5 || d < -1e-5 {
		t.Errorf("import: quarters %.6f, registers %.6f", imp, last.Import-first.Import)
	}
	if d := exp - (last.Export - first.Export); d > 1e-5 || d < -1e-5 {
		t.Errorf("export: quarters %.6f, registers %.6f", exp, last.Export-first.Export)
	}
}

func TestQualityString(t *testing.T) {
	for q, want := range map[Quality]string{OK: "ok", Estimated: "estimated", Broken: "broken", 7: "Quality(7)"} {
		if got := q.String(); got != want {
			t.Errorf("%d: %q, want %q", q, got, want)
		}
	}
}

func TestExcess(t *testing.T) {
	tests := []struct {
		q        Quarter
		ref      float64
		avg, exc float64
	}{
		{Quarter{Import: 1}, 3, 4, 0.25},
		{Quarter{Import: 0.75}, 3, 3, 0},
		{Quarter{Import: 0.5}, 3, 2, 0},
		{Quarter{Import: 1}, 0, 4, 0},
		{Quarter{Import: 1, Quality: Estimated}, 2, 4, 0.5},
		{Quarter{Quality: Broken}, 3, 0, 0},
		{Quarter{Import: 3.2}, 12, 12.8, 0.2},
	}
	for _, tc := range tests {
		if got := tc.q.Average(); got != tc.avg {
			t.Errorf("%+v: Average %v, want %v", tc.q, got, tc.avg)
		}
		if got := tc.q.Excess(tc.ref); got != tc.exc {
			t.Errorf("%+v: Excess(%v) %v, want %v", tc.q, tc.ref, got, tc.exc)
		}
	}
}
