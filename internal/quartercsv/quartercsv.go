// Package quartercsv writes quarter-hours (package quarter) as CSV, one
// row per quarter, and sums them up per local day and month:
//
//	start,end,import_kwh,export_kwh,average_kw,excess_kwh,status
//	2025-06-02T12:00:00+02:00,2025-06-02T12:15:00+02:00,0.812,0.000,3.250,0.062,ok
//
// start and end are RFC 3339 times with Luxembourg's offset of the moment
// (+01:00 or +02:00), energies are in kWh and powers in kW with three
// decimals, and status is ok, estimated or broken. A broken quarter has
// empty energies, and excess_kwh is empty without a reference power.
package quartercsv

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// Header is the first line of the CSV, without its line end.
const Header = "start,end,import_kwh,export_kwh,average_kw,excess_kwh,status"

// Writer writes quarters as CSV rows and keeps the totals per day and
// month. It is not safe for concurrent use.
type Writer struct {
	w        *bufio.Writer
	refPower float64 // kW, 0: none
	price    float64 // EUR/kWh, 0: none
	header   bool    // written
	line     []byte
	days     []Total
	months   []Total
}

// NewWriter returns a Writer to w. refPower is the reference power in kW
// for the excess (0: none), price the excess price in EUR/kWh for the
// costs in the summary (0: none).
func NewWriter(w io.Writer, refPower, price float64) *Writer {
	return &Writer{w: bufio.NewWriter(w), refPower: refPower, price: price}
}

// Write writes one quarter, after the header when it is the first.
// Quarters are expected in order, as a quarter.Ledger gives them.
func (w *Writer) Write(q quarter.Quarter) error {
	w.writeHeader()
	b := w.line[:0]
	b = q.Start.AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = q.End.AppendFormat(b, time.RFC3339)
	if q.Quality == quarter.Broken {
		b = append(b, ",,,,,"...)
	} else {
		b = appendKWh(append(b, ','), q.Import)
		b = appendKWh(append(b, ','), q.Export)
		b = appendKWh(append(b, ','), q.Average())
		b = append(b, ',')
		if w.refPower > 0 {
			b = appendKWh(b, q.Excess(w.refPower))
		}
		b = append(b, ',')
	}
	b = append(b, q.Quality.String()...)
	b = append(b, '\n')
	w.line = b
	w.count(q)
	_, err := w.w.Write(b)
	return err
}

func appendKWh(b []byte, v float64) []byte {
	if v == 0 {
		v = 0 // no "-0.000"
	}
	return strconv.AppendFloat(b, v, 'f', 3, 64)
}

func (w *Writer) writeHeader() {
	if !w.header {
		w.header = true
		w.w.WriteString(Header + "\n")
	}
}

// Flush writes the header if no quarter was written, and whatever is
// buffered.
func (w *Writer) Flush() error {
	w.writeHeader()
	return w.w.Flush()
}

// Total sums up the quarters of one local day or month.
type Total struct {
	// Period is the day (2025-06-02) or the month (2025-06).
	Period string
	// Quarters is the number of quarters written, Expected the number the
	// period has: 96 a day, 92 and 100 on the days the clock changes.
	Quarters, Expected int
	// Estimated and Broken count the quarters of those qualities.
	Estimated, Broken int
	// Import and Export are the energies of the quarters that are not
	// broken, in kWh.
	Import, Export float64
	// Peak is the highest average power of a quarter in kW, PeakStart
	// the start of that quarter.
	Peak      float64
	PeakStart time.Time
	// Over is the number of quarters with an excess, Excess their excess
	// in kWh; both zero without a reference power.
	Over   int
	Excess float64
}

func (t *Total) add(q quarter.Quarter, refPower float64) {
	t.Quarters++
	switch q.Quality {
	case quarter.Broken:
		t.Broken++
		return
	case quarter.Estimated:
		t.Estimated++
	}
	t.Import += q.Import
	t.Export += q.Export
	if a := q.Average(); a > t.Peak || t.PeakStart.IsZero() {
		t.Peak, t.PeakStart = a, q.Start
	}
	if e := q.Excess(refPower); e > 0 {
		t.Over++
		t.Excess += e
	}
}

func (w *Writer) count(q quarter.Quarter) {
	y, m, d := q.Start.Date()
	day := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	if n := len(w.days); n == 0 || w.days[n-1].Period != day {
		w.days = append(w.days, Total{Period: day, Expected: quartersIn(q.Start)})
	}
	w.days[len(w.days)-1].add(q, w.refPower)
	month := day[:7]
	if n := len(w.months); n == 0 || w.months[n-1].Period != month {
		w.months = append(w.months, Total{Period: month, Expected: quartersInMonth(q.Start)})
	}
	w.months[len(w.months)-1].add(q, w.refPower)
}

// Days returns the totals per local day, in the order the days came.
func (w *Writer) Days() []Total { return w.days }

// Months returns the totals per local month.
func (w *Writer) Months() []Total { return w.months }

// quartersIn returns the number of quarters of the local day of t, in
// t's time zone: 96, or 92 and 100 on the days the clocks change.
func quartersIn(t time.Time) int {
	y, m, d := t.Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	return int(from.AddDate(0, 0, 1).Sub(from) / quarter.Length)
}

// quartersInMonth is quartersIn for the month of t.
func quartersInMonth(t time.Time) int {
	y, m, _ := t.Date()
	from := time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	return int(from.AddDate(0, 1, 0).Sub(from) / quarter.Length)
}

// WriteSummary writes the totals per day, then per month, as an aligned
// table for a human (standard error), or one line that says there is no
// quarter.
func (w *Writer) WriteSummary(out io.Writer) error {
	if len(w.days) == 0 {
		_, err := fmt.Fprintln(out, "no complete quarter-hour")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	w.table(tw, "day", w.days)
	fmt.Fprintln(tw)
	w.table(tw, "month", w.months)
	return tw.Flush()
}

func (w *Writer) table(tw io.Writer, period string, totals []Total) {
	fmt.Fprintf(tw, "%s\tquarters\testimated\tbroken\timport_kwh\texport_kwh\tpeak_kw\tpeak_at", period)
	if w.refPower > 0 {
		fmt.Fprintf(tw, "\tover_%s_kw\texcess_kwh", strconv.FormatFloat(w.refPower, 'f', -1, 64))
		if w.price > 0 {
			fmt.Fprint(tw, "\tcost_eur")
		}
	}
	fmt.Fprintln(tw)
	for _, t := range totals {
		peakAt := "-"
		if !t.PeakStart.IsZero() {
			peakAt = t.PeakStart.Format("15:04")
			if period == "month" {
				peakAt = t.PeakStart.Format("02 15:04")
			}
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%s",
			t.Period, t.Quarters, t.Expected, t.Estimated, t.Broken, t.Import, t.Export, t.Peak, peakAt)
		if w.refPower > 0 {
			fmt.Fprintf(tw, "\t%d\t%.3f", t.Over, t.Excess)
			if w.price > 0 {
				fmt.Fprintf(tw, "\t%.2f", t.Excess*w.price)
			}
		}
		fmt.Fprintln(tw)
	}
}
