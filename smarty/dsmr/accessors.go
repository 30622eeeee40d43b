package dsmr

import (
	"math"
	"time"
)

// Codes of the objects the accessors read. The electricity codes (A = 1)
// are found under any measurement channel: 1-1:1.8.0 as well as 1-0:1.8.0.
var (
	codeVersion         = OBIS{1, 3, 0, 2, 8}
	codeTime            = OBIS{0, 0, 1, 0, 0}
	CodeMeterID         = OBIS{0, 0, 42, 0, 0}  // Luxembourg, Austria, Hungary
	CodeEquipmentID     = OBIS{0, 0, 96, 1, 1}  // Netherlands, Belgium
	codeSerialNumber    = OBIS{0, 0, 96, 1, 0}  // Hungary, Austria, Ireland
	CodeEnergyImport    = OBIS{1, 0, 1, 8, 0}   // kWh
	codeEnergyExport    = OBIS{1, 0, 2, 8, 0}   // kWh
	CodePowerImport     = OBIS{1, 0, 1, 7, 0}   // kW
	codePowerExport     = OBIS{1, 0, 2, 7, 0}   // kW
	CodePowerFailureLog = OBIS{1, 0, 99, 97, 0} // power-failure log
)

// loc returns the time zone t reads its times in.
func (t *Telegram) loc() *time.Location {
	if t.Location == nil {
		return luxembourg
	}
	return t.Location
}

// Find returns the first object with exactly the given code, or nil when
// the telegram has none. The pointer is into t and shares its lifetime.
func (t *Telegram) Find(code OBIS) *Object {
	for k := range t.objects {
		if t.objects[k].OBIS == code {
			return &t.objects[k]
		}
	}
	return nil
}

// register returns the object of code; for an electricity code (A = 1)
// with none, the first one of the same quantity under another measurement
// channel (1-1:1.8.0 for 1-0:1.8.0).
func (t *Telegram) register(code OBIS) *Object {
	if o := t.Find(code); o != nil || code.A != 1 {
		return o
	}
	for k := range t.objects {
		if o := &t.objects[k]; o.OBIS.A == 1 && o.OBIS.C == code.C && o.OBIS.D == code.D && o.OBIS.E == code.E {
			return o
		}
	}
	return nil
}

// Decimal returns the number of the object with the given code (an
// electricity code under any measurement channel) and its unit: see
// [Telegram.Unit]. For an M-Bus reading (capture time)(value) it is the
// value. ok is false when the object is absent or holds no number.
func (t *Telegram) Decimal(code OBIS) (d Decimal, unit string, ok bool) {
	o := t.register(code)
	if o == nil {
		return Decimal{}, "", false
	}
	k := o.reading()
	if k < 0 {
		return Decimal{}, "", false
	}
	d, _, _ = o.Values[k].Decimal()
	return d, t.Unit(o), true
}

// quantity returns the number of code converted to unit, such as kWh for
// a register the meter sends in Wh. ok is false when it is absent or in a
// unit of another quantity.
func (t *Telegram) quantity(code OBIS, unit string) (Decimal, bool) {
	d, u, ok := t.Decimal(code)
	if !ok {
		return Decimal{}, false
	}
	return convert(d, u, unit)
}

func (t *Telegram) float(code OBIS, unit string) (float64, bool) {
	d, ok := t.quantity(code, unit)
	return d.Float64(), ok
}

// reading returns the index of the object's value: its last numeric
// group, timestamps skipped, so that for (capture time)(value) it is the
// value; -1 when it has none.
func (o *Object) reading() int {
	k, _, _ := o.value()
	return k
}

// value is reading with the number and the unit sent with it, so that
// the group is parsed once.
func (o *Object) value() (k int, d Decimal, unit []byte) {
	for k := len(o.Values) - 1; k >= 0; k-- {
		v := o.Values[k]
		if isTimestamp(v.raw) {
			continue
		}
		if d, u, ok := parseNumber(v.raw); ok {
			return k, d, u
		}
	}
	return -1, Decimal{}, nil
}

// Decimal returns the object's value (its last numeric group, timestamps
// skipped, so that for an M-Bus reading (capture time)(value) it is the
// value) and its unit: the one the meter sent; else the one a group of its
// own gives, as in the DSMR 2.2 gas reading
// 0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3) followed by the line
// (00001.001); else the one the standard fixes for the code ([Lookup]);
// else "". [Telegram.Unit] knows more: the device type of an M-Bus
// channel.
func (o *Object) Decimal() (d Decimal, unit string, ok bool) {
	k, d, u := o.value()
	if k < 0 {
		return Decimal{}, "", false
	}
	if unit = internUnit(u); unit == "" {
		unit = o.defaultUnit()
	}
	return d, unit, true
}

func (o *Object) defaultUnit() string {
	for _, v := range o.Values {
		if u := knownUnit(v.raw); u != "" {
			return u
		}
	}
	if info, known := lookup(o.OBIS); known {
		return info.Unit
	}
	return ""
}

