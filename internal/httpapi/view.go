package httpapi

import (
	"encoding/json"
	"log"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/quarterlive"
)

// What the live page shows, as /api/live serves it.

// HistoryWindow is how far back the page's chart reaches.
const HistoryWindow = time.Hour

// historyStep is the smallest time between two points of the chart: a
// meter that sends every second gives one point in five.
const historyStep = 5 * time.Second

// point is one point of the chart: the time (Unix seconds) and the power
// drawn and fed in, in watts.
type point struct {
	t        int64
	in, out  float64
	received time.Time
}

// history is the power of the last HistoryWindow, oldest first.
type history struct {
	points []point
}

func (h *history) add(r *reading) {
	in, okIn := r.msg.Telegram.PowerImport()
	out, okOut := r.msg.Telegram.PowerExport()
	if !okIn && !okOut {
		return
	}
	p := point{t: r.received.Unix(), in: in * 1000, out: out * 1000, received: r.received}
	if n := len(h.points); n > 0 && r.received.Sub(h.points[n-1].received) < historyStep {
		h.points[n-1] = p
	} else {
		h.points = append(h.points, p)
	}
	// Forget what is older than the window; compact now and then so the
	// slice does not grow.
	cut := 0
	for cut < len(h.points) && r.received.Sub(h.points[cut].received) > HistoryWindow {
		cut++
	}
	if cut > 0 {
		h.points = append(h.points[:0], h.points[cut:]...)
	}
}

// today is the energy drawn and fed in since the start of the meter's
// day, or since the first telegram of the day this process saw.
type today struct {
	day             string    // the meter's date, YYYY-MM-DD
	since           time.Time // the time of the first telegram of the day
	inBase, outBase float64   // the registers then, kWh
	in, out         float64   // the registers now, kWh
	ok              bool
}

func (d *today) add(r *reading) {
	in, okIn := r.msg.Telegram.EnergyImport()
	out, okOut := r.msg.Telegram.EnergyExport()
	if !okIn || !okOut {
		return
	}
	t, ok := r.msg.Telegram.Time()
	if !ok {
		t = r.received
	}
	day := t.Format(time.DateOnly)
	if day != d.day || in < d.inBase || out < d.outBase {
		// A new day, or a register that went back (another meter).
		*d = today{day: day, since: t, inBase: in, outBase: out}
	}
	d.in, d.out, d.ok = in, out, true
}

// liveView is the JSON of /api/live. Fields in watts, volts, amperes and
// kWh; absent when the telegram lacks them.
type liveView struct {
	Up        bool              `json:"up"`
	Meter     string            `json:"meter,omitempty"`
	Received  *time.Time        `json:"received,omitempty"`
	MeterTime *time.Time        `json:"meter_time,omitempty"`
	PowerIn   *float64          `json:"power_import_w,omitempty"`
	PowerOut  *float64          `json:"power_export_w,omitempty"`
	Phases    []phase           `json:"phases,omitempty"`
	Today     *todayView        `json:"today,omitempty"`
	Quarter   *quarterlive.View `json:"quarter,omitempty"` // with -refPower
	Link      linkView          `json:"link"`
	History   [][3]any          `json:"history,omitempty"` // [unix seconds, W in, W out]
}

type phase struct {
	Phase    string   `json:"phase"`
	Voltage  *float64 `json:"voltage_v,omitempty"`
	Current  *float64 `json:"current_a,omitempty"`
	PowerIn  *float64 `json:"power_import_w,omitempty"`
	PowerOut *float64 `json:"power_export_w,omitempty"`
}

type todayView struct {
	Since time.Time `json:"since"`
	In    float64   `json:"import_kwh"`
	Out   float64   `json:"export_kwh"`
}

type linkView struct {
	Telegrams    int64      `json:"telegrams"`
	Failures     int64      `json:"failures"`
	CounterGaps  int64      `json:"counter_gaps"`
	Reconnects   int64      `json:"reconnects"`
	LastTelegram *time.Time `json:"last_telegram,omitempty"`
}

// num returns v rounded to three decimals, nil when !ok.
func num(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	v = math.Round(v*1000) / 1000
	return &v
}

// watts returns kW in W, nil when !ok.
func watts(kW float64, ok bool) *float64 { return num(kW*1000, ok) }

// live builds the page's view; withHistory adds the chart's points.
func (s *Server) live(withHistory bool) liveView {
	var v liveView
	h := s.health()
	v.Link = linkView{Telegrams: h.Telegrams, CounterGaps: h.CounterGaps, Reconnects: h.Reconnects}
	for _, n := range h.Failures {
		v.Link.Failures += n
	}
	if !h.LastTelegram.IsZero() {
		v.Link.LastTelegram = &h.LastTelegram
	} else if l := s.latest.Load(); l != nil {
		v.Link.LastTelegram = &l.received
	}
	r := s.current()
	if r == nil {
		return v
	}
	t := &r.msg.Telegram
	v.Up = true
	v.Meter = r.meterID
	v.Received = &r.received
	if mt, ok := t.Time(); ok {
		v.MeterTime = &mt
	}
	v.Quarter = quarterlive.ViewOf(r.quarter)
	v.PowerIn = watts(t.PowerImport())
	v.PowerOut = watts(t.PowerExport())
	for k := 1; k <= 3; k++ {
		p := phase{
			Phase:    "L" + string(rune('0'+k)),
			Voltage:  num(t.Voltage(k)),
			Current:  num(t.Current(k)),
			PowerIn:  watts(t.PhasePowerImport(k)),
			PowerOut: watts(t.PhasePowerExport(k)),
		}
		if p.Voltage != nil || p.Current != nil || p.PowerIn != nil || p.PowerOut != nil {
			v.Phases = append(v.Phases, p)
		}
	}
	s.mu.Lock()
	if s.today.ok {
		v.Today = &todayView{
			Since: s.today.since,
			In:    math.Round((s.today.in-s.today.inBase)*1000) / 1000,
			Out:   math.Round((s.today.out-s.today.outBase)*1000) / 1000,
		}
	}
	if withHistory {
		v.History = make([][3]any, len(s.history.points))
		for i, p := range s.history.points {
			v.History[i] = [3]any{p.t, p.in, p.out}
		}
	}
	s.mu.Unlock()
	return v
}

func (s *Server) serveLive(w http.ResponseWriter, req *http.Request) {
	v := s.live(req.URL.Query().Get("history") != "")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// slogLogger is a log.Logger for net/http's own messages (a client's bad
// TLS handshake, a broken connection): debug lines.
func slogLogger(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}
