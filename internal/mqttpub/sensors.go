package mqttpub

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// sensor is one number of a telegram that gets a topic of its own: what
// its discovery config depends on, and its payload.
type sensor struct {
	configKey
	// payload is the number as it is published, the meter's digits
	// without their padding as dsmr.Decimal writes them ("6.695", "-63",
	// "0.000").
	payload []byte
}

// configKey is what a sensor's discovery config depends on (with the
// builder's memoIdentity): its id and name follow from the code, the
// group and the M-Bus device type.
type configKey struct {
	obis dsmr.OBIS
	// group is 0 when the object holds one number, and 1, 2, ... for each
	// number of an object that holds several (1-1:31.4.0(100*A)(-063*A)).
	group int
	// mbusType is the device type of the M-Bus channel the object belongs
	// to (dsmr.DeviceGas, ...), -1 for the meter's own objects and a
	// channel whose type is not sent.
	mbusType int
	// unit by dsmr's rule (see sensorsOf): as the meter sent it; for
	// the object's value without one, the catalogue's or the M-Bus
	// medium's ("m3", "GJ"); else "".
	unit string
	// scale is the number of decimals the meter sends (the display
	// precision).
	scale uint8
}

// label returns the sensor's object id for discovery ("energy_import",
// "mbus1_reading", "current_thresholds_1", "obis_1_0_99_1_0") and its
// name ("Gas (channel 1)", "Current thresholds 2"). It is asked only for a
// discovery config the builder has not kept.
func (s *sensor) label() (id, name string) {
	info, known := dsmr.Lookup(s.obis)
	id, name = info.ID, info.Name
	if !known {
		id, name = unknownID(s.obis), s.obis.String()
	}
	if channel := int(s.obis.B); s.obis.A == 0 && channel >= 1 && channel <= 4 {
		if isMBusReading(s.obis) {
			switch s.mbusType {
			case dsmr.DeviceGas:
				name = "Gas"
			case dsmr.DeviceWater:
				name = "Water"
			case dsmr.DeviceHeat:
				name = "Heat"
			}
		}
		name += " (channel " + strconv.Itoa(channel) + ")"
	}
	if s.group > 0 {
		id += "_" + strconv.Itoa(s.group)
		name += " " + strconv.Itoa(s.group)
	}
	return id, name
}

// suffix returns the part of the sensor's state topic after the root.
func (s *sensor) suffix() string {
	if s.group == 0 {
		return s.obis.String()
	}
	return s.obis.String() + "/" + strconv.Itoa(s.group)
}

// isMBusReading reports whether o is an M-Bus reading, (capture time)(value).
func isMBusReading(o dsmr.OBIS) bool {
	return o.A == 0 && o.B >= 1 && o.B <= 4 && o.C == 24 && (o.D == 2 || o.D == 3)
}

// sensorsOf returns the numbers of t that get a topic, in telegram order:
// every numeric group of every object, except text objects (ids,
// messages), timestamps, the power-failure log (a structure, which the
// telegram topic carries), and M-Bus readings whose capture time is a
// placeholder (a channel with no device behind it).
//
// A number's unit follows dsmr's rule, as the JSON telegram's do: the one
// the meter sent; for the object's value (its last number) without one,
// the one the standard fixes (dsmr.Telegram.DefaultUnit: the catalogue's,
// or the M-Bus device type's); counts and identifiers, and the other
// numbers of an object, such as the count that starts a buffer, have
// none.
func sensorsOf(t *dsmr.Telegram) []sensor {
	out, _ := appendSensors(nil, nil, t, nil)
	return out
}

// appendSensors is sensorsOf appending to out, and the sensors' payloads
// to values, for a caller that reuses the memory. Each payload is a slice
// of values that an append to it cannot extend.
//
// scan, when not nil, remembers what the last telegram's objects and
// sensors were (a meter sends the same codes in the same order), so that
// the next one's catalogue lookups and units cost a comparison.
func appendSensors(out []sensor, values []byte, t *dsmr.Telegram, scan *scanMemo) ([]sensor, []byte) {
	sc := scanner{out: out, values: values, scan: scan, types: [5]int{0, -2, -2, -2, -2}}
	objects := t.Objects()
	for k := range objects {
		o := &objects[k]
		if o.OBIS == dsmr.CodePowerFailureLog {
			continue
		}
		if scan != nil && k < len(scan.codes) && scan.codes[k] == o.OBIS {
			if scan.text[k] {
				continue
			}
		} else if scan.isText(k, o.OBIS) {
			continue
		}
		sc.object(t, o)
	}
	return sc.out, sc.values
}

