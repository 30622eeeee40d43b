package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

var update = flag.Bool("update", false, "rewrite the golden files (and docs/gateway-page.png)")

var testKey = smarty.Key{0xAE, 0xBD, 0x21, 0xB7, 0x69, 0xA6, 0xD1, 0x3C, 0x0D, 0xF0, 0x64, 0xE3, 0x83, 0xAE, 0x7F, 0xC2}

// messages returns n telegrams of a simulated meter, encrypted and read
// back through a smarty.Reader as the live loop does, each a clone that
// may be kept.
func messages(t testing.TB, n int, start time.Time) []*smarty.Message {
	t.Helper()
	c := smarty.NewCipher(testKey, smarty.LuxembourgAuthKey)
	src := &sim.Stream{
		Meter:  sim.New(sim.Config{Seed: 3, Start: start}),
		Framer: &sim.Framer{Cipher: c, SystemTitle: sim.SystemTitle(3), Counter: 1000},
		Count:  n,
	}
	r := smarty.NewReader(src, c)
	out := make([]*smarty.Message, n)
	for i := range out {
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		k := *m
		k.Telegram = *m.Telegram.Clone()
		out[i] = &k
	}
	return out
}

var noon = time.Date(2025, time.June, 2, 10, 0, 0, 0, time.UTC) // 12:00 in Luxembourg: sun on phase 1

func get(t testing.TB, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

// smartyLines returns the lines of a /metrics body about the meter
// (smarty_*), without the Go runtime's and the process's.
func smartyLines(body string) string {
	var b strings.Builder
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, "smarty_") || strings.HasPrefix(l, "# HELP smarty_") || strings.HasPrefix(l, "# TYPE smarty_") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what was served (go test -update rewrites it); served:\n%s", path, got)
	}
}

var fixedHealth = func() Health {
	return Health{
		Telegrams:    1234,
		Failures:     map[string]int64{"auth": 2, "crc": 1, "truncated": 5},
		CounterGaps:  3,
		MissedFrames: 7,
		Reconnects:   4,
		LastTelegram: time.Date(2025, time.June, 2, 10, 0, 0, 0, time.UTC),
	}
}

// TestMetrics: every reading of a Smarty telegram, in base units with the
// meter and phase labels, and the health, as a golden file.
func TestMetrics(t *testing.T) {
	s := New(nil, Config{Health: fixedHealth})
	m := messages(t, 1, noon)[0]
	s.take(live.NewReading(m, time.Now()))
	w := get(t, s.Handler(), "/metrics")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	golden(t, "metrics.txt", smartyLines(body))
	// Spot checks against the telegram, beside the golden file.
	kW, _ := m.Telegram.PowerImport()
	kWh, _ := m.Telegram.EnergyImport()
	for _, want := range []string{
		fmt.Sprintf(`smarty_power_import_watts{meter=%q} %v`, m.Telegram.MeterID(), kW*1000),
		fmt.Sprintf(`smarty_energy_import_joules_total{meter=%q} %v`, m.Telegram.MeterID(), fmtFloat(kWh*3.6e6)),
		`smarty_voltage_volts{meter="` + m.Telegram.MeterID() + `",phase="L3"}`,
		"smarty_up 1\n",
		`smarty_frame_failures_total{reason="auth"} 2`,
		"process_resident_memory_bytes",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// fmtFloat writes f as the Prometheus text format does.
func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestNeverStale: the readings go away when the meter falls silent, by
// the link's word or by StaleAfter, and come back with the next telegram.
func TestNeverStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil, Config{StaleAfter: time.Minute})
		h := s.Handler()
		ms := messages(t, 2, noon)
		up := func(want bool, when string) {
			t.Helper()
			body := get(t, h, "/metrics").Body.String()
			hasReading := strings.Contains(body, "smarty_power_import_watts{")
			var live liveView
			json.Unmarshal(get(t, h, "/api/live").Body.Bytes(), &live)
			code := get(t, h, "/api/telegram").Code
			if want {
				if !hasReading || !strings.Contains(body, "smarty_up 1\n") || !live.Up || live.PowerIn == nil || code != 200 {
					t.Errorf("%s: want readings served: reading %v, live %+v, /api/telegram %d", when, hasReading, live, code)
				}
			} else {
				if hasReading || !strings.Contains(body, "smarty_up 0\n") || live.Up || live.PowerIn != nil || code != 503 {
					t.Errorf("%s: want no reading served: reading %v, live %+v, /api/telegram %d", when, hasReading, live, code)
				}
			}
		}
		up(false, "before the first telegram")
		s.take(live.NewReading(ms[0], time.Now()))
		up(true, "after a telegram")
		time.Sleep(time.Minute)
		up(true, "StaleAfter after it")
		time.Sleep(time.Millisecond)
		up(false, "past StaleAfter")
		s.take(live.NewReading(ms[1], time.Now()))
		up(true, "after the next telegram")
		s.setLink(live.LinkSilent)
		up(false, "with the link down")
		s.take(live.NewReading(ms[1], time.Now()))
		up(true, "after a telegram with the link down")
	})
}

