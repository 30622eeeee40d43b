package dsmr

// Info describes an OBIS code the catalogue knows.
type Info struct {
	// Name is a short English description: "Active energy import".
	Name string
	// ID is a stable identifier made of lower-case letters, digits and
	// underscores, for topics, entity ids and column names:
	// "energy_import". Per-channel codes carry the channel: "mbus1_reading".
	ID string
	// Unit is the unit the standard fixes for the object's value (its
	// last number), which counts when the meter leaves it out: "" for
	// counts, states, identifiers and buffers whose entries carry their
	// own units, and for M-Bus readings, whose unit depends on the
	// device type ([Telegram.Unit] knows it).
	Unit string
	// Text is true when the value is an octet string sent as hex digits,
	// such as the meter id or a message.
	Text bool
}

type entry struct {
	code string
	info Info
}

// The catalogue: what the companion standards say of each code. The unit
// is the one the standard fixes for the code's value (the unit the meter
// sends wins when it sends one); counts, states and identifiers have none.
// Sources, cited per block below:
//
//   - DSMR 5.0.2, "P1 Companion Standard" (Netbeheer Nederland, 2016),
//     section 6.12, the table of the P1 objects;
//   - e-MUCS P1 1.7.1 (Synergrid, Belgium), the table of its P1 data;
//   - "Spécifications P1" of Luxembourg's Smarty (Luxmetering, 1.1);
//   - the customer-port descriptions of the Austrian (Sagemcom T210-D,
//     Wiener Netze / Netz NÖ), Hungarian (E.ON, Sagemcom S211/T211 and
//     their P1 leaflet), Irish (ESB Networks, Iskra AM550) and Swedish
//     (Branschrekommendation for the HAN port, SS-EN 62056-21 data)
//     meters, whose extra codes come from IEC 62056-61 / DLMS Blue Book
//     (quadrants, tariffs 3 and 4, power factor, frequency).
//
// 0-n stands for the M-Bus channels 1 to 4.
var entries = []entry{
	// Identification and time (DSMR 5.0.2 6.12; Smarty spec; e-MUCS, whose
	// 0-0:96.1.2 is the EAN code of the connection).
	{"1-3:0.2.8", Info{"P1 version", "p1_version", "", false}},
	{"0-0:96.1.4", Info{"P1 version (Belgium)", "p1_version_be", "", false}},
	{"0-0:1.0.0", Info{"Time of the telegram", "timestamp", "", false}},
	{"0-0:42.0.0", Info{"Meter id", "meter_id", "", true}},
	{"0-0:96.1.1", Info{"Meter id", "equipment_id", "", true}},
	{"0-0:96.1.0", Info{"Meter serial number", "serial_number", "", true}},
	{"0-0:96.1.2", Info{"EAN code of the connection", "ean", "", true}},

	// Energy registers (DSMR 5.0.2 6.12; Smarty; e-MUCS; tariffs 3 and
	// 4: E.ON Hungary, IEC 62056-61).
	{"1-0:1.8.0", Info{"Active energy import", "energy_import", "kWh", false}},
	{"1-0:2.8.0", Info{"Active energy export", "energy_export", "kWh", false}},
	{"1-0:3.8.0", Info{"Reactive energy import", "reactive_energy_import", "kvarh", false}},
	{"1-0:4.8.0", Info{"Reactive energy export", "reactive_energy_export", "kvarh", false}},
	{"1-0:1.8.1", Info{"Active energy import, tariff 1", "energy_import_tariff1", "kWh", false}},
	{"1-0:1.8.2", Info{"Active energy import, tariff 2", "energy_import_tariff2", "kWh", false}},
	{"1-0:1.8.3", Info{"Active energy import, tariff 3", "energy_import_tariff3", "kWh", false}},
	{"1-0:1.8.4", Info{"Active energy import, tariff 4", "energy_import_tariff4", "kWh", false}},
	{"1-0:2.8.1", Info{"Active energy export, tariff 1", "energy_export_tariff1", "kWh", false}},
	{"1-0:2.8.2", Info{"Active energy export, tariff 2", "energy_export_tariff2", "kWh", false}},
	{"1-0:2.8.3", Info{"Active energy export, tariff 3", "energy_export_tariff3", "kWh", false}},
	{"1-0:2.8.4", Info{"Active energy export, tariff 4", "energy_export_tariff4", "kWh", false}},
	// Reactive energy per tariff (Austrian T210-D) and per quadrant
	// (Hungary, Sweden; IEC 62056-61: 5 to 8 are quadrants I to IV).
	{"1-0:3.8.1", Info{"Reactive energy import, tariff 1", "reactive_energy_import_tariff1", "kvarh", false}},
	{"1-0:3.8.2", Info{"Reactive energy import, tariff 2", "reactive_energy_import_tariff2", "kvarh", false}},
	{"1-0:4.8.1", Info{"Reactive energy export, tariff 1", "reactive_energy_export_tariff1", "kvarh", false}},
	{"1-0:4.8.2", Info{"Reactive energy export, tariff 2", "reactive_energy_export_tariff2", "kvarh", false}},
	{"1-0:5.8.0", Info{"Reactive energy, quadrant I", "reactive_energy_q1", "kvarh", false}},
	{"1-0:6.8.0", Info{"Reactive energy, quadrant II", "reactive_energy_q2", "kvarh", false}},
	{"1-0:7.8.0", Info{"Reactive energy, quadrant III", "reactive_energy_q3", "kvarh", false}},
	{"1-0:8.8.0", Info{"Reactive energy, quadrant IV", "reactive_energy_q4", "kvarh", false}},
	{"1-0:15.8.0", Info{"Active energy, import plus export", "energy_combined", "kWh", false}},
	{"0-0:96.14.0", Info{"Tariff indicator", "tariff", "", false}},

	// Instantaneous power (DSMR 5.0.2 6.12; Smarty; quadrants and net
	// power: Hungary, Austria, IEC 62056-61).
	{"1-0:1.7.0", Info{"Active power import", "power_import", "kW", false}},
	{"1-0:2.7.0", Info{"Active power export", "power_export", "kW", false}},
	{"1-0:16.7.0", Info{"Active power, import minus export", "power_net", "kW", false}},
	{"1-0:3.7.0", Info{"Reactive power import", "reactive_power_import", "kvar", false}},
	{"1-0:4.7.0", Info{"Reactive power export", "reactive_power_export", "kvar", false}},
	{"1-0:5.7.0", Info{"Reactive power, quadrant I", "reactive_power_q1", "kvar", false}},
	{"1-0:6.7.0", Info{"Reactive power, quadrant II", "reactive_power_q2", "kvar", false}},
	{"1-0:7.7.0", Info{"Reactive power, quadrant III", "reactive_power_q3", "kvar", false}},
	{"1-0:8.7.0", Info{"Reactive power, quadrant IV", "reactive_power_q4", "kvar", false}},
	{"1-0:9.7.0", Info{"Apparent power import", "apparent_power_import", "kVA", false}},
	{"1-0:10.7.0", Info{"Apparent power export", "apparent_power_export", "kVA", false}},
	{"1-0:13.7.0", Info{"Power factor", "power_factor", "", false}},
	{"1-0:33.7.0", Info{"Power factor L1", "power_factor_l1", "", false}},
	{"1-0:53.7.0", Info{"Power factor L2", "power_factor_l2", "", false}},
	{"1-0:73.7.0", Info{"Power factor L3", "power_factor_l3", "", false}},
	{"1-0:14.7.0", Info{"Frequency", "frequency", "Hz", false}},

	// Limits, breaker, events (Smarty; e-MUCS; DSMR 5.0.2 6.12; per-phase
	// limits: E.ON Hungary).
	{"0-0:17.0.0", Info{"Power limit", "power_limit", "kVA", false}},
	{"1-1:31.4.0", Info{"Current thresholds", "current_thresholds", "A", false}},
	{"1-0:31.4.0", Info{"Current limit", "current_limit", "A", false}},
	{"1-0:51.4.0", Info{"Current limit L2", "current_limit_l2", "A", false}},
	{"1-0:71.4.0", Info{"Current limit L3", "current_limit_l3", "A", false}},
	{"0-0:96.3.10", Info{"Breaker state", "breaker_state", "", false}},
	{"0-0:96.7.21", Info{"Power failures", "power_failures", "", false}},
	{"0-0:96.7.9", Info{"Long power failures", "long_power_failures", "", false}},
	{"1-0:99.97.0", Info{"Power failure log", "power_failure_log", "", false}},
	{"1-0:32.32.0", Info{"Voltage sags L1", "voltage_sags_l1", "", false}},
	{"1-0:52.32.0", Info{"Voltage sags L2", "voltage_sags_l2", "", false}},
	{"1-0:72.32.0", Info{"Voltage sags L3", "voltage_sags_l3", "", false}},
	{"1-0:32.36.0", Info{"Voltage swells L1", "voltage_swells_l1", "", false}},
	{"1-0:52.36.0", Info{"Voltage swells L2", "voltage_swells_l2", "", false}},
	{"1-0:72.36.0", Info{"Voltage swells L3", "voltage_swells_l3", "", false}},
	{"0-0:96.13.0", Info{"Message", "message", "", true}},
	{"0-0:96.13.1", Info{"Message (numeric)", "message_code", "", true}},
	{"0-0:96.13.2", Info{"Message 2", "message2", "", true}},
	{"0-0:96.13.3", Info{"Message 3", "message3", "", true}},
	{"0-0:96.13.4", Info{"Message 4", "message4", "", true}},
	{"0-0:96.13.5", Info{"Message 5", "message5", "", true}},

	// Per phase (DSMR 5.0.2 6.12; Smarty).
	{"1-0:32.7.0", Info{"Voltage L1", "voltage_l1", "V", false}},
	{"1-0:52.7.0", Info{"Voltage L2", "voltage_l2", "V", false}},
	{"1-0:72.7.0", Info{"Voltage L3", "voltage_l3", "V", false}},
	{"1-0:31.7.0", Info{"Current L1", "current_l1", "A", false}},
	{"1-0:51.7.0", Info{"Current L2", "current_l2", "A", false}},
	{"1-0:71.7.0", Info{"Current L3", "current_l3", "A", false}},
	{"1-0:21.7.0", Info{"Active power import L1", "power_import_l1", "kW", false}},
	{"1-0:41.7.0", Info{"Active power import L2", "power_import_l2", "kW", false}},
	{"1-0:61.7.0", Info{"Active power import L3", "power_import_l3", "kW", false}},
	{"1-0:22.7.0", Info{"Active power export L1", "power_export_l1", "kW", false}},
	{"1-0:42.7.0", Info{"Active power export L2", "power_export_l2", "kW", false}},
	{"1-0:62.7.0", Info{"Active power export L3", "power_export_l3", "kW", false}},
	{"1-0:23.7.0", Info{"Reactive power import L1", "reactive_power_import_l1", "kvar", false}},
	{"1-0:43.7.0", Info{"Reactive power import L2", "reactive_power_import_l2", "kvar", false}},
	{"1-0:63.7.0", Info{"Reactive power import L3", "reactive_power_import_l3", "kvar", false}},
	{"1-0:24.7.0", Info{"Reactive power export L1", "reactive_power_export_l1", "kvar", false}},
	{"1-0:44.7.0", Info{"Reactive power export L2", "reactive_power_export_l2", "kvar", false}},
	{"1-0:64.7.0", Info{"Reactive power export L3", "reactive_power_export_l3", "kvar", false}},

	// Demand (e-MUCS). The history 0-0:98.1.0 is a buffer: its first value
	// is a count, and each entry carries its own unit.
	{"1-0:1.4.0", Info{"Current average demand", "average_demand", "kW", false}},
	{"1-0:1.6.0", Info{"Maximum demand this month", "max_demand_month", "kW", false}},
	{"0-0:98.1.0", Info{"Maximum demand history", "max_demand_history", "", false}},

	// M-Bus (DSMR 5.0.2 6.12; e-MUCS). The unit of 0-n:24.2.1 depends on
	// the device type; Telegram.Unit gives it.
	{"0-n:24.1.0", Info{"M-Bus device type", "device_type", "", false}},
	{"0-n:96.1.0", Info{"M-Bus device id", "device_id", "", true}},
	{"0-n:96.1.1", Info{"M-Bus device id", "device_id", "", true}},
	{"0-n:96.1.2", Info{"M-Bus EAN code", "ean", "", true}},
	{"0-n:24.2.1", Info{"M-Bus reading", "reading", "", false}},
	{"0-n:24.2.3", Info{"M-Bus reading (gas, Belgium)", "reading", "m3", false}},
	{"0-n:24.3.0", Info{"M-Bus reading (DSMR 2.2)", "reading", "", false}},
	{"0-n:24.4.0", Info{"M-Bus valve state", "valve_state", "", false}},
	{"0-n:96.3.10", Info{"M-Bus breaker state", "breaker_state", "", false}},
}