// scanner is the state of appendSensors.
type scanner struct {
	out    []sensor
	values []byte
	scan   *scanMemo
	types  [5]int // of the M-Bus channels 1 to 4, -2 until asked
}

// object appends the sensors of o, an object that is not text.
func (sc *scanner) object(t *dsmr.Telegram, o *dsmr.Object) {
	if isMBusReading(o.OBIS) && len(o.Values) > 1 && o.Values[0].IsPlaceholder() {
		return
	}
	mbusType := -1
	if ch := o.OBIS.B; o.OBIS.A == 0 && ch >= 1 && ch <= 4 {
		if sc.types[ch] == -2 {
			sc.types[ch] = t.DeviceType(int(ch))
		}
		mbusType = sc.types[ch]
	}
	first := len(sc.out)
	for _, v := range o.Values {
		start := len(sc.values)
		text, unit, ok := v.AppendNumber(sc.values)
		// A timestamp of twelve digits alone reads as a number
		// too: Kind tells, and only such a length needs asking.
		if !ok || (len(v.Bytes()) == 12 || len(v.Bytes()) == 13) && v.Kind() != dsmr.KindNumber {
			continue
		}
		sc.values = text
		var scale uint8
		for i := len(text) - 1; i > start; i-- {
			if text[i] == '.' {
				scale = uint8(len(text) - 1 - i)
				break
			}
		}
		unitText := ""
		if len(unit) > 0 {
			unitText = sc.scan.unit(len(sc.out), unit, v)
		}
		sc.out = append(sc.out, sensor{
			configKey: configKey{obis: o.OBIS, mbusType: mbusType, unit: unitText, scale: scale},
			payload:   text[start:len(text):len(text)],
		})
	}
	out := sc.out
	n := len(out) - first
	if n == 0 {
		return
	}
	if last := &out[len(out)-1]; last.unit == "" {
		last.unit = t.DefaultUnit(o) // the object's value
	}
	if n > 1 {
		for k := range out[first:] {
			out[first+k].group = k + 1
		}
	}
}

// scanMemo remembers, for object k of the last telegram, its code and
// whether the catalogue has it as text, and the last telegram's sensors.
type scanMemo struct {
	codes []dsmr.OBIS
	text  []bool
	// last is the last scan's sensors, spare the memory of the scan
	// before it, for the next.
	last, spare []sensor
}

// scan returns the sensors of t and values with their payloads appended,
// as appendSensors; the sensors are valid until the next call but one.
func (m *scanMemo) scan(values []byte, t *dsmr.Telegram) ([]sensor, []byte) {
	out, values := appendSensors(m.spare[:0], values, t, m)
	m.spare, m.last = m.last, out
	return out, values
}

// isText reports whether the catalogue has c, the code of object k, as
// text; m may be nil.
func (m *scanMemo) isText(k int, c dsmr.OBIS) bool {
	if m != nil && k < len(m.codes) && m.codes[k] == c {
		return m.text[k]
	}
	info, _ := dsmr.Lookup(c)
	switch {
	case m == nil || k > len(m.codes) || k >= maxMemo:
	case k == len(m.codes):
		m.codes, m.text = append(m.codes, c), append(m.text, info.Text)
	default:
		m.codes[k], m.text[k] = c, info.Text
	}
	return info.Text
}

// unit returns u, the unit sent with v, the value of sensor k, as a
// string: the last telegram's when it is the same, so that the steady
// state makes none; m may be nil.
func (m *scanMemo) unit(k int, u []byte, v dsmr.Value) string {
	if m != nil && k < len(m.last) && string(u) == m.last[k].unit {
		return m.last[k].unit
	}
	_, unit, _ := v.Decimal() // the units meters send without a copy
	return unit
}