// Unit returns the unit of o's value (see [Object.Decimal]): the one the
// meter sent; else the one the standard fixes for its code, as the
// catalogue says ([Lookup]); else, for an M-Bus reading (0-n:24.2.1,
// 0-n:24.3.0), the one DSMR 5.0.2 fixes for the channel's device type
// (0-n:24.1.0): m3 for gas (3) and water (7), GJ for heat (4). Counts,
// states and identifiers have none: "".
func (t *Telegram) Unit(o *Object) string {
	k, _, sent := o.value()
	if k < 0 {
		return ""
	}
	if unit := internUnit(sent); unit != "" {
		return unit
	}
	return t.DefaultUnit(o)
}

// DefaultUnit returns the unit o's value has when the meter sent none
// with it: [Telegram.Unit] without the unit sent, which it does not
// parse. It is meant for a caller that has parsed the value already
// ([Value.Decimal]) and found no unit; for an object without a number it
// may say what its unit would be.
func (t *Telegram) DefaultUnit(o *Object) string {
	if unit := o.defaultUnit(); unit != "" || o.OBIS.A != 0 || o.OBIS.B < 1 || o.OBIS.B > 4 {
		return unit
	}
	switch o.OBIS.withChannel(0) {
	case OBIS{0, 0, 24, 2, 1}, OBIS{0, 0, 24, 3, 0}:
		return deviceUnit(t.deviceType(o.OBIS.B))
	}
	return ""
}

// DeviceType returns the M-Bus device type (0-n:24.1.0: [DeviceGas],
// [DeviceHeat], [DeviceWater], ...) of channel 1 to 4, as [Telegram.MBus]
// gives it, without the rest of MBus's work; -1 when the telegram does not
// say, or for another channel.
func (t *Telegram) DeviceType(channel int) int {
	if channel < 1 || channel > 4 {
		return -1
	}
	return t.deviceType(uint8(channel))
}

// deviceType returns the M-Bus device type of channel ch, -1 when the
// telegram does not say.
func (t *Telegram) deviceType(ch uint8) int {
	if o := t.Find(OBIS{0, ch, 24, 1, 0}); o != nil && len(o.Values) > 0 {
		if n, ok := o.Values[0].int(); ok {
			return n
		}
	}
	return -1
}

// deviceUnit is the unit DSMR 5.0.2 (table 6.12, M-Bus) fixes for the
// reading of a device type.
func deviceUnit(deviceType int) string {
	switch deviceType {
	case DeviceGas, DeviceWater:
		return "m3"
	case DeviceHeat:
		return "GJ"
	}
	return ""
}

// Version returns the P1 version the meter reports (1-3:0.2.8, or the
// Belgian 0-0:96.1.4), "" when absent. Smarty meters send "42".
func (t *Telegram) Version() string {
	for _, c := range []OBIS{codeVersion, {0, 0, 96, 1, 4}} {
		if o := t.Find(c); o != nil && len(o.Values) > 0 {
			return o.Values[0].String()
		}
	}
	return ""
}

// Time returns the time of the telegram (0-0:1.0.0) in t's time zone (see
// [Value.Time]). ok is false when the telegram has none or sends a
// placeholder.
func (t *Telegram) Time() (time.Time, bool) {
	o := t.Find(codeTime)
	if o == nil || len(o.Values) == 0 {
		return time.Time{}, false
	}
	return o.Values[0].Time(t.loc())
}

// meterIDCodes are where meters put their id, in the order MeterID looks.
var meterIDCodes = [...]OBIS{CodeMeterID, CodeEquipmentID, codeSerialNumber}

// MeterID returns the meter's identifier, decoded from hex: 0-0:42.0.0 on
// Smarty, Austrian and Hungarian meters, 0-0:96.1.1 on Dutch and Belgian
// ones, else 0-0:96.1.0. When the value does not decode to text it is
// returned as sent; "" when absent.
func (t *Telegram) MeterID() string {
	if v, ok := t.MeterIDValue(); ok {
		if s, ok := v.Text(); ok {
			return s
		}
		return v.String()
	}
	return ""
}

// MeterIDValue returns the value MeterID decodes, for a caller that writes
// it without making a string; ok is false when the telegram has none.
func (t *Telegram) MeterIDValue() (Value, bool) {
	for _, c := range meterIDCodes {
		if o := t.Find(c); o != nil && len(o.Values) > 0 {
			return o.Values[0], true
		}
	}
	return Value{}, false
}

