package mqttpub

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// render writes messages the way the golden files hold them: topic and
// retain flag on one line, the payload (JSON indented) below.
func render(msgs []message) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s retain=%v\n", m.topic, m.retain)
		var ind bytes.Buffer
		if (m.kind == kindDiscovery || m.kind == kindTelegram) && json.Indent(&ind, m.payload, "", "  ") == nil {
			b.Write(ind.Bytes())
		} else {
			b.Write(m.payload)
		}
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

func TestBuildGolden(t *testing.T) {
	luxSpec := readFile(t, "../../testdata/lux-spec-example.txt")
	real2018 := readFile(t, "../../testdata/smarty-2018.txt")
	dutch := readFile(t, "testdata/dsmr5-input.txt")
	for _, tc := range []struct {
		name   string
		cfg    Config
		r      Reading
		golden string
	}{
		{
			name:   "lux spec example, plain",
			r:      Reading{Telegram: luxSpec},
			golden: "lux-spec-example.golden",
		},
		{
			name:   "real 2018 telegram, encrypted",
			r:      Reading{Telegram: real2018, Encrypted: true, SystemTitle: [8]byte{0x53, 0x41, 0x47, 0x67, 0x70, 0x01, 0xBD, 0x54}, FrameCounter: 0x0005A8E3},
			golden: "smarty-2018.golden",
		},
		{
			name:   "Dutch DSMR 5, meter id in the root, no retain, no discovery",
			cfg:    Config{TopicRoot: "p1/{meter}", NoRetain: true, NoDiscovery: true},
			r:      Reading{Telegram: dutch},
			golden: "dsmr5-noretain.golden",
		},
		{
			name:   "custom discovery prefix",
			cfg:    Config{TopicRoot: "home/meter", DiscoveryPrefix: "ha"},
			r:      reading(3),
			golden: "generated-prefix.golden",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Broker = "tcp://localhost"
			cfg.setDefaults()
			tel, err := dsmr.Parse(tc.r.Telegram)
			if err != nil {
				t.Fatal(err)
			}
			b := builder{cfg: &cfg}
			id := identityOf(&cfg, tel.MeterID())
			golden(t, tc.golden, render(b.build(tel, &tc.r, &id)))
		})
	}
}

// topics returns the topics of msgs of one kind.
func topics(msgs []message, kind msgKind) []string {
	var out []string
	for _, m := range msgs {
		if m.kind == kind {
			out = append(out, m.topic+"="+string(m.payload))
		}
	}
	return out
}

func TestOnlyOnChange(t *testing.T) {
	cfg := Config{Broker: "tcp://x", OnlyOnChange: true, Heartbeat: time.Minute, NoDiscovery: true}
	cfg.setDefaults()
	b := builder{cfg: &cfg}
	// Telegrams 0, 1, ...: energy changes every time, power every time
	// (n%7), voltage never, gas every 10th.
	type step struct {
		n    int
		want []string
	}
	steps := []step{
		{0, []string{"smarty/1-3:0.2.8=42", "smarty/1-0:1.8.0=25.653", "smarty/1-0:2.8.0=0.040", "smarty/1-0:1.7.0=0.000", "smarty/1-0:32.7.0=233.0", "smarty/0-1:24.1.0=3", "smarty/0-1:24.2.1=0.006"}},
		{1, []string{"smarty/1-0:1.8.0=25.654", "smarty/1-0:1.7.0=0.100"}},
		{2, []string{"smarty/1-0:1.8.0=25.655", "smarty/1-0:1.7.0=0.200"}},
		// 60 s after telegram 0: the heartbeat republishes the unchanged.
		{6, []string{"smarty/1-3:0.2.8=42", "smarty/1-0:1.8.0=25.659", "smarty/1-0:2.8.0=0.040", "smarty/1-0:1.7.0=0.600", "smarty/1-0:32.7.0=233.0", "smarty/0-1:24.1.0=3", "smarty/0-1:24.2.1=0.006"}},
		{7, []string{"smarty/1-0:1.8.0=25.660", "smarty/1-0:1.7.0=0.000"}},
		{10, []string{"smarty/1-0:1.8.0=25.663", "smarty/1-0:1.7.0=0.300", "smarty/0-1:24.2.1=0.007"}},
	}
	for _, s := range steps {
		r := reading(s.n)
		tel, err := dsmr.Parse(r.Telegram)
		if err != nil {
			t.Fatal(err)
		}
		id := identityOf(&cfg, tel.MeterID())
		msgs := b.build(tel, &r, &id)
		if diff := cmp.Diff(s.want, topics(msgs, kindValue)); diff != "" {
			t.Errorf("telegram %d: value topics differ (-want +got):\n%s", s.n, diff)
		}
		if got := topics(msgs, kindTelegram); len(got) != 1 {
			t.Errorf("telegram %d: %d telegram messages, want 1", s.n, len(got))
		}
		b.commit(msgs, r.Received)
	}
}

