package httpapi

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/NEXXTLAB/go-smarty-reader/internal/quarterlive"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// The quarter-hour figures (smarty/quarter.Status), served when the
// command runs with -refPower: as gauges, since each starts again with
// its quarter, day or month, in the base units of the other metrics.

var (
	descQuarterRef       = prometheus.NewDesc(ns+"_quarter_reference_power_watts", "The reference power the quarter-hours are measured against (-refPower), in watts.", []string{"meter"}, nil)
	descQuarterStart     = prometheus.NewDesc(ns+"_quarter_start_timestamp_seconds", "The start of the current quarter-hour, in Unix seconds.", []string{"meter"}, nil)
	descQuarterImport    = prometheus.NewDesc(ns+"_quarter_import_joules", "Energy drawn since the start of the current quarter-hour, in joules; divide by 3.6e6 for kWh.", []string{"meter"}, nil)
	descQuarterExport    = prometheus.NewDesc(ns+"_quarter_export_joules", "Energy fed in since the start of the current quarter-hour, in joules.", []string{"meter"}, nil)
	descQuarterAverage   = prometheus.NewDesc(ns+"_quarter_average_power_watts", "Average power drawn since the start of the current quarter-hour, in watts.", []string{"meter"}, nil)
	descQuarterProjected = prometheus.NewDesc(ns+"_quarter_projected_power_watts", "The current quarter-hour's average power if the power now lasts until its end, in watts; over the reference power, energy above it is billed.", []string{"meter"}, nil)
	descQuarterMargin    = prometheus.NewDesc(ns+"_quarter_margin_watts", "Power that can still be drawn on top of the power now until the quarter-hour's end without going over the reference power, in watts; negative: draw that much less.", []string{"meter"}, nil)
	descQuarterExcess    = prometheus.NewDesc(ns+"_quarter_excess_joules", "Energy drawn above the reference power in the current quarter-hour so far, the day and the month (since the program started, if later), in joules.", []string{"meter", "period"}, nil)
	descQuarterCost      = prometheus.NewDesc(ns+"_quarter_excess_cost_euros", "The cost of the excess at -excessPrice, by period, in euros.", []string{"meter", "period"}, nil)
	descQuarterWarning   = prometheus.NewDesc(ns+"_quarter_warning", "1 while the current quarter-hour is heading over the reference power.", []string{"meter"}, nil)
	descQuarterEstimated = prometheus.NewDesc(ns+"_quarter_estimated", "1 when the current quarter-hour's figures are estimated (its start was not measured).", []string{"meter"}, nil)

	quarterDescs = []*prometheus.Desc{descQuarterRef, descQuarterStart, descQuarterImport, descQuarterExport,
		descQuarterAverage, descQuarterProjected, descQuarterMargin, descQuarterExcess, descQuarterCost,
		descQuarterWarning, descQuarterEstimated}
)

// collectQuarter sends the quarter-hour figures of r, if it has them.
func collectQuarter(ch chan<- prometheus.Metric, r *reading) {
	q := r.quarter
	if q == nil {
		return
	}
	meter := r.meterID
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		v = math.Round(v*1000) / 1000 // no 3377.6679999999997
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{meter}, labels...)...)
	}
	const J = 3.6e6 // per kWh
	gauge(descQuarterRef, q.RefPower*1000)
	gauge(descQuarterStart, float64(q.Start.Unix()))
	gauge(descQuarterImport, q.Import*J)
	gauge(descQuarterExport, q.Export*J)
	gauge(descQuarterAverage, q.Average*1000)
	gauge(descQuarterProjected, quarterlive.ProjectedKW(q)*1000)
	gauge(descQuarterMargin, q.Margin*1000)
	gauge(descQuarterExcess, q.Excess*J, "quarter")
	gauge(descQuarterExcess, q.ExcessDay*J, "day")
	gauge(descQuarterExcess, q.ExcessMonth*J, "month")
	if q.Price > 0 {
		gauge(descQuarterCost, q.Cost, "quarter")
		gauge(descQuarterCost, q.CostDay, "day")
		gauge(descQuarterCost, q.CostMonth, "month")
	}
	gauge(descQuarterWarning, b2f(q.Warning))
	gauge(descQuarterEstimated, b2f(q.Quality != quarter.OK))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
