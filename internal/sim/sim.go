// Package sim is a software Smarty meter: it writes the telegrams a
// Luxembourg Sagemcom T210-D sends on its P1 port, with readings that move
// like a household's, and wraps them in encrypted frames or not.
//
// Everything is decided by a seed, so that a test can run the same meter
// twice and compare: Meter.AppendTelegram gives the same sequence of
// telegrams for the same Config.
//
// The readings follow a day: a base load with morning and evening peaks and
// appliances switching on and off, solar panels on phase 1 exporting around
// noon, gas for heating and hot water. The energy registers are the
// integral of the power the telegrams show: each register grows by the
// power of the telegram times the time step, so a consumer can check one
// against the other.
//
// With a Profile the household draws exactly the profile's power instead,
// and the registers count its exact integral (to the meter's 1 Wh), so
// that a test knows what every quarter-hour must hold.
package sim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// Config sets up a Meter. The zero value is a valid configuration.
type Config struct {
	// Seed decides the meter's identity and every reading.
	Seed uint64
	// Start is the time of the first telegram; zero means
	// DefaultStart. The meter writes it as local time in Luxembourg.
	Start time.Time
	// Step is the time between telegrams on the meter's clock, 10 s when
	// zero, as on a real meter.
	Step time.Duration
	// Profile, when set, is the household's net power: the telegrams
	// show it, split over the phases, and the energy registers count its
	// exact integral.
	Profile *Profile
}

// DefaultStart is the time of the first telegram when Config.Start is zero:
// a summer morning.
var DefaultStart = time.Date(2025, time.June, 2, 4, 0, 0, 0, time.UTC)

// Meter generates telegrams. It is not safe for concurrent use.
type Meter struct {
	rng  *rand.Rand
	now  time.Time
	step time.Duration

	header  string // identification line without '/'
	meterID string // hex
	gasID   string // hex

	// Registers in Wh, varh and dm3 (litres), kept as floats and shown
	// rounded down, as a meter does.
	importWh, exportWh, qImport, qExport float64
	gasLitres                            float64
	gasCapture                           time.Time // last 5-minute capture
	gasCaptured                          float64   // litres at gasCapture

	voltage  [3]float64
	appl     [3]float64 // appliance load per phase, W
	applLeft [3]int     // telegrams until the appliance switches off
	cloud    float64    // 0 clear .. 1 overcast
	noise    [3]float64 // slow load noise per phase, W

	profile              *Profile
	importWus, exportWus int64 // the registers with a profile, in watt-microseconds

	failures  int
	sags      [3]int
	swells    [3]int
	telegrams uint64
}

// New returns a Meter for cfg.
func New(cfg Config) *Meter {
	m := &Meter{
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5A4D41525459)),
		now:  cfg.Start,
		step: cfg.Step,
	}
	if m.now.IsZero() {
		m.now = DefaultStart
	}
	if m.step <= 0 {
		m.step = 10 * time.Second
	}
	r := m.rng
	m.header = "Lux5\\2536" + digits(r, 5) + "_D"
	m.meterID = hexText("SAG10" + digits(r, 11))
	m.gasID = hexText("FLO1899" + digits(r, 8))
	m.importWh = float64(r.IntN(30_000_000)) + r.Float64()
	m.exportWh = float64(r.IntN(5_000_000)) + r.Float64()
	m.qImport = m.importWh * 0.08
	m.qExport = m.importWh * 0.3
	m.gasLitres = float64(r.IntN(20_000_000))
	m.gasCapture = m.now.Truncate(5 * time.Minute)
	m.gasCaptured = m.gasLitres
	for k := range m.voltage {
		m.voltage[k] = 229 + 4*r.Float64()
	}
	if cfg.Profile != nil {
		m.profile = cfg.Profile
		m.importWus = int64(m.importWh) * wattMicrosPerWh
		m.exportWus = int64(m.exportWh) * wattMicrosPerWh
	}
	m.cloud = r.Float64()
	m.failures = 5 + r.IntN(100)
	for k := range 3 {
		m.sags[k] = r.IntN(50)
	}
	return m
}

// Time returns the time of the next telegram.
func (m *Meter) Time() time.Time { return m.now }

// MeterID returns the meter id the telegrams carry (0-0:42.0.0), decoded.
func (m *Meter) MeterID() string { return unhexText(m.meterID) }