// TestOnlyOnChangeUncommitted shows that a telegram whose messages were not
// delivered (connection lost) is built the same way again.
func TestOnlyOnChangeUncommitted(t *testing.T) {
	cfg := Config{Broker: "tcp://x", OnlyOnChange: true}
	cfg.setDefaults()
	b := builder{cfg: &cfg}
	r := reading(1)
	tel, _ := dsmr.Parse(r.Telegram)
	id := identityOf(&cfg, tel.MeterID())
	first := b.build(tel, &r, &id)
	again := b.build(tel, &r, &id)
	if len(first) != len(again) {
		t.Fatalf("rebuilt telegram has %d messages, first build %d", len(again), len(first))
	}
	b.commit(again, r.Received)
	if after := b.build(tel, &r, &id); len(after) >= len(first) {
		t.Errorf("after commit: %d messages, want fewer than %d (no unchanged values, no discovery)", len(after), len(first))
	}
	b.forget()
	after := b.build(tel, &r, &id)
	if n := len(topics(after, kindDiscovery)); n == 0 {
		t.Errorf("after forget: no discovery configs, want them sent again")
	}
}

func TestClassify(t *testing.T) {
	luxSpec := readFile(t, "../../testdata/lux-spec-example.txt")
	tel, err := dsmr.Parse(luxSpec)
	if err != nil {
		t.Fatal(err)
	}
	byTopic := map[string]sensor{}
	for _, s := range sensorsOf(tel) {
		byTopic[s.suffix()] = s
	}
	for _, tc := range []struct {
		topic, unit, deviceClass, stateClass string
		diagnostic                           bool
	}{
		{"1-0:1.8.0", "kWh", "energy", "total_increasing", false},
		{"1-0:2.8.0", "kWh", "energy", "total_increasing", false},
		{"1-0:3.8.0", "kvarh", "", "total_increasing", false}, // reactive_energy only from HA 2025.6
		{"1-0:1.7.0", "kW", "power", "measurement", false},
		{"1-0:3.7.0", "kvar", "", "measurement", false}, // kvar for reactive_power only from HA 2025.6
		{"1-0:9.7.0", "kVA", "", "measurement", false},  // kVA for apparent_power only from HA 2025.10
		{"0-0:17.0.0", "kVA", "", "", true},
		{"1-1:31.4.0/1", "A", "current", "", true},
		{"1-1:31.4.0/2", "A", "current", "", true},
		{"1-0:32.7.0", "V", "voltage", "measurement", false},
		{"1-0:31.7.0", "A", "current", "measurement", false},
		{"0-0:96.7.21", "", "", "total_increasing", true},
		{"1-0:32.32.0", "", "", "total_increasing", true},
		{"0-0:96.3.10", "", "", "", true},
		{"0-1:24.2.1", "m³", "gas", "total_increasing", false},
		{"0-4:24.2.1", "m³", "gas", "total_increasing", false},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			s, ok := byTopic[tc.topic]
			if !ok {
				t.Fatalf("no sensor for %s", tc.topic)
			}
			unit := haUnit(s.unit)
			dc, sc, diag := classify(&s, unit)
			if unit != tc.unit || dc != tc.deviceClass || sc != tc.stateClass || diag != tc.diagnostic {
				t.Errorf("got unit %q, device_class %q, state_class %q, diagnostic %v; want %q, %q, %q, %v",
					unit, dc, sc, diag, tc.unit, tc.deviceClass, tc.stateClass, tc.diagnostic)
			}
		})
	}
	// Channels 2 and 3 are water meters with placeholder readings: no
	// device behind them, so no sensor.
	for _, topic := range []string{"0-2:24.2.1", "0-3:24.2.1"} {
		if _, ok := byTopic[topic]; ok {
			t.Errorf("%s has a placeholder capture time but got a sensor", topic)
		}
	}
}