var catalogue = buildCatalogue()

// table is the catalogue as Lookup reads it: an open-addressing hash table
// of packed codes, with one entry per channel for the per-channel codes, so
// that a lookup is a multiplication and a probe or two, and allocates
// nothing. The JSON output looks up every object of every telegram.
type table struct {
	keys  [tableSize]uint64 // packed code + 1 (see pack); 0 is a free slot
	index [tableSize]uint16 // into infos
	infos []Info
}

// tableSize is a power of two, at least twice the codes the catalogue
// holds (TestCatalogueTable checks it).
const tableSize = 512

// pack returns o as one number, A in bits 32 to 39 and E in bits 0 to 7,
// plus one, so that no code packs to 0.
func pack(o OBIS) uint64 {
	return (uint64(o.A)<<32 | uint64(o.B)<<24 | uint64(o.C)<<16 | uint64(o.D)<<8 | uint64(o.E)) + 1
}

func slot(key uint64) uint64 { return (key * 0x9E3779B97F4A7C15) >> (64 - 9) }

func (t *table) add(o OBIS, info Info) {
	key := pack(o)
	for i := slot(key); ; i = (i + 1) % tableSize {
		if t.keys[i] == 0 || t.keys[i] == key {
			t.keys[i], t.index[i] = key, uint16(len(t.infos))
			t.infos = append(t.infos, info)
			return
		}
	}
}

