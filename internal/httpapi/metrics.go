package httpapi

import (
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// The metrics follow Prometheus's naming guide: base units in the name
// (joules, watts, volts, amperes, cubic meters, seconds), counters end in
// _total, labels for what varies within one quantity (meter, phase,
// tariff, M-Bus channel). Energy registers are counters of joules, as the
// guide asks (1 kWh = 3.6e6 J; divide by 3.6e6 for kWh); the meter's
// instantaneous power is a gauge in watts, since rate() over a register
// that moves in steps of 1 Wh cannot show the power of 10 seconds.
// Reactive quantities keep their own units, volt-amperes reactive (var)
// and var-seconds, and apparent power is in volt-amperes, so that none of
// them is summed with active power by mistake.

const ns = "smarty"

// dimension is the kind of quantity a metric holds, and so which meter
// units it accepts and how they convert to the metric's base unit.
type dimension int

const (
	dimCount dimension = iota
	dimEnergy
	dimReactiveEnergy
	dimPower
	dimReactivePower
	dimApparentPower
	dimVoltage
	dimCurrent
	dimVolume
)

// toBase gives, per dimension, the factor from each unit a meter may
// write to the metric's base unit.
var toBase = map[dimension]map[string]float64{
	dimCount:          {"": 1},
	dimEnergy:         {"kWh": 3.6e6, "Wh": 3600, "MWh": 3.6e9, "GJ": 1e9, "MJ": 1e6, "J": 1},
	dimReactiveEnergy: {"kvarh": 3.6e6, "varh": 3600},
	dimPower:          {"kW": 1e3, "W": 1, "MW": 1e6},
	dimReactivePower:  {"kvar": 1e3, "var": 1},
	dimApparentPower:  {"kVA": 1e3, "VA": 1},
	dimVoltage:        {"V": 1, "kV": 1e3},
	dimCurrent:        {"A": 1},
	dimVolume:         {"m3": 1},
}

// family is one metric name.
type family struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	dim  dimension
}

func newFamily(name, help string, kind prometheus.ValueType, dim dimension, labels ...string) *family {
	return &family{
		desc: prometheus.NewDesc(ns+"_"+name, help, append([]string{"meter"}, labels...), nil),
		kind: kind,
		dim:  dim,
	}
}