func TestWaterMeter(t *testing.T) {
	text := "/XMX5LGBBFG1009021021\r\n\r\n0-0:96.1.1(4530303331303033303031363939353135)\r\n" +
		"0-1:24.1.0(007)\r\n0-1:24.2.1(200101120000W)(00012.345*m3)\r\n!"
	text += fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(text)))
	tel, err := dsmr.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ss := sensorsOf(tel)
	if len(ss) != 2 {
		t.Fatalf("%d sensors, want 2 (device type, reading)", len(ss))
	}
	s := ss[1]
	unit := haUnit(s.unit)
	dc, sc, _ := classify(&s, unit)
	if _, name := s.label(); name != "Water (channel 1)" || unit != "m³" || dc != "water" || sc != "total_increasing" || string(s.payload) != "12.345" {
		t.Errorf("got %q %s %q %q %q, want Water (channel 1) 12.345 m³ water total_increasing", name, s.payload, unit, dc, sc)
	}
}

// TestSensorUnits: a number's unit on MQTT is the one the JSON telegram
// gives it, by dsmr's rule: the unit sent, else for the object's value
// the one the standard fixes; counts and the other numbers of an object
// have none.
func TestSensorUnits(t *testing.T) {
	tests := []struct {
		name, lines string
		want        []string // suffix=unit of each sensor, in order
	}{
		{"thresholds without units", "1-1:31.4.0(100)(063)", []string{"1-1:31.4.0/1=", "1-1:31.4.0/2=A"}},
		{"thresholds with units", "1-1:31.4.0(100*A)(-063*A)", []string{"1-1:31.4.0/1=A", "1-1:31.4.0/2=A"}},
		{"a count is no power", "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230101000000W)(221214180000W)(03.155*kW)",
			[]string{"0-0:98.1.0/1=", "0-0:98.1.0/2=kW"}},
		{"reactive power without its unit", "1-0:3.7.0(00.000)", []string{"1-0:3.7.0=kvar"}},
		{"a state has none", "0-0:96.3.10(1)", []string{"0-0:96.3.10="}},
		{"DSMR 2.2 gas: only the reading is in m3", "0-1:24.1.0(003)\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)",
			[]string{"0-1:24.1.0=", "0-1:24.3.0/1=", "0-1:24.3.0/2=", "0-1:24.3.0/3=", "0-1:24.3.0/4=m3"}},
		{"gas by the device type", "0-1:24.1.0(003)\r\n0-1:24.2.1(200101120000W)(00012.345)", []string{"0-1:24.1.0=", "0-1:24.2.1=m3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "/ABC5 test\r\n\r\n" + tc.lines + "\r\n!"
			text += fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(text)))
			tel, err := dsmr.Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sensorsOf(tel) {
				got = append(got, s.suffix()+"="+s.unit)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("units (-want +got):\n%s", diff)
			}
			checkUnitsAgainstJSON(t, tel)
		})
	}
	files, _ := filepath.Glob("../../testdata/meters/*.txt")
	if len(files) < 60 {
		t.Fatalf("%d telegrams in testdata/meters", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tel, err := dsmr.Parse(data)
		if err != nil {
			continue // a damaged one of the corpus
		}
		t.Run(filepath.Base(f), func(t *testing.T) { checkUnitsAgainstJSON(t, tel) })
	}
}

