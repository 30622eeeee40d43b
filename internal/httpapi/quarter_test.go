package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// quarterReading is a telegram with quarter-hour figures as the live loop
// hands it over with -refPower 3 -excessPrice 0.1139: at 12:04 of a
// quarter heading over.
func quarterReading(t testing.TB, received time.Time) *live.Reading {
	r := live.NewReading(messages(t, 1, noon)[0], received)
	cest := time.FixedZone("CEST", 2*60*60)
	r.Quarter = &quarter.Status{
		Time: time.Date(2025, 6, 2, 12, 4, 0, 0, cest), Received: received,
		Start: time.Date(2025, 6, 2, 12, 0, 0, 0, cest), End: time.Date(2025, 6, 2, 12, 15, 0, 0, cest),
		Import: 0.02, Average: 0.3, Power: 4.5, Projected: 0.845,
		RefPower: 3, Price: 0.1139, Margin: -0.518182,
		ExcessDay: 1.25, ExcessMonth: 10.5, CostDay: 0.142375, CostMonth: 1.19595,
		Warning: true, Warn: true,
	}
	return r
}

// TestQuarterMetrics: the quarter-hour figures as gauges in base units,
// which promtool accepts; none without them.
func TestQuarterMetrics(t *testing.T) {
	s := New(nil, Config{})
	s.take(quarterReading(t, time.Now()))
	body := get(t, s.Handler(), "/metrics").Body.String()
	meter := `{meter="` + s.latest.Load().meterID + `"`
	for _, want := range []string{
		"smarty_quarter_reference_power_watts" + meter + "} 3000\n",
		"smarty_quarter_start_timestamp_seconds" + meter + "} 1.7488584e+09\n",
		"smarty_quarter_import_joules" + meter + "} 72000\n",
		"smarty_quarter_average_power_watts" + meter + "} 300\n",
		"smarty_quarter_projected_power_watts" + meter + "} 3380\n",
		"smarty_quarter_margin_watts" + meter + "} -518.182\n",
		"smarty_quarter_excess_joules" + meter + `,period="day"} 4.5e+06` + "\n",
		"smarty_quarter_excess_joules" + meter + `,period="month"} 3.78e+07` + "\n",
		"smarty_quarter_excess_cost_euros" + meter + `,period="month"} 1.196` + "\n",
		"smarty_quarter_warning" + meter + "} 1\n",
		"smarty_quarter_estimated" + meter + "} 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if out, err := clienttest.CheckMetrics(t, []byte(body)); err != nil || out != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	plain := New(nil, Config{})
	plain.take(live.NewReading(messages(t, 1, noon)[0], time.Now()))
	if body := get(t, plain.Handler(), "/metrics").Body.String(); strings.Contains(body, "smarty_quarter_import") {
		t.Error("quarter-hour metrics without -refPower")
	}
}

// TestQuarterLive: the quarter object of /api/live, in kW, kWh and EUR.
func TestQuarterLive(t *testing.T) {
	s := New(nil, Config{})
	s.take(quarterReading(t, time.Now()))
	var v liveView
	if err := json.Unmarshal(get(t, s.Handler(), "/api/live").Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	q := v.Quarter
	switch {
	case q == nil:
		t.Fatal("no quarter")
	case q.RefPower != 3 || q.Import != 0.02 || q.Projected != 3.38 || q.Margin != -0.518:
		t.Errorf("figures %+v", q)
	case q.ExcessDay != 1.25 || q.CostDay == nil || *q.CostDay != 0.14 || q.CostMonth == nil || *q.CostMonth != 1.2:
		t.Errorf("excess %+v", q)
	case !q.Warning || q.Estimated || q.Start.Format("15:04") != "12:00":
		t.Errorf("state %+v", q)
	}
}

// TestPageQuarter: headless Chromium shows the quarter-hour section, its
// warning, and hides the section without the figures.
func TestPageQuarter(t *testing.T) {
	t.Parallel()
	b := clienttest.StartChromium(t)
	s := startServer(t, Config{})
	s.Reading(quarterReading(t, time.Now()))
	b.Phone(390, 844, 2)
	b.Navigate("http://" + s.Addr().String() + "/")
	clienttest.Eventually(t, 10*time.Second, "the page shows the quarter-hour", func() bool {
		got, _ := b.Eval(`String(document.getElementById('quarter').hidden)`)
		return got == "false"
	})
	for _, check := range []struct{ expr, want string }{
		{`document.getElementById('q-projected').textContent`, "3.38 kW"},
		{`document.getElementById('q-margin').textContent`, "-0.52 kW"},
		{`document.getElementById('q-ref-power').textContent`, "3 kW"},
		{`document.getElementById('q-day').textContent`, "1.250 kWh, 0.14 EUR"},
		{`String(document.getElementById('q-warn').hidden)`, "false"},
		{`String(document.getElementById('quarter').classList.contains('over'))`, "true"},
	} {
		if got, err := b.Eval(check.expr); err != nil || got != check.want {
			t.Errorf("%s = %q, %v; want %q", check.expr, got, err, check.want)
		}
	}
	// The next telegram without figures (no -refPower) hides it.
	s.Reading(live.NewReading(messages(t, 2, noon)[1], time.Now()))
	clienttest.Eventually(t, 10*time.Second, "the page hides the quarter-hour", func() bool {
		got, _ := b.Eval(`String(document.getElementById('quarter').hidden)`)
		return got == "true"
	})
}
