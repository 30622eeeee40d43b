package quarterlive

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

var cest = time.FixedZone("CEST", 2*60*60)

// meterSource is a live.Source of a simulated meter: a telegram every 10 s
// of the process clock (the fake one of synctest), n in all, then io.EOF.
type meterSource struct {
	meter *sim.Meter
	n     int
	m     smarty.Message
	buf   []byte
}

func (s *meterSource) Next(ctx context.Context) (*smarty.Message, error) {
	if s.n == 0 {
		return nil, io.EOF
	}
	s.n--
	select {
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.buf = s.meter.AppendTelegram(s.buf[:0])
	if err := s.m.Telegram.UnmarshalText(s.buf); err != nil {
		return nil, err
	}
	return &s.m, nil
}

// recorder is an Output that keeps the quarter figures it is handed.
type recorder struct {
	mu       sync.Mutex
	statuses []quarter.Status
	missing  int
}

func (o *recorder) Reading(r *live.Reading) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.Quarter == nil {
		o.missing++
		return
	}
	o.statuses = append(o.statuses, *r.Quarter)
}
func (o *recorder) Link(live.LinkState) {}
func (o *recorder) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// TestWarningFiresWhereTheProfileCrosses runs a simulated household through
// the live loop, on synctest's clock: 0.3 kW, 4.5 kW from 12:04 to 12:14,
// 5 kW from 18:20 to 18:50, against 3 kW. The warning must be sent in
// each quarter where the projection (energy so far + power now × time
// left) computed from the profile itself goes over 0.75 kWh, once, and in
// no other.
func TestWarningFiresWhereTheProfileCrosses(t *testing.T) {
	profile, err := sim.ParseProfile(strings.NewReader("00:00,0.3\n12:04,4.5\n12:14,0.3\n18:20,5\n18:50,0.3\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 6, 2, 11, 30, 0, 0, cest)
	const n = 8 * 360 // until 19:30
	const refPower = 3.0

	// What the profile says, telegram by telegram.
	var want []string
	for k := range n {
		at := start.Add(time.Duration(k) * 10 * time.Second)
		q := at.Truncate(quarter.Length)
		imp, _ := profile.Energy(q, at)
		projected := imp + max(0, profile.Power(at))*q.Add(quarter.Length).Sub(at).Hours()
		if projected > refPower*quarter.Length.Hours() && !slices.Contains(want, q.Format("15:04")) {
			want = append(want, q.Format("15:04"))
		}
	}
	if len(want) < 3 {
		t.Fatalf("the profile crosses in %v only: the test proves little", want)
	}

	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		src := &meterSource{meter: sim.New(sim.Config{Seed: 9, Start: start, Profile: profile}), n: n}
		w := New(refPower, 0.1139, log)
		loop := live.NewLoop(src, live.LoopConfig{Device: "sim", Annotate: w.Annotate})
		rec := &recorder{}
		loop.Add(rec)
		if err := loop.Run(t.Context()); err != nil {
			t.Fatal(err)
		}

		var got []string
		warned := map[string]int{}
		for _, st := range rec.statuses {
			if st.Warn {
				q := st.Start.Format("15:04")
				if warned[q] == 0 {
					got = append(got, q)
				}
				warned[q]++
			}
			if st.Warn && !st.Warning {
				t.Errorf("%s: Warn without Warning", st.Time.Format("15:04:05"))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("warned in %v, the profile crosses in %v", got, want)
		}
		for q, k := range warned {
			if k != 1 {
				t.Errorf("%s: warned %d times", q, k)
			}
		}
		if len(rec.statuses) != n || rec.missing != 0 {
			t.Errorf("%d readings with figures, %d without; want %d", len(rec.statuses), rec.missing, n)
		}
		if c := strings.Count(logs.String(), "level=WARN"); c != len(want) {
			t.Errorf("%d warnings logged, want %d:\n%s", c, len(want), logs.String())
		}
		// 12:00 ends at 0.02 + 0.75 + 0.005 = 0.775 kWh: 0.025 over.
		if !strings.Contains(logs.String(), `msg="the quarter-hour 12:00-12:15 went over the reference power of 3 kW: 0.775 kWh drawn (3.1 kW on average), 0.025 kWh over, 0.00 EUR"`) {
			t.Errorf("no line for 12:00-12:15 going over:\n%s", logs.String())
		}
		// At 12:04: 0.02 kWh, and 4.5 kW for 11 minutes: 0.845 kWh, 3.38 kW
		// on average; (0.75 - 0.02) / 11 min = 3.98 kW would stay under.
		if !strings.Contains(logs.String(), `msg="the quarter-hour 12:00-12:15 against the reference power of 3 kW is heading over it: 4.5 kW now, 3.38 kW expected on average; draw 0.52 kW less until 12:15 to stay under"`) {
			t.Errorf("no warning for 12:00-12:15:\n%s", logs.String())
		}
	})
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string
		on   bool
	}{
		{nil, "", false},
		{[]string{"-refPower", "7"}, "", true},
		{[]string{"-refPower", "7", "-excessPrice", "0.1139"}, "", true},
		{[]string{"-refPower", "-1"}, "-refPower -1: want the reference power in kW", false},
		{[]string{"-excessPrice", "0.1"}, "-excessPrice needs -refPower", false},
		{[]string{"-refPower", "3", "-excessPrice", "-2"}, "-excessPrice -2: want a price", false},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := f.Check()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
		if err == nil && (f.Watcher(nil) != nil) != tc.on {
			t.Errorf("%q: watcher %v, want %v", tc.args, f.Watcher(nil) != nil, tc.on)
		}
	}
}
