package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/quarterlive"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// TestPrometheus: a real Prometheus server scrapes /metrics (with basic
// authentication) and returns the meter's power through its query API;
// promtool finds nothing to lint; once the meter falls silent the query
// returns no reading and smarty_up is 0.
func TestPrometheus(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Username: "smarty", Password: "s3cret"})
	ms := messages(t, 2, noon)
	s.Reading(live.NewReading(ms[0], time.Now()))

	// promtool on what Prometheus will scrape.
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/metrics", nil)
	req.SetBasicAuth("smarty", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out, err := clienttest.CheckMetrics(t, body); err != nil || out != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	p := clienttest.StartPrometheus(t, clienttest.Scrape{
		Target: s.Addr().String(), Interval: 500 * time.Millisecond,
		Username: "smarty", Password: "s3cret",
	})
	meter := ms[0].Telegram.MeterID()
	query := fmt.Sprintf(`smarty_power_export_watts{meter=%q}`, meter)
	want := func(i int) float64 { kW, _ := ms[i].Telegram.PowerExport(); return kW * 1000 }
	var last string
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		clienttest.Eventually(t, 30*time.Second, what, func() bool {
			ok := cond()
			if !ok {
				h, e, _ := p.Targets()
				last = h + " " + e
			}
			return ok
		})
	}
	value := func(expr string) (float64, bool) {
		got, err := p.Query(expr)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			return 0, false
		}
		return got[0].Value, true
	}
	waitFor("Prometheus returns the power of telegram 1", func() bool {
		v, ok := value(query)
		return ok && v == want(0)
	})
	s.Reading(live.NewReading(ms[1], time.Now()))
	waitFor("Prometheus returns the power of telegram 2", func() bool {
		v, ok := value(query)
		return ok && v == want(1)
	})
	if v, ok := value(`smarty_up`); !ok || v != 1 {
		t.Errorf("smarty_up = %v, %v; want 1", v, ok)
	}
	if v, ok := value(fmt.Sprintf(`smarty_voltage_volts{meter=%q,phase="L2"}`, meter)); !ok || v < 200 {
		t.Errorf("voltage L2 = %v, %v", v, ok)
	}

	s.Link(live.LinkSilent) // the meter is silent past the watchdog
	waitFor("the reading gone and smarty_up 0", func() bool {
		got, err := p.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		up, ok := value(`smarty_up`)
		return len(got) == 0 && ok && up == 0
	})
	if t.Failed() {
		t.Logf("last target state: %s", last)
	}
}

// TestPage: headless Chromium, sized as a phone, loads the page; the DOM
// shows the power of the latest telegram, and of the next one within one
// telegram's time, and the quarter-hour against a reference power of 3 kW
// (the figures the live loop adds with -refPower 3 -excessPrice 0.1139).
// The screenshot is docs/gateway-page.png (go test -run '^TestPage$'
// -update ./internal/httpapi rewrites it).
func TestPage(t *testing.T) {
	t.Parallel()
	b := clienttest.StartChromium(t)
	s := startServer(t, Config{Health: func() Health {
		return Health{Telegrams: 361, Failures: map[string]int64{"crc": 1}, LastTelegram: time.Now()}
	}})
	// An hour of telegrams, as if they had come every 10 s.
	// An hour to 19:07, when the household draws more than the panels
	// give: the quarter-hour has something to show.
	ms := messages(t, 362, noon.Add(6*time.Hour+7*time.Minute))
	now := time.Now()
	guard := quarterlive.New(3, 0.1139, nil)
	reading := func(m *smarty.Message, received time.Time) *live.Reading {
		r := live.NewReading(m, received)
		guard.Annotate(r)
		return r
	}
	for i, m := range ms[:361] {
		for len(s.updates) == cap(s.updates) {
			time.Sleep(time.Millisecond) // far faster than a meter: let Run's goroutine keep up
		}
		s.Reading(reading(m, now.Add(time.Duration(i-360)*10*time.Second)))
	}
	b.Phone(390, 844, 2)
	b.Navigate("http://" + s.Addr().String() + "/")

	shows := func(i int) {
		t.Helper()
		kW, _ := ms[i].Telegram.PowerImport()
		want := strconv.FormatFloat(kW*1000, 'f', -1, 64)
		var got string
		clienttest.Eventually(t, 10*time.Second, "the page shows telegram "+strconv.Itoa(i+1)+"'s power", func() bool {
			got, _ = b.Eval(`document.getElementById('power-in').dataset.watts || ''`)
			return got == want
		})
	}
	shows(360)
	s.Reading(reading(ms[361], time.Now()))
	shows(361)

	for _, check := range []struct{ expr, want string }{
		{`document.getElementById('link').textContent`, "live"},
		{`document.getElementById('meter').textContent`, ms[0].Telegram.MeterID()},
		{`String(document.querySelectorAll('#phases tbody tr').length)`, "3"},
		{`String(document.querySelectorAll('#chart path').length > 0)`, "true"},
		{`String(document.getElementById('today-in').textContent.endsWith('kWh'))`, "true"},
		{`String(document.getElementById('quarter').hidden)`, "false"},
		{`document.getElementById('q-ref-power').textContent`, "3 kW"},
	} {
		if got, err := b.Eval(check.expr); err != nil || got != check.want {
			t.Errorf("%s = %q, %v; want %q", check.expr, got, err, check.want)
		}
	}
	png := b.Screenshot()
	if len(png) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(png))
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "gateway-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s.Link(live.LinkSilent)
	clienttest.Eventually(t, 10*time.Second, "the page says the meter is silent", func() bool {
		got, _ := b.Eval(`document.getElementById('link').textContent + '|' + document.getElementById('power-in').textContent`)
		return got == "no telegrams|–"
	})
}