var (
	famEnergyIn         = newFamily("energy_import_joules_total", "Active energy drawn from the grid (register 1-0:1.8.0), in joules; divide by 3.6e6 for kWh.", prometheus.CounterValue, dimEnergy)
	famEnergyOut        = newFamily("energy_export_joules_total", "Active energy fed into the grid (register 1-0:2.8.0), in joules; divide by 3.6e6 for kWh.", prometheus.CounterValue, dimEnergy)
	famEnergyInTariff   = newFamily("energy_import_tariff_joules_total", "Active energy drawn from the grid per tariff (1-0:1.8.1, 1-0:1.8.2), in joules.", prometheus.CounterValue, dimEnergy, "tariff")
	famEnergyOutTariff  = newFamily("energy_export_tariff_joules_total", "Active energy fed into the grid per tariff (1-0:2.8.1, 1-0:2.8.2), in joules.", prometheus.CounterValue, dimEnergy, "tariff")
	famReactiveIn       = newFamily("reactive_energy_import_var_seconds_total", "Reactive energy import (1-0:3.8.0), in var-seconds; divide by 3.6e6 for kvarh.", prometheus.CounterValue, dimReactiveEnergy)
	famReactiveOut      = newFamily("reactive_energy_export_var_seconds_total", "Reactive energy export (1-0:4.8.0), in var-seconds; divide by 3.6e6 for kvarh.", prometheus.CounterValue, dimReactiveEnergy)
	famPowerIn          = newFamily("power_import_watts", "Active power drawn from the grid now (1-0:1.7.0), in watts.", prometheus.GaugeValue, dimPower)
	famPowerOut         = newFamily("power_export_watts", "Active power fed into the grid now (1-0:2.7.0), in watts.", prometheus.GaugeValue, dimPower)
	famReactivePowerIn  = newFamily("reactive_power_import_vars", "Reactive power import now (1-0:3.7.0), in var.", prometheus.GaugeValue, dimReactivePower)
	famReactivePowerOut = newFamily("reactive_power_export_vars", "Reactive power export now (1-0:4.7.0), in var.", prometheus.GaugeValue, dimReactivePower)
	famApparentIn       = newFamily("apparent_power_import_volt_amperes", "Apparent power import now (1-0:9.7.0), in volt-amperes.", prometheus.GaugeValue, dimApparentPower)
	famApparentOut      = newFamily("apparent_power_export_volt_amperes", "Apparent power export now (1-0:10.7.0), in volt-amperes.", prometheus.GaugeValue, dimApparentPower)
	famPowerLimit       = newFamily("power_limit_volt_amperes", "The meter's power limit (0-0:17.0.0), in volt-amperes.", prometheus.GaugeValue, dimApparentPower)
	famCurrentLimit     = newFamily("current_limit_amperes", "The meter's current limit (1-0:31.4.0), in amperes.", prometheus.GaugeValue, dimCurrent)
	famThreshold        = newFamily("current_threshold_amperes", "The current thresholds of 1-1:31.4.0, in amperes, by position in the line.", prometheus.GaugeValue, dimCurrent, "threshold")
	famBreaker          = newFamily("breaker_state", "State of the meter's breaker (0-0:96.3.10) as the meter writes it (Smarty: 0 open, 1 closed, 2 ready to close).", prometheus.GaugeValue, dimCount)
	famTariff           = newFamily("tariff", "The tariff in force (0-0:96.14.0).", prometheus.GaugeValue, dimCount)
	famFailures         = newFamily("power_failures_total", "Power failures in any phase (0-0:96.7.21).", prometheus.CounterValue, dimCount)
	famLongFailures     = newFamily("long_power_failures_total", "Long power failures in any phase (0-0:96.7.9).", prometheus.CounterValue, dimCount)
	famSags             = newFamily("voltage_sags_total", "Voltage sags per phase (1-0:32.32.0, 52.32.0, 72.32.0).", prometheus.CounterValue, dimCount, "phase")
	famSwells           = newFamily("voltage_swells_total", "Voltage swells per phase (1-0:32.36.0, 52.36.0, 72.36.0).", prometheus.CounterValue, dimCount, "phase")
	famVoltage          = newFamily("voltage_volts", "Voltage per phase now (1-0:32.7.0, 52.7.0, 72.7.0), in volts.", prometheus.GaugeValue, dimVoltage, "phase")
	famCurrent          = newFamily("current_amperes", "Current per phase now (1-0:31.7.0, 51.7.0, 71.7.0), in amperes.", prometheus.GaugeValue, dimCurrent, "phase")
	famPhaseIn          = newFamily("phase_power_import_watts", "Active power drawn per phase now (1-0:21.7.0, 41.7.0, 61.7.0), in watts.", prometheus.GaugeValue, dimPower, "phase")
	famPhaseOut         = newFamily("phase_power_export_watts", "Active power fed in per phase now (1-0:22.7.0, 42.7.0, 62.7.0), in watts.", prometheus.GaugeValue, dimPower, "phase")
	famPhaseReactiveIn  = newFamily("phase_reactive_power_import_vars", "Reactive power import per phase now (1-0:23.7.0, 43.7.0, 63.7.0), in var.", prometheus.GaugeValue, dimReactivePower, "phase")
	famPhaseReactiveOut = newFamily("phase_reactive_power_export_vars", "Reactive power export per phase now (1-0:24.7.0, 44.7.0, 64.7.0), in var.", prometheus.GaugeValue, dimReactivePower, "phase")
	famAverageDemand    = newFamily("average_demand_watts", "Current average demand (1-0:1.4.0), in watts.", prometheus.GaugeValue, dimPower)
	famMaxDemand        = newFamily("max_demand_month_watts", "Maximum demand this month (1-0:1.6.0), in watts.", prometheus.GaugeValue, dimPower)

	famGas        = newFamily("gas_cubic_meters_total", "Gas meter reading on an M-Bus channel, in cubic meters.", prometheus.CounterValue, dimVolume, "channel")
	famWater      = newFamily("water_cubic_meters_total", "Water meter reading on an M-Bus channel, in cubic meters.", prometheus.CounterValue, dimVolume, "channel")
	famHeat       = newFamily("heat_joules_total", "Heat meter reading on an M-Bus channel, in joules.", prometheus.CounterValue, dimEnergy, "channel")
	famMBusTime   = newFamily("mbus_reading_timestamp_seconds", "When the M-Bus device took its last reading, in Unix seconds.", prometheus.GaugeValue, dimCount, "channel")
	famValve      = newFamily("mbus_valve_state", "Valve state of an M-Bus device (0-n:24.4.0).", prometheus.GaugeValue, dimCount, "channel")
	famMBusSwitch = newFamily("mbus_breaker_state", "Breaker state of an M-Bus channel (0-n:96.3.10).", prometheus.GaugeValue, dimCount, "channel")

	descMeterInfo = prometheus.NewDesc(ns+"_meter_info", "The meter that sends the telegrams; always 1.", []string{"meter", "header", "version"}, nil)
	descMeterTime = prometheus.NewDesc(ns+"_meter_timestamp_seconds", "The time the meter wrote in its last telegram (0-0:1.0.0), in Unix seconds.", []string{"meter"}, nil)
)