// unknownID is the object id of a code the catalogue does not know:
// obis_1_0_99_1_0 for 1-0:99.1.0.
func unknownID(c dsmr.OBIS) string {
	b := append(make([]byte, 0, 24), "obis"...)
	for _, g := range [...]uint8{c.A, c.B, c.C, c.D, c.E} {
		b = strconv.AppendUint(append(b, '_'), uint64(g), 10)
	}
	return string(b)
}

// haUnit returns the unit as Home Assistant spells it.
func haUnit(u string) string {
	switch strings.ToLower(u) {
	case "m3":
		return "m³"
	case "kvarh":
		return "kvarh"
	case "varh":
		return "varh"
	case "kvar":
		return "kvar"
	case "var":
		return "var"
	}
	return u
}

// counters are the unitless objects that only ever count up.
var counters = map[[2]uint8]bool{
	{96, 7}:  true,                                 // 0-0:96.7.21 and 96.7.9, power failures
	{32, 32}: true, {52, 32}: true, {72, 32}: true, // voltage sags
	{32, 36}: true, {52, 36}: true, {72, 36}: true, // voltage swells
}

// classify returns the Home Assistant device class and state class of a
// sensor, and whether it is a diagnostic rather than a reading.
//
// The configs work with Home Assistant 2023.11 and newer (MinHomeAssistant).
// A device class is given only with units Home Assistant has accepted for
// it since then: a newer Home Assistant would take more (kVA for
// apparent_power from 2025.10, kvar for reactive_power and the
// reactive_energy class from 2025.6), but an older one rejects the whole
// config of a sensor whose unit does not fit its class, and the sensor
// would be missing. Those sensors keep their unit and state class without
// a device class: Home Assistant shows them and keeps their statistics
// just the same, with a generic icon.
func classify(s *sensor, unit string) (deviceClass, stateClass string, diagnostic bool) {
	switch unit {
	case "kWh", "Wh", "MWh", "GJ", "MJ":
		deviceClass, stateClass = "energy", "total_increasing"
	case "kvarh", "varh", "kVAh", "VAh":
		stateClass = "total_increasing" // reactive_energy only from 2025.6; no apparent-energy class
	case "kW", "W":
		deviceClass, stateClass = "power", "measurement"
	case "var":
		deviceClass, stateClass = "reactive_power", "measurement"
	case "kvar", "kVA":
		stateClass = "measurement" // kvar and kVA fit their classes only from 2025.6 and 2025.10
	case "VA":
		deviceClass, stateClass = "apparent_power", "measurement"
	case "V":
		deviceClass, stateClass = "voltage", "measurement"
	case "A":
		deviceClass, stateClass = "current", "measurement"
	case "m³":
		stateClass = "total_increasing"
		switch s.mbusType {
		case dsmr.DeviceGas:
			deviceClass = "gas"
		case dsmr.DeviceWater:
			deviceClass = "water"
		default:
			deviceClass = "volume"
		}
	case "":
		diagnostic = true
		if counters[[2]uint8{s.obis.C, s.obis.D}] {
			stateClass = "total_increasing"
		}
	}
	// Settings of the connection rather than readings: the power limit
	// and the current thresholds.
	if s.obis == (dsmr.OBIS{A: 0, B: 0, C: 17, D: 0, E: 0}) || s.obis == (dsmr.OBIS{A: 1, B: 1, C: 31, D: 4, E: 0}) {
		stateClass, diagnostic = "", true
	}
	return deviceClass, stateClass, diagnostic
}

// device is the Home Assistant device of one meter.
type device struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer,omitempty"`
	Model        string   `json:"model,omitempty"`
	SerialNumber string   `json:"serial_number,omitempty"`
}

type origin struct {
	Name       string `json:"name"`
	SupportURL string `json:"support_url"`
}

// MinHomeAssistant is the oldest Home Assistant release that accepts every
// discovery config the Publisher sends: the device's serial_number came in
// 2023.11, and no device class is paired with a unit its class accepts
// only later (see classify).
const MinHomeAssistant = "2023.11"

