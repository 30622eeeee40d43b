package dsmr

import (
	"math"
	"time"
)

// Codes of the objects the accessors read.
var (
	CodeVersion         = OBIS{1, 3, 0, 2, 8}
	CodeTime            = OBIS{0, 0, 1, 0, 0}
	CodeMeterID         = OBIS{0, 0, 42, 0, 0}  // Luxembourg
	CodeEquipmentID     = OBIS{0, 0, 96, 1, 1}  // Netherlands, Belgium
	CodeEnergyImport    = OBIS{1, 0, 1, 8, 0}   // kWh
	CodeEnergyExport    = OBIS{1, 0, 2, 8, 0}   // kWh
	CodePowerImport     = OBIS{1, 0, 1, 7, 0}   // kW
	CodePowerExport     = OBIS{1, 0, 2, 7, 0}   // kW
	CodePowerFailureLog = OBIS{1, 0, 99, 97, 0} // power-failure log
)

// Find returns the first object with the given code, or nil when the
// telegram has none. The pointer is into t and shares its lifetime.
func (t *Telegram) Find(code OBIS) *Object {
	for k := range t.objects {
		if t.objects[k].OBIS == code {
			return &t.objects[k]
		}
	}
	return nil
}

// Decimal returns the number of the object with the given code: the last
// numeric group, so that for an M-Bus reading (capture time)(value) it is
// the value. ok is false when the object is absent or holds no number.
func (t *Telegram) Decimal(code OBIS) (d Decimal, unit string, ok bool) {
	o := t.Find(code)
	if o == nil {
		return Decimal{}, "", false
	}
	return o.Decimal()
}

// Float is Decimal as a float64, without the unit.
func (t *Telegram) Float(code OBIS) (float64, bool) {
	d, _, ok := t.Decimal(code)
	return d.Float64(), ok
}

// Decimal returns the object's last numeric group and its unit, skipping
// timestamps, so that for an M-Bus reading (capture time)(value) it is the
// value. When the number has no unit, the unit is taken from a group that
// holds only a unit, as in the DSMR 2.2 gas reading
// 0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3) followed by the line
// (00001.001), or else from the catalogue (Lookup); it is "" when neither
// knows one.
func (o *Object) Decimal() (d Decimal, unit string, ok bool) {
	for k := len(o.Values) - 1; k >= 0; k-- {
		v := o.Values[k]
		if isTimestamp(v.raw) {
			continue
		}
		if d, unit, ok = v.Decimal(); ok {
			if unit == "" {
				unit = o.defaultUnit()
			}
			return d, unit, true
		}
	}
	return Decimal{}, "", false
}

func (o *Object) defaultUnit() string {
	for _, v := range o.Values {
		if u := knownUnit(v.raw); u != "" {
			return u
		}
	}
	if info, known := Lookup(o.OBIS); known {
		return info.Unit
	}
	return ""
}

// Version returns the P1 version the meter reports (1-3:0.2.8, or the
// Belgian 0-0:96.1.4), "" when absent. Smarty meters send "42".
func (t *Telegram) Version() string {
	for _, c := range []OBIS{CodeVersion, {0, 0, 96, 1, 4}} {
		if o := t.Find(c); o != nil && len(o.Values) > 0 {
			return o.Values[0].String()
		}
	}
	return ""
}

// Time returns the time of the telegram (0-0:1.0.0). ok is false when the
// telegram has none or sends a placeholder.
func (t *Telegram) Time() (time.Time, bool) {
	o := t.Find(CodeTime)
	if o == nil || len(o.Values) == 0 {
		return time.Time{}, false
	}
	return o.Values[0].Time()
}

// MeterID returns the meter's identifier, decoded from hex: 0-0:42.0.0 on
// Smarty meters, 0-0:96.1.1 on Dutch and Belgian ones. When the value does
// not decode to text it is returned as sent; "" when absent.
func (t *Telegram) MeterID() string {
	for _, c := range []OBIS{CodeMeterID, CodeEquipmentID} {
		if o := t.Find(c); o != nil && len(o.Values) > 0 {
			v := o.Values[0]
			if s, ok := v.Text(); ok {
				return s
			}
			return v.String()
		}
	}
	return ""
}

