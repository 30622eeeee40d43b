package mqttpub

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// retainedPayloads returns what a subscriber that comes now gets: the
// retained topics with their payloads.
func retainedPayloads(t *testing.T, url, clientID, filter string) map[string]string {
	t.Helper()
	s := subscribe(t, url, clientID, filter, false)
	got := map[string]string{}
	for _, m := range s.Barrier(t) {
		if m.Retained {
			got[m.Topic] = m.Payload
		}
	}
	return got
}

// TestMeterAvailability follows the meter's availability topic through a
// silence and back, and checks that every discovery config lists it beside
// the publisher's status, with expire_after on the readings.
func TestMeterAvailability(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	live := subscribe(t, b.URL(), "live", "smarty/#", false)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, OnlyOnChange: true, Heartbeat: 5 * time.Minute})

	meterStatus := func(m []received) []string {
		var out []string
		for _, r := range m {
			if r.Topic == "smarty/meter_status" {
				out = append(out, r.Payload)
			}
		}
		return out
	}
	if err := p.Add(reading(1)); err != nil {
		t.Fatal(err)
	}
	live.WaitFor(t, "the meter online", func(m []received) bool { return len(meterStatus(m)) == 1 })
	p.MeterOnline(true) // no change: nothing published
	p.MeterOnline(false)
	live.WaitFor(t, "the meter offline", func(m []received) bool { return len(meterStatus(m)) == 2 })
	if got := retainedPayloads(t, b.URL(), "late1", "smarty/#"); got["smarty/status"] != "online" || got["smarty/meter_status"] != "offline" {
		t.Errorf("retained while the meter is silent: status %q, meter_status %q; want online, offline", got["smarty/status"], got["smarty/meter_status"])
	}
	if err := p.Add(reading(2)); err != nil { // a telegram: online again
		t.Fatal(err)
	}
	m := live.WaitFor(t, "the meter online again", func(m []received) bool { return len(meterStatus(m)) == 3 })
	if diff := cmp.Diff([]string{"online", "offline", "online"}, meterStatus(m)); diff != "" {
		t.Errorf("meter_status (-want +got):\n%s", diff)
	}
	// The meter's "online" comes before the readings of the telegram that
	// brought it back.
	i := slices.IndexFunc(m, func(r received) bool { return r.Topic == "smarty/meter_status" && r.Payload == "offline" })
	for _, r := range m[i+1:] {
		if r.Topic == "smarty/meter_status" {
			break
		}
		if strings.HasPrefix(r.Topic, "smarty/1-0:") {
			t.Errorf("%s published before the meter came back online", r.Topic)
		}
	}

	configs := retainedPayloads(t, b.URL(), "late2", "homeassistant/sensor/#")
	if len(configs) == 0 {
		t.Fatal("no discovery config retained")
	}
	for topic, payload := range configs {
		var c struct {
			Availability     []struct{ Topic string }
			AvailabilityMode string `json:"availability_mode"`
			ExpireAfter      int    `json:"expire_after"`
		}
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		want := []struct{ Topic string }{{"smarty/status"}, {"smarty/meter_status"}}
		if !cmp.Equal(c.Availability, want) || c.AvailabilityMode != "all" || c.ExpireAfter != 420 {
			t.Errorf("%s: availability %v mode %q expire_after %d; want both status topics, all, 420 (heartbeat + 2 min)",
				topic, c.Availability, c.AvailabilityMode, c.ExpireAfter)
		}
	}
}

// TestMeterOfflineBeforeConnection: a state set before the first
// connection is published once connected.
func TestMeterOfflineBeforeConnection(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1})
	p.MeterOnline(false) // nothing to connect for yet: remembered
	if err := p.Add(reading(1)); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	if got := retainedPayloads(t, b.URL(), "late", "smarty/meter_status"); got["smarty/meter_status"] != "online" {
		t.Errorf("meter_status %q, want online (a telegram came after the silence)", got["smarty/meter_status"])
	}
}

func TestExpireAfter(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want int
	}{
		{Config{}, 120},
		{Config{OnlyOnChange: true, Heartbeat: 5 * time.Minute}, 420},
		{Config{OnlyOnChange: true}, 0}, // an unchanged reading is never published again
		{Config{ExpireAfter: 90 * time.Second}, 90},
		{Config{ExpireAfter: 1500 * time.Millisecond}, 2},
		{Config{ExpireAfter: -1}, 0},
	} {
		if got := tc.cfg.expireSeconds(); got != tc.want {
			t.Errorf("%+v: expire_after %d, want %d", tc.cfg, got, tc.want)
		}
	}
}

// TestRemoveDiscovery publishes a meter's configs, plus one for an object
// that only an older telegram had, and another meter's; RemoveDiscovery
// must clear exactly the first meter's.
func TestRemoveDiscovery(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	p, stop := startPublisher(t, Config{Broker: b.URL(), QoS: 1})
	if err := p.Add(reading(1)); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	other := subscribe(t, b.URL(), "other", "nothing", false)
	old := "homeassistant/sensor/SAG1030790002574/reactive_energy_import/config"
	another := "homeassistant/sensor/SAG1030700099999/energy_import/config"
	other.Publish(t, old, `{"name":"an object an older telegram had"}`, true)
	other.Publish(t, another, `{"name":"another meter"}`, true)

	before := retainedPayloads(t, b.URL(), "before", "homeassistant/sensor/SAG1030790002574/+/config")
	if len(before) < 3 {
		t.Fatalf("only %d configs retained before the removal", len(before))
	}
	removed, err := RemoveDiscovery(context.Background(), Config{Broker: b.URL(), QoS: 1}, reading(2))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for topic := range before {
		want = append(want, topic)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	after := retainedPayloads(t, b.URL(), "after", "homeassistant/#")
	if diff := cmp.Diff(map[string]string{another: `{"name":"another meter"}`}, after); diff != "" {
		t.Errorf("retained configs after the removal (-want +got):\n%s", diff)
	}
	if got := retainedPayloads(t, b.URL(), "readings", "smarty/1-0:1.8.0"); len(got) != 1 {
		t.Errorf("the readings were removed too: %v", got)
	}
}