// AppendTelegram appends the next telegram to dst, from '/' through the
// CRC and its CR LF, and advances the meter's clock by one step.
func (m *Meter) AppendTelegram(dst []byte) []byte {
	r := m.rng
	hour := localHour(m.now)
	dt := m.step.Hours()

	// Per-phase active power: base load with the daily rhythm, slow
	// noise, appliances; solar on phase 1.
	var load [3]float64
	for k := range 3 {
		m.noise[k] = 0.97*m.noise[k] + 15*r.NormFloat64()
		if m.applLeft[k] > 0 {
			m.applLeft[k]--
			if m.applLeft[k] == 0 {
				m.appl[k] = 0
			}
		} else if r.Float64() < 0.004*demand(hour) {
			m.appl[k] = 500 + 2500*r.Float64()
			m.applLeft[k] = 1 + r.IntN(60)
		}
		load[k] = math.Max(20, 60+90*demand(hour)+m.noise[k]+m.appl[k])
	}
	m.cloud = math.Min(1, math.Max(0, m.cloud+0.03*r.NormFloat64()))
	solar := 0.0
	if hour > 6 && hour < 21 {
		solar = 4200 * math.Sin(math.Pi*(hour-6)/15) * (1 - 0.8*m.cloud)
	}

	net := load
	net[0] -= solar
	if m.profile != nil {
		// The profile's power, split evenly over the phases.
		w := m.profile.watts(m.now)
		net = [3]float64{float64(w - 2*(w/3)), float64(w / 3), float64(w / 3)}
		for k := range 3 {
			load[k] = math.Abs(net[k])
		}
	}

	var pImp, pExp, qImp, qExp [3]float64 // W, var, as shown (rounded to 1 W)
	var current [3]int
	var volts [3]float64
	for k := range 3 {
		net := net[k]
		if net >= 0 {
			pImp[k] = math.Round(net)
		} else {
			pExp[k] = math.Round(-net)
		}
		q := 0.12*load[k] + 5*r.NormFloat64()
		if q >= 0 {
			qImp[k] = math.Round(q)
		} else {
			qExp[k] = math.Round(-q)
		}
		// Voltage: a slow walk around 230 V, pushed up by export.
		m.voltage[k] += 0.2*r.NormFloat64() + 0.05*(231-m.voltage[k])
		m.voltage[k] = math.Min(244, math.Max(219, m.voltage[k]))
		volts[k] = math.Min(253, m.voltage[k]+0.002*pExp[k])
		s := math.Hypot(pImp[k]+pExp[k], qImp[k]+qExp[k])
		current[k] = int(s / volts[k])
	}
	sum := func(a [3]float64) float64 { return a[0] + a[1] + a[2] }
	totImp, totExp, totQImp, totQExp := sum(pImp), sum(pExp), sum(qImp), sum(qExp)
	apparentImp := math.Round(math.Hypot(totImp, totQImp))
	apparentExp := math.Round(math.Hypot(totExp, totQExp))

	// Rare events on the grid.
	if r.Float64() < 0.0005 {
		m.sags[r.IntN(3)]++
	}
	if r.Float64() < 0.0001 {
		m.swells[r.IntN(3)]++
	}

	b := dst
	start := len(b)
	b = append(b, '/')
	b = append(b, m.header...)
	b = append(b, "\r\n\r\n1-3:0.2.8(42)\r\n0-0:1.0.0("...)
	b = appendTimestamp(b, m.now)
	b = append(b, ")\r\n0-0:42.0.0("...)
	b = append(b, m.meterID...)
	if m.profile != nil {
		b = lineWh(b, "1-0:1.8.0(", m.importWus/wattMicrosPerWh)
		b = lineWh(b, "1-0:2.8.0(", m.exportWus/wattMicrosPerWh)
	} else {
		b = line(b, "1-0:1.8.0(", m.importWh/1000, 6, 3, "*kWh")
		b = line(b, "1-0:2.8.0(", m.exportWh/1000, 6, 3, "*kWh")
	}
	b = line(b, "1-0:3.8.0(", m.qImport/1000, 6, 3, "*kvarh")
	b = line(b, "1-0:4.8.0(", m.qExport/1000, 6, 3, "*kvarh")
	b = line(b, "1-0:1.7.0(", totImp/1000, 2, 3, "*kW")
	b = line(b, "1-0:2.7.0(", totExp/1000, 2, 3, "*kW")
	b = line(b, "1-0:3.7.0(", totQImp/1000, 2, 3, "*kvar")
	b = line(b, "1-0:4.7.0(", totQExp/1000, 2, 3, "*kvar")
	b = append(b, ")\r\n0-0:17.0.0(069.0*kVA"...)
	b = line(b, "1-0:9.7.0(", apparentImp/1000, 2, 3, "*kVA")
	b = line(b, "1-0:10.7.0(", apparentExp/1000, 2, 3, "*kVA")
	b = append(b, ")\r\n1-1:31.4.0(100*A)(-063*A)\r\n0-0:96.3.10(1)\r\n0-1:96.3.10(1"...)
	b = line(b, "0-0:96.7.21(", float64(m.failures), 5, 0, "")
	for k, c := range [3]string{"1-0:32.32.0(", "1-0:52.32.0(", "1-0:72.32.0("} {
		b = line(b, c, float64(m.sags[k]), 5, 0, "")
	}
	for k, c := range [3]string{"1-0:32.36.0(", "1-0:52.36.0(", "1-0:72.36.0("} {
		b = line(b, c, float64(m.swells[k]), 5, 0, "")
	}
	b = append(b, ")\r\n0-0:96.13.0()\r\n0-0:96.13.2()\r\n0-0:96.13.3()\r\n0-0:96.13.4()\r\n0-0:96.13.5("...)
	for k, c := range [3]string{"1-0:32.7.0(", "1-0:52.7.0(", "1-0:72.7.0("} {
		b = line(b, c, volts[k], 3, 1, "*V")
	}
	for k, c := range [3]string{"1-0:31.7.0(", "1-0:51.7.0(", "1-0:71.7.0("} {
		b = line(b, c, float64(current[k]), 3, 0, "*A")
	}
	for k, c := range [3]string{"1-0:21.7.0(", "1-0:41.7.0(", "1-0:61.7.0("} {
		b = line(b, c, pImp[k]/1000, 2, 3, "*kW")
	}
	for k, c := range [3]string{"1-0:22.7.0(", "1-0:42.7.0(", "1-0:62.7.0("} {
		b = line(b, c, pExp[k]/1000, 2, 3, "*kW")
	}
	for k, c := range [3]string{"1-0:23.7.0(", "1-0:43.7.0(", "1-0:63.7.0("} {
		b = line(b, c, qImp[k]/1000, 2, 3, "*kvar")
	}
	for k, c := range [3]string{"1-0:24.7.0(", "1-0:44.7.0(", "1-0:64.7.0("} {
		b = line(b, c, qExp[k]/1000, 2, 3, "*kvar")
	}
	b = append(b, ")\r\n0-1:24.1.0(003)\r\n0-1:96.1.0("...)
	b = append(b, m.gasID...)
	b = append(b, ")\r\n0-1:24.2.1("...)
	b = appendTimestamp(b, m.gasCapture)
	b = line(b, ")(", m.gasCaptured/1000, 5, 3, "*m3")
	b = append(b, ")\r\n0-1:24.4.0(1)\r\n!"...)
	crc := dsmr.Checksum(b[start:])
	const hexDigits = "0123456789ABCDEF"
	b = append(b, hexDigits[crc>>12], hexDigits[crc>>8&0xF], hexDigits[crc>>4&0xF], hexDigits[crc&0xF], '\r', '\n')

	// The registers count what the telegram just showed, over one step.
	if m.profile != nil {
		imp, exp := m.profile.energy(m.now, m.now.Add(m.step))
		m.importWus += imp
		m.exportWus += exp
	} else {
		m.importWh += totImp * dt
		m.exportWh += totExp * dt
	}
	m.qImport += totQImp * dt
	m.qExport += totQExp * dt
	m.gasLitres += gasRate(hour) * (0.5 + r.Float64()) * dt
	m.now = m.now.Add(m.step)
	if c := m.now.Truncate(5 * time.Minute); c.After(m.gasCapture) {
		m.gasCapture, m.gasCaptured = c, m.gasLitres
	}
	m.telegrams++
	return b
}