// Health metrics: about the link, not the readings, so without the meter
// label, and served also while the meter is silent.
var (
	descUp           = prometheus.NewDesc(ns+"_up", "1 while telegrams arrive; 0 when the meter has been silent past the watchdog or no telegram came yet (no reading is served then).", nil, nil)
	descTelegrams    = prometheus.NewDesc(ns+"_telegrams_total", "Telegrams decoded.", nil, nil)
	descFrameFails   = prometheus.NewDesc(ns+"_frame_failures_total", "Frames skipped, by reason.", []string{"reason"}, nil)
	descGaps         = prometheus.NewDesc(ns+"_frame_sequence_gaps_total", "Times the frame counter jumped: frames were missed.", nil, nil)
	descMissed       = prometheus.NewDesc(ns+"_frames_missed_total", "Frames missed, summed over the gaps of the frame counter.", nil, nil)
	descReconnects   = prometheus.NewDesc(ns+"_reconnects_total", "Times the device was opened again after the first.", nil, nil)
	descLastTelegram = prometheus.NewDesc(ns+"_last_telegram_timestamp_seconds", "When the last telegram arrived, in Unix seconds.", nil, nil)
	descStreams      = prometheus.NewDesc(ns+"_event_streams", "Event streams (/api/events) open now.", nil, nil)
	descStreamDrops  = prometheus.NewDesc(ns+"_event_stream_dropped_total", "Events dropped for event streams that did not keep up.", nil, nil)
)

// spec says which family one object (or one group of it) feeds.
type spec struct {
	fam   *family
	label string // the family's extra label value, if it has one
}

var specs = map[dsmr.OBIS]spec{}

// phased are the per-phase codes: C of L1, L2, L3 and the family.
var phased = []struct {
	c   [3]uint8
	d   uint8
	fam *family
}{
	{[3]uint8{32, 52, 72}, 32, famSags},
	{[3]uint8{32, 52, 72}, 36, famSwells},
	{[3]uint8{32, 52, 72}, 7, famVoltage},
	{[3]uint8{31, 51, 71}, 7, famCurrent},
	{[3]uint8{21, 41, 61}, 7, famPhaseIn},
	{[3]uint8{22, 42, 62}, 7, famPhaseOut},
	{[3]uint8{23, 43, 63}, 7, famPhaseReactiveIn},
	{[3]uint8{24, 44, 64}, 7, famPhaseReactiveOut},
}

func init() {
	one := func(code string, fam *family) { specs[dsmr.MustParseOBIS(code)] = spec{fam: fam} }
	one("1-0:1.8.0", famEnergyIn)
	one("1-0:2.8.0", famEnergyOut)
	specs[dsmr.MustParseOBIS("1-0:1.8.1")] = spec{fam: famEnergyInTariff, label: "1"}
	specs[dsmr.MustParseOBIS("1-0:1.8.2")] = spec{fam: famEnergyInTariff, label: "2"}
	specs[dsmr.MustParseOBIS("1-0:2.8.1")] = spec{fam: famEnergyOutTariff, label: "1"}
	specs[dsmr.MustParseOBIS("1-0:2.8.2")] = spec{fam: famEnergyOutTariff, label: "2"}
	one("1-0:3.8.0", famReactiveIn)
	one("1-0:4.8.0", famReactiveOut)
	one("1-0:1.7.0", famPowerIn)
	one("1-0:2.7.0", famPowerOut)
	one("1-0:3.7.0", famReactivePowerIn)
	one("1-0:4.7.0", famReactivePowerOut)
	one("1-0:9.7.0", famApparentIn)
	one("1-0:10.7.0", famApparentOut)
	one("0-0:17.0.0", famPowerLimit)
	one("1-0:31.4.0", famCurrentLimit)
	one("0-0:96.3.10", famBreaker)
	one("0-0:96.14.0", famTariff)
	one("0-0:96.7.21", famFailures)
	one("0-0:96.7.9", famLongFailures)
	one("1-0:1.4.0", famAverageDemand)
	one("1-0:1.6.0", famMaxDemand)
	for _, p := range phased {
		for k, c := range p.c {
			specs[dsmr.OBIS{A: 1, B: 0, C: c, D: p.d, E: 0}] = spec{fam: p.fam, label: "L" + strconv.Itoa(k+1)}
		}
	}
}

// thresholds is 1-1:31.4.0, two numbers on one line.
var thresholds = dsmr.MustParseOBIS("1-1:31.4.0")

