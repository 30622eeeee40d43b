package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

// TestPrometheus is in a file of its own, whose name sorts before the
// others': it waits about 5 s for Prometheus's first scrape (its target
// discovery sends its first targets after 5 s, and no flag changes that),
// and of the parallel tests, which go test runs two at a time on two
// cores, it should start first so that the others run beside it.

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
		Target: s.Addr().String(), Interval: 100 * time.Millisecond,
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