func (t *table) get(o OBIS) (*Info, bool) {
	key := pack(o)
	for i := slot(key); ; i = (i + 1) % tableSize {
		switch t.keys[i] {
		case key:
			return &t.infos[t.index[i]], true
		case 0:
			return nil, false
		}
	}
}

// buildCatalogue makes the table Lookup reads, with one key per channel
// for the per-channel codes.
func buildCatalogue() *table {
	t := new(table)
	for _, e := range entries {
		if e.code[2] != 'n' {
			t.add(MustParseOBIS(e.code), e.info)
			continue
		}
		for ch := 1; ch <= 4; ch++ {
			code := e.code[:2] + string(rune('0'+ch)) + e.code[3:]
			info := e.info
			info.ID = "mbus" + string(rune('0'+ch)) + "_" + info.ID
			t.add(MustParseOBIS(code), info)
		}
	}
	if 2*len(t.infos) > tableSize {
		panic("dsmr: the catalogue outgrew its table")
	}
	return t
}

// Lookup returns what the catalogue knows of a code. Per-channel codes
// (0-1:24.2.1 to 0-4:24.2.1, ...) are found under every channel from 1 to
// 4, with the channel in their ID ("mbus1_reading"). An electricity code
// (A = 1) that the catalogue does not know under its measurement channel B
// is looked up under channel 0: 1-1:1.8.0 is 1-0:1.8.0.
func Lookup(o OBIS) (Info, bool) {
	if info, ok := lookup(o); ok {
		return *info, true
	}
	return Info{}, false
}

// lookup is Lookup without the copy.
func lookup(o OBIS) (*Info, bool) {
	info, ok := catalogue.get(o)
	if !ok && o.A == 1 && o.B != 0 {
		info, ok = catalogue.get(o.withChannel(0))
	}
	return info, ok
}