// sumOf returns the value of code in unit, or when absent the sum of the
// tariff registers, as meters split energy into tariffs 1 to 4. The sum is
// exact before it is converted, so that 1581.123 + 1435.706 is 3016.829
// and not 3016.8289999999997.
func (t *Telegram) sumOf(code OBIS, unit string, tariffs ...OBIS) (float64, bool) {
	if t.register(code) != nil {
		return t.float(code, unit)
	}
	var total Decimal
	found, exact := false, true
	fsum := 0.0
	for _, c := range tariffs {
		if d, ok := t.quantity(c, unit); ok {
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

// EnergyImport returns the active energy imported from the grid in kWh,
// converted from the unit the meter uses (Wh on Austrian meters):
// 1-0:1.8.0, or the sum of the tariff registers 1-0:1.8.1 to 1-0:1.8.4.
func (t *Telegram) EnergyImport() (kWh float64, ok bool) {
	return t.sumOf(CodeEnergyImport, "kWh", OBIS{1, 0, 1, 8, 1}, OBIS{1, 0, 1, 8, 2}, OBIS{1, 0, 1, 8, 3}, OBIS{1, 0, 1, 8, 4})
}

// EnergyExport returns the active energy exported to the grid in kWh:
// 1-0:2.8.0, or the sum of the tariff registers 1-0:2.8.1 to 1-0:2.8.4.
func (t *Telegram) EnergyExport() (kWh float64, ok bool) {
	return t.sumOf(codeEnergyExport, "kWh", OBIS{1, 0, 2, 8, 1}, OBIS{1, 0, 2, 8, 2}, OBIS{1, 0, 2, 8, 3}, OBIS{1, 0, 2, 8, 4})
}

// PowerImport returns the active power drawn from the grid now (1-0:1.7.0)
// in kW, converted from W when the meter sends W.
func (t *Telegram) PowerImport() (kW float64, ok bool) { return t.float(CodePowerImport, "kW") }

// PowerExport returns the active power fed into the grid now (1-0:2.7.0)
// in kW.
func (t *Telegram) PowerExport() (kW float64, ok bool) { return t.float(codePowerExport, "kW") }

// NetPower returns the active power drawn from the grid now minus the
// power fed into it, in kW: negative while a solar installation exports.
// A register the meter does not send counts as 0; ok is false when it
// sends neither.
func (t *Telegram) NetPower() (kW float64, ok bool) {
	in, okIn := t.quantity(CodePowerImport, "kW")
	out, okOut := t.quantity(codePowerExport, "kW")
	if !okIn && !okOut {
		return 0, false
	}
	out.Coef = -out.Coef
	if net, exact := addDecimal(in, out); exact {
		return net.Float64(), true
	}
	return in.Float64() + out.Float64(), true
}

// phaseCode returns the code for phase 1 to 3 of a per-phase quantity whose
// L1 code has C group c1; L2 and L3 are 20 and 40 higher.
func phaseCode(c1 uint8, phase int) (OBIS, bool) {
	if phase < 1 || phase > 3 {
		return OBIS{}, false
	}
	return OBIS{1, 0, c1 + uint8(20*(phase-1)), 7, 0}, true
}

func (t *Telegram) phase(c1 uint8, phase int, unit string) (float64, bool) {
	code, ok := phaseCode(c1, phase)
	if !ok {
		return 0, false
	}
	return t.float(code, unit)
}

// Voltage returns the voltage of phase 1, 2 or 3 in V.
func (t *Telegram) Voltage(phase int) (V float64, ok bool) { return t.phase(32, phase, "V") }

// Current returns the current of phase 1, 2 or 3 in A.
func (t *Telegram) Current(phase int) (A float64, ok bool) { return t.phase(31, phase, "A") }

// PhasePowerImport returns the active power imported on phase 1, 2 or 3 in
// kW.
func (t *Telegram) PhasePowerImport(phase int) (kW float64, ok bool) {
	return t.phase(21, phase, "kW")
}

// PhasePowerExport returns the active power exported on phase 1, 2 or 3 in
// kW.
func (t *Telegram) PhasePowerExport(phase int) (kW float64, ok bool) {
	return t.phase(22, phase, "kW")
}

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
	// Reading is the device's last value and Unit its unit (see
	// [Telegram.Unit]: as sent, or m3 for gas and water and GJ for heat
	// when the device type is known; "" otherwise). HasReading is false
	// when the telegram has none.
	Reading    Decimal
	Unit       string
	HasReading bool
	// Time is when the device took the reading; zero when the meter sends
	// a placeholder, as for a channel with no device.
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
		switch code := o.OBIS.withChannel(0); code {
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
			if k := o.reading(); k >= 0 {
				d.Reading, _, _ = o.Values[k].Decimal()
				d.Unit, d.HasReading = t.Unit(o), true
			}
			if tm, ok := o.Values[0].Time(t.loc()); ok {
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
// Empty slots, which some meters fill the log with (a placeholder end such
// as 000101000001W and a duration of 2147483647 s or more), are left out.
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
		if !isNum || (unit != "s" && unit != "") || d.Scale != 0 || d.Coef < 0 {
			return nil, false
		}
		if endV.IsPlaceholder() && d.Coef >= math.MaxInt32 {
			continue // an empty slot
		}
		end, _ := endV.Time(t.loc())
		log = append(log, PowerFailure{End: end, Duration: time.Duration(d.Coef) * time.Second})
	}
	return log, true
}