// line closes the previous line and writes the next object with one value.
func line(b []byte, obis string, v float64, intDigits, decimals int, unit string) []byte {
	if obis[0] != ')' {
		b = append(b, ")\r\n"...)
	}
	b = append(b, obis...)
	b = appendFixed(b, v, intDigits, decimals)
	return append(b, unit...)
}

// lineWh writes an energy register of wh watt-hours as kWh, rounded down
// as the meter does: 000006.695*kWh.
func lineWh(b []byte, obis string, wh int64) []byte {
	b = append(b, ")\r\n"...)
	b = append(b, obis...)
	var tmp [32]byte
	d := tmp[:0]
	for range 9 - min(9, digits10(wh)) {
		d = append(d, '0')
	}
	d = strconv.AppendInt(d, wh, 10)
	b = append(b, d[:len(d)-3]...)
	b = append(b, '.')
	b = append(b, d[len(d)-3:]...)
	return append(b, "*kWh"...)
}

// digits10 returns the number of decimal digits of n >= 0.
func digits10(n int64) int {
	k := 1
	for ; n >= 10; n /= 10 {
		k++
	}
	return k
}

// appendFixed writes v >= 0 rounded down to the given decimals, zero-padded
// to intDigits before the point, as meters do: 6.6951 -> 000006.695.
func appendFixed(b []byte, v float64, intDigits, decimals int) []byte {
	n := int64(math.Floor(v*math.Pow10(decimals) + 1e-9))
	if n < 0 {
		n = 0
	}
	var tmp, pad [24]byte
	s := strconv.AppendInt(tmp[:0], n, 10)
	p := pad[:0]
	for i := len(s); i < intDigits+decimals; i++ {
		p = append(p, '0')
	}
	p = append(p, s...)
	if decimals == 0 {
		return append(b, p...)
	}
	b = append(b, p[:len(p)-decimals]...)
	b = append(b, '.')
	return append(b, p[len(p)-decimals:]...)
}

