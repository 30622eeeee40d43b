package mqttpub

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// quarterStatus is the state of a quarter heading over 3 kW at 12:04.
func quarterStatus(warn bool, price float64) *quarter.Status {
	cest := time.FixedZone("CEST", 2*60*60)
	return &quarter.Status{
		Time:  time.Date(2020, 7, 6, 12, 4, 0, 0, cest),
		Start: time.Date(2020, 7, 6, 12, 0, 0, 0, cest), End: time.Date(2020, 7, 6, 12, 15, 0, 0, cest),
		Import: 0.02, Average: 0.3, Power: 4.5, Projected: 0.845, RefPower: 3, Price: price,
		Margin: -0.518182, ExcessDay: 1.25, ExcessMonth: 10.5, CostDay: 1.25 * price, CostMonth: 10.5 * price,
		Warning: true, Warn: warn,
	}
}

// TestBrokerQuarter: with quarter-hour figures, the state topic (retained),
// the warning event (once, not retained) and the Home Assistant entities:
// energy sensors for the Energy dashboard, a binary sensor, an event.
func TestBrokerQuarter(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	live := subscribe(t, b.URL(), "live", "#", false)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1})
	if err := p.Add(reading(1)); err != nil {
		t.Fatal(err)
	}
	p.SetQuarter(quarterStatus(true, 0.1139))
	m := live.WaitFor(t, "the quarter and its warning", func(m []received) bool {
		_, state := lastOf(m, "smarty/quarter")
		_, warning := lastOf(m, "smarty/quarter/warning")
		return state && warning
	})
	var state map[string]any
	r, _ := lastOf(m, "smarty/quarter")
	if err := json.Unmarshal([]byte(r.Payload), &state); err != nil {
		t.Fatalf("smarty/quarter: %v: %s", err, r.Payload)
	}
	for k, v := range map[string]any{"reference_power_kw": 3.0, "import_kwh": 0.02, "projected_kw": 3.38,
		"margin_kw": -0.518, "excess_day_kwh": 1.25, "cost_day_eur": 0.14, "warning": true, "estimated": false,
		"start": "2020-07-06T12:00:00+02:00"} {
		if state[k] != v {
			t.Errorf("smarty/quarter: %s = %v, want %v", k, state[k], v)
		}
	}
	var event map[string]any
	r, _ = lastOf(m, "smarty/quarter/warning")
	json.Unmarshal([]byte(r.Payload), &event)
	if event["event_type"] != "heading_over" || event["projected_kw"] != 3.38 {
		t.Errorf("warning event %s", r.Payload)
	}

	// The next telegram of the same quarter: a new state, no new warning.
	p.Add(reading(2))
	st := quarterStatus(false, 0.1139)
	st.Import = 0.05
	p.SetQuarter(st)
	m = live.WaitFor(t, "the next state", func(m []received) bool {
		r, _ := lastOf(m, "smarty/quarter")
		return strings.Contains(r.Payload, `"import_kwh":0.05`)
	})
	warnings := 0
	for _, r := range m {
		if r.Topic == "smarty/quarter/warning" {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings, want 1", warnings)
	}

	// What Home Assistant finds: the state retained, not the event, and
	// a config for each entity.
	late := subscribe(t, b.URL(), "late", "#", false)
	got := map[string]received{}
	for _, r := range late.Barrier(t) {
		got[r.Topic] = r
	}
	if _, ok := got["smarty/quarter"]; !ok {
		t.Error("smarty/quarter is not retained")
	}
	if _, ok := got["smarty/quarter/warning"]; ok {
		t.Error("the warning event is retained")
	}
	node := "SAG1030790002574"
	for topic, want := range map[string]map[string]any{
		"homeassistant/sensor/" + node + "/excess_day/config": {"state_topic": "smarty/quarter", "value_template": "{{ value_json.excess_day_kwh }}",
			"unit_of_measurement": "kWh", "device_class": "energy", "state_class": "total_increasing", "availability_mode": "all"},
		"homeassistant/sensor/" + node + "/excess_month/config":      {"device_class": "energy", "state_class": "total_increasing"},
		"homeassistant/sensor/" + node + "/quarter_import/config":    {"device_class": "energy", "state_class": "total_increasing"},
		"homeassistant/sensor/" + node + "/quarter_projected/config": {"unit_of_measurement": "kW", "device_class": "power", "state_class": "measurement"},
		"homeassistant/sensor/" + node + "/excess_cost_month/config": {"unit_of_measurement": "EUR", "device_class": "monetary"},
		"homeassistant/binary_sensor/" + node + "/quarter_over/config": {"device_class": "problem",
			"value_template": "{{ 'ON' if value_json.warning else 'OFF' }}", "state_topic": "smarty/quarter"},
		"homeassistant/event/" + node + "/quarter_warning/config": {"state_topic": "smarty/quarter/warning"},
	} {
		r, ok := got[topic]
		if !ok {
			t.Errorf("no %s", topic)
			continue
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(r.Payload), &cfg); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
		for k, v := range want {
			if cfg[k] != v {
				t.Errorf("%s: %s = %v, want %v", topic, k, cfg[k], v)
			}
		}
		if dev, _ := cfg["device"].(map[string]any); dev == nil || dev["identifiers"] == nil {
			t.Errorf("%s: no device", topic)
		}
	}

	// Home Assistant restarts: the quarter's configs come again with the
	// meter's.
	live.Publish(t, "homeassistant/status", "online", false)
	live.WaitFor(t, "the quarter's configs again", func(m []received) bool {
		n := 0
		for _, r := range m {
			if r.Topic == "homeassistant/binary_sensor/"+node+"/quarter_over/config" {
				n++
			}
		}
		return n == 2
	})
}

// TestQuarterDiscoveryWithoutPrice: no cost entities without a price.
func TestQuarterDiscoveryWithoutPrice(t *testing.T) {
	id := identityOf(&Config{TopicRoot: "smarty/{meter}", ClientID: "x"}, "SAG1")
	with, without := quarterDiscovery(&id, true, "homeassistant", 120), quarterDiscovery(&id, false, "homeassistant", 120)
	if len(with) != len(quarterEntities) || len(without) != len(quarterEntities)-2 {
		t.Errorf("%d configs with a price, %d without", len(with), len(without))
	}
	for _, m := range without {
		if strings.Contains(m.topic, "cost") {
			t.Errorf("%s without a price", m.topic)
		}
		if !strings.Contains(string(m.payload), `"state_topic":"smarty/SAG1/quarter`) {
			t.Errorf("%s: %s", m.topic, m.payload)
		}
	}
}
