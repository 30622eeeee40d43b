package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/quartercsv"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// quarterFlags are -quarters, -refPower and -excessPrice.
type quarterFlags struct {
	on       bool
	refPower float64
	price    float64
}

func addQuarterFlags(fs *flag.FlagSet) *quarterFlags {
	q := new(quarterFlags)
	fs.BoolVar(&q.on, "quarters", false, "print one CSV row per quarter-hour of the meter's registers instead of the telegrams\n"+
		"(start,end,import_kwh,export_kwh,average_kw,excess_kwh,status), then a summary per\n"+
		"day and month on standard error (docs/quarter-hour.md)")
	fs.Float64Var(&q.refPower, "refPower", 0, "with -quarters: the reference power in `kW` printed on the bill, to count the\nexcess of each quarter over it")
	fs.Float64Var(&q.price, "excessPrice", 0, "with -refPower: the price of the excess in `EUR/kWh`, for its cost in the summary\n(no default: it changes every year; 0.1139 in 2025)")
	return q
}

// quarterOutput turns the telegrams into quarter-hours.
type quarterOutput struct {
	ledger quarter.Ledger
	csv    *quartercsv.Writer
}

// output checks the flags and returns the output for -quarters, nil
// without it.
func (q *quarterFlags) output(fs *flag.FlagSet, w io.Writer) (*quarterOutput, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case !q.on && (set["refPower"] || set["excessPrice"]):
		return nil, cli.Usagef("-refPower and -excessPrice go with -quarters")
	case !q.on:
		return nil, nil
	case set["format"]:
		return nil, cli.Usagef("-quarters prints CSV: leave out -format")
	case q.refPower < 0 || q.refPower > 1e5 || math.IsNaN(q.refPower):
		return nil, cli.Usagef("-refPower %v: want the reference power in kW from the bill, such as 3, 7 or 12", q.refPower)
	case q.price < 0 || q.price > 100 || math.IsNaN(q.price):
		return nil, cli.Usagef("-excessPrice %v: want a price in EUR per kWh, such as 0.1139", q.price)
	case set["excessPrice"] && q.refPower == 0:
		return nil, cli.Usagef("-excessPrice needs -refPower: the excess is counted over the reference power")
	}
	o := &quarterOutput{csv: quartercsv.NewWriter(w, q.refPower, q.price)}
	o.ledger.RefPower, o.ledger.Price = q.refPower, q.price
	return o, nil
}

// write counts a telegram into the quarters, and writes those it ends.
func (o *quarterOutput) write(m *smarty.Message) error {
	for _, q := range o.ledger.AddTelegram(&m.Telegram, time.Time{}) {
		if err := o.csv.Write(q); err != nil {
			return err
		}
	}
	return nil
}

// finish writes what is left of the CSV, then the summary to stderr.
func (o *quarterOutput) finish(stderr io.Writer) error {
	if err := o.csv.Flush(); err != nil {
		return fmt.Errorf("writing the quarter-hours: %w", err)
	}
	fmt.Fprintf(stderr, "%s: quarter-hours:\n", name)
	o.csv.WriteSummary(stderr)
	if n := o.ledger.Ignored(); n > 0 {
		fmt.Fprintf(stderr, "  %d telegrams were left out: no time or import register, repeated, or a glitch of the meter's clock\n", n)
	}
	return nil
}
