// Package quarterlive follows a live meter's quarter-hours against the
// reference power (package smarty/quarter) for the long-running commands:
// the flags -refPower and -excessPrice, the figures attached to each
// live.Reading (Reading.Quarter), and the log lines: a warning when the
// current quarter is heading over the reference power, at most once a
// quarter, and a line for each quarter that went over.
package quarterlive

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// Flags are -refPower and -excessPrice.
type Flags struct {
	RefPower float64 // kW; 0: off
	Price    float64 // EUR/kWh; 0: none
}

// AddFlags adds -refPower and -excessPrice to fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := new(Flags)
	fs.Float64Var(&f.RefPower, "refPower", 0, "the reference power in `kW` printed on the bill (3, 7, 12...): follow each quarter-hour\n"+
		"against it, warn when one is heading over, publish the figures (docs/quarter-hour.md)")
	fs.Float64Var(&f.Price, "excessPrice", 0, "with -refPower: the price of the excess in `EUR/kWh`, for its cost\n(no default: it changes every year; 0.1139 in 2025)")
	return f
}

// Check returns what is wrong with the flags, in words for the command
// line.
func (f *Flags) Check() error {
	switch {
	case f.RefPower < 0 || f.RefPower > 1e5 || math.IsNaN(f.RefPower):
		return fmt.Errorf("-refPower %v: want the reference power in kW from the bill, such as 3, 7 or 12", f.RefPower)
	case f.Price < 0 || f.Price > 100 || math.IsNaN(f.Price):
		return fmt.Errorf("-excessPrice %v: want a price in EUR per kWh, such as 0.1139", f.Price)
	case f.Price > 0 && f.RefPower == 0:
		return fmt.Errorf("-excessPrice needs -refPower: the excess is counted over the reference power")
	}
	return nil
}

// Watcher returns the Watcher of the flags, nil without -refPower.
func (f *Flags) Watcher(log *slog.Logger) *Watcher {
	if f.RefPower <= 0 {
		return nil
	}
	return New(f.RefPower, f.Price, log)
}

// Watcher follows the quarter-hours of one live meter. It is used from the
// loop's goroutine only (as LoopConfig.Annotate).
type Watcher struct {
	ledger quarter.Ledger
	log    *slog.Logger
}

// New returns a Watcher for the reference power refPower in kW and the
// excess price in EUR/kWh (0: none); log gets the warnings and the
// quarters that went over (nil: discarded).
func New(refPower, price float64, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{log: log}
	w.ledger.RefPower, w.ledger.Price = refPower, price
	return w
}

// Annotate adds r's telegram to the quarter-hours, sets r.Quarter to the
// current quarter's figures as of it (left nil when the telegram has no
// usable time or register, or its time is held as a possible jump of the
// meter's clock), and logs what the user should know.
func (w *Watcher) Annotate(r *live.Reading) {
	t := &r.Message.Telegram
	for _, q := range w.ledger.AddTelegram(t, r.Received) {
		w.completed(q)
	}
	st, ok := w.ledger.Status()
	if tm, has := t.Time(); !ok || !has || !st.Time.Equal(tm) {
		return
	}
	r.Quarter = &st
	if st.Warn {
		w.warn(&st)
	}
}

// warn logs the warning of a quarter heading over the reference power.
func (w *Watcher) warn(st *quarter.Status) {
	ref := st.RefPower
	span := span(st.Start, st.End)
	var what string
	if st.Excess > 0 {
		what = fmt.Sprintf("is over already: %.3f kWh drawn, %.3f kWh over", st.Import, st.Excess)
	} else {
		what = fmt.Sprintf("is heading over it: %s kW now, %s kW expected on average; draw %s kW less until %s to stay under",
			kw(st.Power), kw(st.Projected/quarter.Length.Hours()), kw(-st.Margin), st.End.Format("15:04"))
	}
	w.log.Warn(fmt.Sprintf("the quarter-hour %s against the reference power of %s kW %s", span, kw(ref), what),
		slog.Float64("projected_kw", round3(st.Projected/quarter.Length.Hours())))
}

// completed logs a quarter that went over the reference power.
func (w *Watcher) completed(q quarter.Quarter) {
	e := q.Excess(w.ledger.RefPower)
	if e <= 0 {
		return
	}
	msg := fmt.Sprintf("the quarter-hour %s went over the reference power of %s kW: %.3f kWh drawn (%s kW on average), %.3f kWh over",
		span(q.Start, q.End), kw(w.ledger.RefPower), q.Import, kw(q.Average()), e)
	if w.ledger.Price > 0 {
		msg += fmt.Sprintf(", %.2f EUR", e*w.ledger.Price)
	}
	if q.Quality == quarter.Estimated {
		msg += " (estimated: telegrams were missing around a boundary)"
	}
	w.log.Info(msg, slog.Float64("excess_kwh", e))
}

func span(start, end time.Time) string { return start.Format("15:04") + "-" + end.Format("15:04") }

func kw(v float64) string { return strconv.FormatFloat(round2(v), 'f', -1, 64) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