// sumOf returns the value of code, or when absent the sum of the tariff
// registers, as Dutch and Belgian meters split energy into tariffs 1 and 2.
// The sum is exact before it is converted, so that 1581.123 + 1435.706 is
// 3016.829 and not 3016.8289999999997.
func (t *Telegram) sumOf(code OBIS, tariffs ...OBIS) (float64, bool) {
	if v, ok := t.Float(code); ok {
		return v, true
	}
	var total Decimal
	found, exact := false, true
	fsum := 0.0
	for _, c := range tariffs {
		if d, _, ok := t.Decimal(c); ok {
			found = true
			fsum += d.Float64()
			if exact {
				total, exact = addDecimal(total, d)
			}
		}
	}
	if exact {
		return total.Float64(), found
	}
	return fsum, found
}

// addDecimal returns a+b, and false when the exact sum does not fit.
func addDecimal(a, b Decimal) (Decimal, bool) {
	for a.Scale < b.Scale {
		if a.Coef > math.MaxInt64/10 || a.Coef < math.MinInt64/10 {
			return Decimal{}, false
		}
		a.Coef *= 10
		a.Scale++
	}
	for b.Scale < a.Scale {
		if b.Coef > math.MaxInt64/10 || b.Coef < math.MinInt64/10 {
			return Decimal{}, false
		}
		b.Coef *= 10
		b.Scale++
	}
	sum := a.Coef + b.Coef
	if (sum > a.Coef) != (b.Coef > 0) {
		return Decimal{}, false // overflow
	}
	return Decimal{Coef: sum, Scale: a.Scale}, true
}

// EnergyImport returns the active energy imported from the grid in kWh:
// 1-0:1.8.0, or the sum of the tariff registers 1-0:1.8.1 and 1-0:1.8.2.
func (t *Telegram) EnergyImport() (kWh float64, ok bool) {
	return t.sumOf(CodeEnergyImport, OBIS{1, 0, 1, 8, 1}, OBIS{1, 0, 1, 8, 2})
}

// EnergyExport returns the active energy exported to the grid in kWh:
// 1-0:2.8.0, or the sum of the tariff registers 1-0:2.8.1 and 1-0:2.8.2.
func (t *Telegram) EnergyExport() (kWh float64, ok bool) {
	return t.sumOf(CodeEnergyExport, OBIS{1, 0, 2, 8, 1}, OBIS{1, 0, 2, 8, 2})
}

// PowerImport returns the active power drawn from the grid now, in kW.
func (t *Telegram) PowerImport() (kW float64, ok bool) { return t.Float(CodePowerImport) }

// PowerExport returns the active power fed into the grid now, in kW.
func (t *Telegram) PowerExport() (kW float64, ok bool) { return t.Float(CodePowerExport) }

// phaseCode returns the code for phase 1 to 3 of a per-phase quantity whose
// L1 code has C group c1; L2 and L3 are 20 and 40 higher.
func phaseCode(c1 uint8, phase int) (OBIS, bool) {
	if phase < 1 || phase > 3 {
		return OBIS{}, false
	}
	return OBIS{1, 0, c1 + uint8(20*(phase-1)), 7, 0}, true
}

func (t *Telegram) phase(c1 uint8, phase int) (float64, bool) {
	code, ok := phaseCode(c1, phase)
	if !ok {
		return 0, false
	}
	return t.Float(code)
}

// Voltage returns the voltage of phase 1, 2 or 3 in V.
func (t *Telegram) Voltage(phase int) (V float64, ok bool) { return t.phase(32, phase) }

// Current returns the current of phase 1, 2 or 3 in A.
func (t *Telegram) Current(phase int) (A float64, ok bool) { return t.phase(31, phase) }

// PhasePowerImport returns the active power imported on phase 1, 2 or 3 in
// kW.
func (t *Telegram) PhasePowerImport(phase int) (kW float64, ok bool) { return t.phase(21, phase) }

// PhasePowerExport returns the active power exported on phase 1, 2 or 3 in
// kW.
func (t *Telegram) PhasePowerExport(phase int) (kW float64, ok bool) { return t.phase(22, phase) }

// M-Bus device types (0-n:24.1.0).
const (
	DeviceGas   = 3
	DeviceHeat  = 4
	DeviceWater = 7
)

// MBusDevice is what a telegram says about one M-Bus channel: a gas, water
// or heat meter connected to the electricity meter.
type MBusDevice struct {
	Channel int    // 1 to 4
	Type    int    // device type from 0-n:24.1.0 (DeviceGas, ...), -1 when not sent
	ID      string // from 0-n:96.1.0 or 0-n:96.1.1, decoded from hex; "" when empty
	// Reading is the meter's last value and Unit its unit (m3 for gas and
	// water, GJ for heat); HasReading is false when the telegram has none.
	Reading    Decimal
	Unit       string
	HasReading bool
	// Time is when the device took the reading; zero when the meter sends
	// a placeholder.
	Time time.Time
	// Valve is the valve state from 0-n:24.4.0, -1 when not sent.
	Valve int
	// Breaker is the state of the channel's breaker from 0-n:96.3.10
	// (1 closed, 0 open), -1 when not sent.
	Breaker int
}