// allFamilies lists every family, for Describe.
var allFamilies = func() []*family {
	seen := map[*family]bool{}
	var out []*family
	add := func(f *family) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, s := range specs {
		add(s.fam)
	}
	for _, f := range []*family{famThreshold, famGas, famWater, famHeat, famMBusTime, famValve, famMBusSwitch} {
		add(f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].desc.String() < out[j].desc.String() })
	return out
}()

// collector makes the Server's metrics at each scrape from the latest
// reading and the link's health.
type collector struct{ s *Server }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range allFamilies {
		ch <- f.desc
	}
	for _, d := range []*prometheus.Desc{descMeterInfo, descMeterTime, descUp, descTelegrams, descFrameFails,
		descGaps, descMissed, descReconnects, descLastTelegram, descStreams, descStreamDrops} {
		ch <- d
	}
	for _, d := range quarterDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	r := s.current()
	up := 0.0
	if r != nil {
		up = 1
		collectReading(ch, r)
		collectQuarter(ch, r)
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)

	h := s.health()
	telegrams := h.Telegrams
	if s.cfg.Health == nil {
		telegrams = int64(s.seq.Load())
	}
	last := h.LastTelegram
	if l := s.latest.Load(); last.IsZero() && l != nil {
		last = l.received
	}
	ch <- prometheus.MustNewConstMetric(descTelegrams, prometheus.CounterValue, float64(telegrams))
	for reason, n := range h.Failures {
		ch <- prometheus.MustNewConstMetric(descFrameFails, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descGaps, prometheus.CounterValue, float64(h.CounterGaps))
	ch <- prometheus.MustNewConstMetric(descMissed, prometheus.CounterValue, float64(h.MissedFrames))
	ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(h.Reconnects))
	if !last.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastTelegram, prometheus.GaugeValue, float64(last.UnixMilli())/1000)
	}
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(s.events.count()))
	ch <- prometheus.MustNewConstMetric(descStreamDrops, prometheus.CounterValue, float64(s.events.dropped.Load()))
}

// collectReading sends the readings of r; collectQuarter (quarter.go)
// sends its quarter-hour figures.
func collectReading(ch chan<- prometheus.Metric, r *reading) {
	t := &r.msg.Telegram
	meter := r.meterID
	ch <- prometheus.MustNewConstMetric(descMeterInfo, prometheus.GaugeValue, 1, meter, t.Header(), t.Version())
	if mt, ok := t.Time(); ok {
		ch <- prometheus.MustNewConstMetric(descMeterTime, prometheus.GaugeValue, float64(mt.Unix()), meter)
	}
	objs := t.Objects()
	for i := range objs {
		o := &objs[i]
		if o.OBIS == thresholds {
			k := 0
			for _, v := range o.Values {
				if d, unit, ok := v.Decimal(); ok {
					k++
					emit(ch, famThreshold, d, unit, meter, strconv.Itoa(k))
				}
			}
			continue
		}
		sp, ok := specs[o.OBIS]
		if !ok {
			continue
		}
		d, unit, ok := o.Decimal()
		if !ok {
			continue
		}
		if sp.label != "" {
			emit(ch, sp.fam, d, unit, meter, sp.label)
		} else {
			emit(ch, sp.fam, d, unit, meter)
		}
	}
	for _, m := range t.MBus() {
		if m.Time.IsZero() {
			continue // a placeholder: no device on the channel
		}
		channel := strconv.Itoa(m.Channel)
		if m.HasReading {
			switch m.Type {
			case dsmr.DeviceGas:
				emit(ch, famGas, m.Reading, unitOr(m.Unit, "m3"), meter, channel)
			case dsmr.DeviceWater:
				emit(ch, famWater, m.Reading, unitOr(m.Unit, "m3"), meter, channel)
			case dsmr.DeviceHeat:
				emit(ch, famHeat, m.Reading, unitOr(m.Unit, "GJ"), meter, channel)
			}
			ch <- prometheus.MustNewConstMetric(famMBusTime.desc, prometheus.GaugeValue, float64(m.Time.Unix()), meter, channel)
		}
		if m.Valve >= 0 {
			ch <- prometheus.MustNewConstMetric(famValve.desc, prometheus.GaugeValue, float64(m.Valve), meter, channel)
		}
		if m.Breaker >= 0 {
			ch <- prometheus.MustNewConstMetric(famMBusSwitch.desc, prometheus.GaugeValue, float64(m.Breaker), meter, channel)
		}
	}
}

func unitOr(u, def string) string {
	if u == "" {
		return def
	}
	return u
}

// emit sends one reading, converted to the family's base unit; a unit the
// family does not know is left out rather than served wrong.
func emit(ch chan<- prometheus.Metric, f *family, d dsmr.Decimal, unit string, labels ...string) {
	scale, ok := toBase[f.dim][unit]
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(f.desc, f.kind, d.Float64()*scale, labels...)
}