// checkUnitsAgainstJSON compares the unit of each sensor of tel with the
// one the JSON telegram gives the same number.
func checkUnitsAgainstJSON(t *testing.T, tel *dsmr.Telegram) {
	t.Helper()
	var js struct {
		Objects []struct {
			OBIS   string `json:"obis"`
			Values []struct {
				Number json.RawMessage `json:"number"`
				Unit   string          `json:"unit"`
			} `json:"values"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(format.AppendJSON(nil, tel, nil), &js); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{} // "obis/k": unit of the k-th number
	for _, o := range js.Objects {
		k := 0
		for _, v := range o.Values {
			if v.Number != nil {
				k++
				units[fmt.Sprintf("%s/%d", o.OBIS, k)] = v.Unit
			}
		}
	}
	for _, s := range sensorsOf(tel) {
		key := fmt.Sprintf("%s/%d", s.obis, max(s.group, 1))
		if want, ok := units[key]; !ok || s.unit != want {
			t.Errorf("sensor %s: unit %q, the JSON says %q (present %v)", key, s.unit, want, ok)
		}
	}
}

func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		root, client, meter     string
		wantRoot, wantClient    string
		wantNode, wantStatusTop string
	}{
		{"smarty", "", "SAG1030700114004", "smarty", "smarty-SAG1030700114004", "SAG1030700114004", "smarty/status"},
		{"smarty/{meter}", "", "SAG1030700114004", "smarty/SAG1030700114004", "smarty-SAG1030700114004", "SAG1030700114004", "smarty/SAG1030700114004/status"},
		{"p1", "fixed", "E0031003001699515", "p1", "fixed", "E0031003001699515", "p1/status"},
		{"x/{meter}", "c-{meter}", "a b/c+#", "x/a_b_c__", "c-a_b_c__", "a_b_c__", "x/a_b_c__/status"},
		{"smarty", "", "", "smarty", "smarty-meter", "meter", "smarty/status"},
	} {
		cfg := Config{TopicRoot: tc.root, ClientID: tc.client}
		cfg.setDefaults()
		id := identityOf(&cfg, tc.meter)
		if id.root != tc.wantRoot || id.clientID != tc.wantClient || id.node != tc.wantNode || id.status != tc.wantStatusTop {
			t.Errorf("root %q client %q meter %q: got %+v", tc.root, tc.client, tc.meter, id)
		}
	}
}

func TestParseBroker(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"tcp://localhost:1883", "tcp://localhost:1883", ""},
		{"tcp://localhost", "tcp://localhost:1883", ""},
		{"ssl://broker.lan", "ssl://broker.lan:8883", ""},
		{"MQTTS://broker.lan:8884", "mqtts://broker.lan:8884", ""},
		{"ws://broker.lan:9001/mqtt", "ws://broker.lan:9001/mqtt", ""},
		{"wss://broker.lan/mqtt", "wss://broker.lan/mqtt", ""},
		{"tcp://[::1]", "tcp://[::1]:1883", ""},
		{"localhost:1883", "", "has no scheme"},
		{"http://localhost", "", "unknown scheme"},
		{"tcp://", "", "no host name"},
		{"", "", "no broker URL"},
		{"tcp://bad host", "", "does not parse"},
	} {
		got, err := ParseBroker(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBroker(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBroker(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestBuilderRestore shows that a batch that was built but not delivered
// leaves the builder as if only the delivered telegrams had been built.
func TestBuilderRestore(t *testing.T) {
	cfg := Config{Broker: "tcp://x", OnlyOnChange: true}
	cfg.setDefaults()
	b := builder{cfg: &cfg}
	build := func(n int) []message {
		r := reading(n)
		tel, err := dsmr.Parse(r.Telegram)
		if err != nil {
			t.Fatal(err)
		}
		id := identityOf(&cfg, tel.MeterID())
		return b.build(tel, &r, &id)
	}
	b.commit(build(0), reading(0).Received)
	snap := b.snapshot()
	m1 := build(1)
	b.commit(m1, reading(1).Received)
	m2 := build(2)
	b.commit(m2, reading(2).Received)
	// Telegram 1 was delivered, telegram 2 was not.
	b.restore(snap)
	b.commit(m1, reading(1).Received)
	if diff := cmp.Diff(render(m2), render(build(2))); diff != "" {
		t.Errorf("telegram 2 built again differs (-first +again):\n%s", diff)
	}
}