// MBus returns the M-Bus channels the telegram mentions, in channel order.
// The result is newly allocated and may be kept.
func (t *Telegram) MBus() []MBusDevice {
	var devs []MBusDevice
	if t.hasMBus() {
		devs = make([]MBusDevice, 0, 4)
	}
	get := func(ch uint8) *MBusDevice {
		for k := range devs {
			if devs[k].Channel == int(ch) {
				return &devs[k]
			}
		}
		devs = append(devs, MBusDevice{Channel: int(ch), Type: -1, Valve: -1, Breaker: -1})
		return &devs[len(devs)-1]
	}
	for k := range t.objects {
		o := &t.objects[k]
		if o.OBIS.A != 0 || o.OBIS.B < 1 || o.OBIS.B > 4 || len(o.Values) == 0 {
			continue
		}
		switch code := o.OBIS.WithChannel(0); code {
		case OBIS{0, 0, 24, 1, 0}:
			d := get(o.OBIS.B)
			if n, ok := o.Values[0].int(); ok {
				d.Type = n
			}
		case OBIS{0, 0, 96, 1, 0}, OBIS{0, 0, 96, 1, 1}:
			d := get(o.OBIS.B)
			if s, ok := o.Values[0].Text(); ok {
				d.ID = s
			} else {
				d.ID = o.Values[0].String()
			}
		case OBIS{0, 0, 24, 2, 1}, OBIS{0, 0, 24, 2, 3}, OBIS{0, 0, 24, 3, 0}:
			d := get(o.OBIS.B)
			if v, unit, ok := o.Decimal(); ok {
				d.Reading, d.Unit, d.HasReading = v, unit, true
			}
			if tm, ok := o.Values[0].Time(); ok {
				d.Time = tm
			}
		case OBIS{0, 0, 24, 4, 0}:
			d := get(o.OBIS.B)
			if n, ok := o.Values[0].int(); ok {
				d.Valve = n
			}
		case OBIS{0, 0, 96, 3, 10}:
			d := get(o.OBIS.B)
			if n, ok := o.Values[0].int(); ok {
				d.Breaker = n
			}
		}
	}
	for k := range devs {
		d := &devs[k]
		if d.HasReading && d.Unit == "" {
			switch d.Type {
			case DeviceGas, DeviceWater:
				d.Unit = "m3"
			case DeviceHeat:
				d.Unit = "GJ"
			}
		}
	}
	sortDevices(devs)
	return devs
}

// hasMBus reports whether t has an object of an M-Bus channel.
func (t *Telegram) hasMBus() bool {
	for k := range t.objects {
		if b := t.objects[k].OBIS.B; t.objects[k].OBIS.A == 0 && b >= 1 && b <= 4 {
			return true
		}
	}
	return false
}

func sortDevices(d []MBusDevice) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].Channel < d[j-1].Channel; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// PowerFailure is one entry of the power-failure log.
type PowerFailure struct {
	End      time.Time     // when power came back; zero for a placeholder
	Duration time.Duration // how long it was off
}

// PowerFailures decodes the power-failure log 1-0:99.97.0, sent by Dutch
// and Belgian meters as (count)(code)(end)(duration)(end)(duration)...
// ok is false when the telegram has no log or it does not have that form.
func (t *Telegram) PowerFailures() (log []PowerFailure, ok bool) {
	o := t.Find(CodePowerFailureLog)
	if o == nil || len(o.Values) < 2 {
		return nil, false
	}
	n, isInt := o.Values[0].int()
	if !isInt || len(o.Values) != 2+2*n {
		return nil, false
	}
	log = make([]PowerFailure, 0, n)
	for k := 0; k < n; k++ {
		endV, durV := o.Values[2+2*k], o.Values[3+2*k]
		d, unit, isNum := durV.Decimal()
		if !isNum || (unit != "s" && unit != "") || d.Scale != 0 {
			return nil, false
		}
		end, _ := endV.Time()
		log = append(log, PowerFailure{End: end, Duration: time.Duration(d.Coef) * time.Second})
	}
	return log, true
}
