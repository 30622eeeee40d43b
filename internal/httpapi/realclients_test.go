package httpapi

import (
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