// haConfig is a Home Assistant MQTT discovery payload for a sensor.
type haConfig struct {
	Name           string `json:"name"`
	UniqueID       string `json:"unique_id"`
	StateTopic     string `json:"state_topic"`
	Unit           string `json:"unit_of_measurement,omitempty"`
	DeviceClass    string `json:"device_class,omitempty"`
	StateClass     string `json:"state_class,omitempty"`
	EntityCategory string `json:"entity_category,omitempty"`
	Precision      *int   `json:"suggested_display_precision,omitempty"`
	// Availability lists the publisher's status (online while it is
	// connected to the broker, offline by its will when the connection
	// breaks) and the meter's (offline while the meter is silent);
	// AvailabilityMode "all" makes the sensor available only when both
	// say online.
	Availability     []availability `json:"availability"`
	AvailabilityMode string         `json:"availability_mode"`
	// ExpireAfter, in seconds, makes Home Assistant show a reading as
	// unavailable when no new value came for that long, even if nothing
	// said offline (a program that hangs). 0: never.
	ExpireAfter int    `json:"expire_after,omitempty"`
	Device      device `json:"device"`
	Origin      origin `json:"origin"`
}

type availability struct {
	Topic string `json:"topic"`
}

var theOrigin = origin{Name: "go-smarty-reader", SupportURL: "https://github.com/NEXXTLAB/go-smarty-reader"}

// meterDevice describes the meter that sent t; node is its id as used in
// topics.
func meterDevice(t *dsmr.Telegram, meterID, node string) device {
	d := device{Identifiers: []string{"smarty_" + node}, Name: meterID, Model: t.Header(), SerialNumber: meterID}
	if strings.HasPrefix(meterID, "SAG") {
		d.Manufacturer = "Sagemcom"
	}
	return d
}

// discovery returns the discovery topic and payload of sensor s.
// expireAfter is the config's expire_after in seconds (0: none).
func discovery(s *sensor, id *identity, dev *device, prefix string, expireAfter int) (topic string, payload []byte) {
	unit := haUnit(s.unit)
	dc, sc, diag := classify(s, unit)
	prec := int(s.scale)
	objectID, name := s.label()
	c := haConfig{
		Name:             name,
		UniqueID:         "smarty_" + id.node + "_" + objectID,
		StateTopic:       id.root + "/" + s.suffix(),
		Unit:             unit,
		DeviceClass:      dc,
		StateClass:       sc,
		Precision:        &prec,
		Availability:     []availability{{id.status}, {id.meterStatus}},
		AvailabilityMode: "all",
		ExpireAfter:      expireAfter,
		Device:           *dev,
		Origin:           theOrigin,
	}
	if diag {
		c.EntityCategory = "diagnostic"
	}
	payload, _ = json.Marshal(&c) // cannot fail: strings and ints only
	return discoveryTopic(prefix, id, objectID), payload
}

// identity is who a connection publishes as: it depends on the meter when
// the topic root or the client id carry {meter}.
type identity struct {
	meterID  string // as the telegram gives it
	node     string // meterID made safe for topics and ids
	root     string
	clientID string
	status   string
	// meterStatus is the meter's availability topic: online while
	// telegrams come, offline when the meter has been silent past the
	// watchdog (Publisher.MeterOnline).
	meterStatus string
}

// nodeID makes a meter id safe for MQTT topics and Home Assistant ids:
// letters, digits, '_' and '-' are kept, anything else becomes '_'.
func nodeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// sameConnection reports whether a and b connect the same way: the same
// client id and topics (the meter's id may differ, or be unknown).
func (a identity) sameConnection(b identity) bool {
	return a.clientID == b.clientID && a.root == b.root
}

// MeterStatusTopic is the last part of the meter's availability topic,
// <root>/meter_status: "online" while telegrams come, "offline" when the
// meter has been silent past the watchdog.
const MeterStatusTopic = "meter_status"

// discoveryTopic returns the discovery config topic of the sensor with the
// object id objectID.
func discoveryTopic(prefix string, id *identity, objectID string) string {
	return prefix + "/sensor/" + id.node + "/" + objectID + "/config"
}

// identityOf returns the identity for a telegram from the meter meterID.
func identityOf(cfg *Config, meterID string) identity {
	if meterID == "" {
		meterID = "meter"
	}
	node := nodeID(meterID)
	root := strings.ReplaceAll(cfg.TopicRoot, MeterPlaceholder, node)
	return identity{
		meterID:     meterID,
		node:        node,
		root:        root,
		clientID:    strings.ReplaceAll(cfg.ClientID, MeterPlaceholder, node),
		status:      root + "/status",
		meterStatus: root + "/" + MeterStatusTopic,
	}
}