func TestTelegramJSON(t *testing.T) {
	s := New(nil, Config{})
	m := messages(t, 1, noon)[0]
	s.take(live.NewReading(m, time.Now()))
	w := get(t, s.Handler(), "/api/telegram")
	want := string(format.AppendMessage(nil, m)) + "\n"
	if w.Body.String() != want {
		t.Errorf("/api/telegram:\n%s\nwant the JSON of -format json:\n%s", w.Body, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v["frame_counter"] == nil {
		t.Errorf("not the JSON of an encrypted telegram: %v %v", err, v)
	}
}

// TestLive: what the page gets, with the chart of the last hour and
// today's energy.
func TestLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil, Config{Health: fixedHealth})
		// An hour and a half of telegrams, one every 10 s.
		ms := messages(t, 540, noon)
		for _, m := range ms {
			s.take(live.NewReading(m, time.Now()))
			time.Sleep(10 * time.Second)
		}
		var v liveView
		if err := json.Unmarshal(get(t, s.Handler(), "/api/live?history=1").Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		last := &ms[len(ms)-1].Telegram
		kW, _ := last.PowerImport()
		v1, _ := last.Voltage(1)
		first := &ms[0].Telegram
		in0, _ := first.EnergyImport()
		in1, _ := last.EnergyImport()
		switch {
		case !v.Up || v.Meter != last.MeterID():
			t.Errorf("up %v, meter %q", v.Up, v.Meter)
		case v.PowerIn == nil || *v.PowerIn != kW*1000:
			t.Errorf("power in %v, want %v W", v.PowerIn, kW*1000)
		case len(v.Phases) != 3 || v.Phases[0].Voltage == nil || *v.Phases[0].Voltage != v1:
			t.Errorf("phases %+v", v.Phases)
		case v.Today == nil || fmt.Sprintf("%.3f", v.Today.In) != fmt.Sprintf("%.3f", in1-in0):
			t.Errorf("today %+v, want %.3f kWh in", v.Today, in1-in0)
		case len(v.History) < 355 || len(v.History) > 362:
			t.Errorf("%d points of history, want an hour's at 10 s", len(v.History))
		case v.Link.Telegrams != 1234 || v.Link.Failures != 8 || v.Link.Reconnects != 4:
			t.Errorf("link %+v", v.Link)
		}
		var plain liveView
		json.Unmarshal(get(t, s.Handler(), "/api/live").Body.Bytes(), &plain)
		if plain.History != nil {
			t.Error("history without ?history=1")
		}
	})
}

func TestAuth(t *testing.T) {
	s := New(nil, Config{Username: "smarty", Password: "secret"})
	s.take(live.NewReading(messages(t, 1, noon)[0], time.Now()))
	for _, path := range []string{"/", "/app.js", "/metrics", "/api/telegram", "/api/live"} {
		for _, tc := range []struct {
			user, pass string
			want       int
		}{
			{"", "", 401},
			{"smarty", "wrong", 401},
			{"other", "secret", 401},
			{"smarty", "secret", 200},
		} {
			r := httptest.NewRequest("GET", path, nil)
			if tc.user != "" {
				r.SetBasicAuth(tc.user, tc.pass)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("%s as %s:%s: status %d, want %d", path, tc.user, tc.pass, w.Code, tc.want)
			}
			if w.Code == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s: 401 without a Basic challenge", path)
			}
		}
	}
}

// TestPageServed: the page and its parts come from the binary, with a
// policy that allows nothing from elsewhere.
func TestPageServed(t *testing.T) {
	s := New(nil, Config{})
	for path, ct := range map[string]string{"/": "text/html", "/app.js": "javascript", "/style.css": "text/css"} {
		w := get(t, s.Handler(), path)
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
		}
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no content security policy", path)
		}
		body := bytes.ReplaceAll(w.Body.Bytes(), []byte("http://www.w3.org/2000/svg"), nil) // a name, not a place
		if bytes.Contains(body, []byte("http://")) || bytes.Contains(body, []byte("https://")) || bytes.Contains(body, []byte(`"//`)) {
			t.Errorf("%s refers to another site", path)
		}
	}
	if w := get(t, s.Handler(), "/nothing"); w.Code != 404 {
		t.Errorf("/nothing: %d", w.Code)
	}
}