// appendTimestamp writes t as local Luxembourg time YYMMDDhhmmssX.
func appendTimestamp(b []byte, t time.Time) []byte {
	local, summer := luxTime(t)
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, local.Year()%100)
	b = two(b, int(local.Month()))
	b = two(b, local.Day())
	b = two(b, local.Hour())
	b = two(b, local.Minute())
	b = two(b, local.Second())
	if summer {
		return append(b, 'S')
	}
	return append(b, 'W')
}

// luxTime returns t in Luxembourg's local time, CET or CEST, and whether
// summer time applies: from 01:00 UTC on the last Sunday of March to 01:00
// UTC on the last Sunday of October.
func luxTime(t time.Time) (time.Time, bool) {
	u := t.UTC()
	y := u.Year()
	start := lastSunday(y, time.March).Add(time.Hour)
	end := lastSunday(y, time.October).Add(time.Hour)
	if !u.Before(start) && u.Before(end) {
		return u.Add(2 * time.Hour), true
	}
	return u.Add(time.Hour), false
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// localHour returns the local time of day in hours, 0 to 24.
func localHour(t time.Time) float64 {
	l, _ := luxTime(t)
	return float64(l.Hour()) + float64(l.Minute())/60 + float64(l.Second())/3600
}

// demand is the household's activity over the day, about 0 at night, 1 at
// the morning and 2 at the evening peak.
func demand(hour float64) float64 {
	bump := func(center, width float64) float64 {
		d := (hour - center) / width
		return math.Exp(-d * d)
	}
	return 0.1 + bump(7.5, 1.2) + 0.6*bump(12.5, 1) + 2*bump(19, 1.8)
}

// gasRate is the gas flow in litres per hour: hot water in the morning
// and evening, a little heating all day.
func gasRate(hour float64) float64 {
	return 30 + 400*math.Exp(-(hour-7)*(hour-7)) + 300*math.Exp(-(hour-20)*(hour-20)/2)
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func hexText(s string) string {
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, hexDigits[s[i]>>4], hexDigits[s[i]&0xF])
	}
	return string(b)
}

func unhexText(h string) string {
	b := make([]byte, len(h)/2)
	for i := range b {
		hi, lo := h[2*i], h[2*i+1]
		b[i] = nib(hi)<<4 | nib(lo)
	}
	return string(b)
}

func nib(c byte) byte {
	if c >= 'A' {
		return c - 'A' + 10
	}
	return c - '0'
}