// startServer runs a Server on a free loopback port until the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// readEvents reads events from an open stream into a channel.
func readEvents(body io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var e sseEvent
		for sc.Scan() {
			l := sc.Text()
			switch {
			case l == "":
				if e.data != "" {
					ch <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(l, "id: "):
				e.id = l[4:]
			case strings.HasPrefix(l, "event: "):
				e.event = l[7:]
			case strings.HasPrefix(l, "data: "):
				e.data = l[6:]
			}
		}
	}()
	return ch
}

// TestEvents: each telegram is one event with its JSON, to every stream;
// the link's changes are "link" events.
func TestEvents(t *testing.T) {
	s := startServer(t, Config{})
	url := "http://" + s.Addr().String() + "/api/events"
	var streams []<-chan sseEvent
	for range 3 {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		streams = append(streams, readEvents(resp.Body))
	}
	clienttest.Eventually(t, 10*time.Second, "three streams open", func() bool { return s.events.count() == 3 })
	ms := messages(t, 5, noon)
	for _, m := range ms {
		s.Reading(live.NewReading(m, time.Now()))
	}
	s.Link(live.LinkSilent)
	s.Link(live.LinkSilent) // no second event
	s.Reading(live.NewReading(ms[0], time.Now()))
	for i, ch := range streams {
		for k, m := range ms {
			e := <-ch
			if e.event != "" || e.id != fmt.Sprint(k+1) || e.data != string(format.AppendMessage(nil, m)) {
				t.Fatalf("stream %d, event %d: %+v", i, k+1, e)
			}
		}
		if e := <-ch; e.event != "link" || e.data != `{"up":false}` {
			t.Fatalf("stream %d: %+v, want the link down", i, e)
		}
		if e := <-ch; e.event != "link" || e.data != `{"up":true}` {
			t.Fatalf("stream %d: %+v, want the link up", i, e)
		}
		if e := <-ch; e.id != "6" {
			t.Fatalf("stream %d: %+v, want telegram 6", i, e)
		}
	}
}

// TestEventDrops: a stream that does not keep up loses events, counted,
// and never delays Telegram.
func TestEventDrops(t *testing.T) {
	s := New(nil, Config{EventQueue: 4})
	st := s.events.open()
	defer s.events.close(st)
	for _, m := range messages(t, 10, noon) {
		s.take(live.NewReading(m, time.Now()))
	}
	if n := s.events.dropped.Load(); n != 6 {
		t.Errorf("%d events dropped, want 6", n)
	}
	if !strings.Contains(get(t, s.Handler(), "/metrics").Body.String(), "smarty_event_stream_dropped_total 6\n") {
		t.Error("the drops are not in /metrics")
	}
}

func TestMaxEventClients(t *testing.T) {
	s := startServer(t, Config{MaxEventClients: 1})
	url := "http://" + s.Addr().String() + "/api/events"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	resp2, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream: %s", resp2.Status)
	}
}

func TestListen(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "0.0.0.0:8080"},
		{"8080", ""},
	} {
		got, err := loopbackDefault(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("loopbackDefault(%q) = %q, %v", tc.in, got, err)
		}
	}
	s := startServer(t, Config{})
	if _, err := Listen(Config{Addr: s.Addr().String()}); err == nil || !strings.HasPrefix(err.Error(), "httpapi: ") {
		t.Errorf("Listen on a port in use: %v", err)
	}
}

// TestReadingNeverWaits: Reading and Link only queue; with Run's goroutine
// not running, what does not fit is dropped and counted, and nothing
// blocks.
func TestReadingNeverWaits(t *testing.T) {
	s := New(nil, Config{})
	r := live.NewReading(messages(t, 1, noon)[0], time.Now())
	for range updateQueue {
		s.Reading(r)
	}
	s.Link(live.LinkSilent)
	s.Reading(r)
	if n := s.lost.Load(); n != 2 {
		t.Errorf("%d updates lost, want 2", n)
	}
	if s.latest.Load() != nil {
		t.Error("a reading was taken without Run")
	}
}
