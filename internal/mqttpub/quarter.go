package mqttpub

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/NEXXTLAB/go-smarty-reader/internal/quarterlive"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// The quarter-hour topics, when the command runs with -refPower
// (Publisher.SetQuarter):
//
//	<root>/quarter          the current quarter-hour (quarterlive.View as JSON), retained
//	<root>/quarter/warning  {"event_type":"heading_over", ...the same fields}, not retained:
//	                        sent once when a quarter starts heading over the reference power
//
// with Home Assistant discovery: sensors of the energy so far, the
// average, projected and spare power, the excess of the day and the month
// (energy sensors for the Energy dashboard) and its cost, the reference
// power; a binary sensor (device class problem) that is on while the
// quarter is heading over; and an event entity for the warnings.
//
// They are the latest state, not a history: unlike telegrams they are not
// queued while the broker is away, and on reconnection only the latest is
// published. A warning is kept until it is delivered, unless its quarter
// is over by then.

// QuarterTopic and QuarterWarningTopic are the last parts of the quarter
// topics.
const (
	QuarterTopic        = "quarter"
	QuarterWarningTopic = "quarter/warning"
)

// quarterPub is the quarter-hour state waiting for Run.
type quarterPub struct {
	mu      sync.Mutex
	view    []byte // the latest View as JSON; nil before the first
	price   bool   // the View has costs
	seq     uint64 // of view
	warning []byte // an event not yet delivered
	warnFor time.Time
	current time.Time // the start of the latest quarter
	sentOn  *conn     // the connection that got seq
	sentSeq uint64
}

// SetQuarter gives the Publisher the current quarter-hour as of the latest
// telegram (the live loop's Reading.Quarter). It returns at once and is
// safe to call from any goroutine; Run publishes it when connected.
func (p *Publisher) SetQuarter(st *quarter.Status) {
	if st == nil {
		return
	}
	v := quarterlive.ViewOf(st)
	view, _ := json.Marshal(v) // cannot fail: numbers, times and bools
	q := &p.quarter
	q.mu.Lock()
	q.view, q.price, q.current = view, v.Price != nil, st.Start
	q.seq++
	if st.Warn {
		ev := struct {
			EventType string `json:"event_type"`
			*quarterlive.View
		}{"heading_over", v}
		q.warning, _ = json.Marshal(ev)
		q.warnFor = st.Start
	}
	q.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// syncQuarter publishes on cn the quarter-hour state that cn has not had:
// its discovery configs, the latest state, a warning not yet delivered.
func (p *Publisher) syncQuarter(ctx context.Context, cn *conn) error {
	q := &p.quarter
	q.mu.Lock()
	view, price, seq := q.view, q.price, q.seq
	warning := q.warning
	if warning != nil && !q.warnFor.Equal(q.current) {
		warning, q.warning = nil, nil // its quarter is over
	}
	sent := q.sentOn == cn && q.sentSeq == seq
	q.mu.Unlock()
	if view == nil || sent && warning == nil {
		return nil
	}
	var msgs []message
	if !p.cfg.NoDiscovery {
		for _, m := range quarterDiscovery(&cn.ident, price, p.cfg.DiscoveryPrefix, p.cfg.expireSeconds()) {
			if p.b.announced[m.topic] != string(m.payload) {
				msgs = append(msgs, m)
			}
		}
	}
	if !sent {
		msgs = append(msgs, message{topic: cn.ident.root + "/" + QuarterTopic, payload: view, retain: !p.cfg.NoRetain, kind: kindQuarter})
	}
	if warning != nil {
		msgs = append(msgs, message{topic: cn.ident.root + "/" + QuarterWarningTopic, payload: warning, kind: kindQuarter})
	}
	toks := make([]mqtt.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = cn.c.Publish(m.topic, p.cfg.QoS, m.retain, m.payload)
	}
	timer := time.NewTimer(p.cfg.AckTimeout)
	defer timer.Stop()
	if err := p.await(ctx, cn, toks, timer.C); err != nil {
		return err // the warning stays for the next connection
	}
	p.b.commit(msgs, time.Time{})
	q.mu.Lock()
	q.sentOn, q.sentSeq = cn, seq
	if warning != nil && string(q.warning) == string(warning) {
		q.warning = nil
	}
	q.mu.Unlock()
	return nil
}

// kindQuarter marks the quarter-hour messages, which the builder does not
// remember.
const kindQuarter msgKind = 100

// quarterEntity is one Home Assistant entity of the quarter-hour topics.
type quarterEntity struct {
	component   string // sensor, binary_sensor, event
	id          string // object id
	name        string
	field       string // of the View
	unit        string
	deviceClass string
	stateClass  string
	precision   int
	diagnostic  bool
	withPrice   bool // only with -excessPrice
}

var quarterEntities = []quarterEntity{
	{component: "sensor", id: "quarter_import", name: "Quarter-hour energy", field: "import_kwh", unit: "kWh", deviceClass: "energy", stateClass: "total_increasing", precision: 3},
	{component: "sensor", id: "quarter_average", name: "Quarter-hour average power", field: "average_kw", unit: "kW", deviceClass: "power", stateClass: "measurement", precision: 2},
	{component: "sensor", id: "quarter_projected", name: "Quarter-hour projected power", field: "projected_kw", unit: "kW", deviceClass: "power", stateClass: "measurement", precision: 2},
	{component: "sensor", id: "quarter_margin", name: "Quarter-hour power to spare", field: "margin_kw", unit: "kW", deviceClass: "power", stateClass: "measurement", precision: 2},
	{component: "sensor", id: "excess_day", name: "Excess energy today", field: "excess_day_kwh", unit: "kWh", deviceClass: "energy", stateClass: "total_increasing", precision: 3},
	{component: "sensor", id: "excess_month", name: "Excess energy this month", field: "excess_month_kwh", unit: "kWh", deviceClass: "energy", stateClass: "total_increasing", precision: 3},
	{component: "sensor", id: "excess_cost_day", name: "Excess cost today", field: "cost_day_eur", unit: "EUR", deviceClass: "monetary", precision: 2, withPrice: true},
	{component: "sensor", id: "excess_cost_month", name: "Excess cost this month", field: "cost_month_eur", unit: "EUR", deviceClass: "monetary", precision: 2, withPrice: true},
	{component: "sensor", id: "reference_power", name: "Reference power", field: "reference_power_kw", unit: "kW", deviceClass: "power", precision: 1, diagnostic: true},
	{component: "binary_sensor", id: "quarter_over", name: "Quarter-hour heading over", deviceClass: "problem"},
	{component: "event", id: "quarter_warning", name: "Quarter-hour warning"},
}

// quarterConfig is a Home Assistant discovery payload of a quarter-hour
// entity: the state is a field of the JSON on <root>/quarter.
type quarterConfig struct {
	Name             string         `json:"name"`
	UniqueID         string         `json:"unique_id"`
	StateTopic       string         `json:"state_topic"`
	ValueTemplate    string         `json:"value_template,omitempty"`
	Unit             string         `json:"unit_of_measurement,omitempty"`
	DeviceClass      string         `json:"device_class,omitempty"`
	StateClass       string         `json:"state_class,omitempty"`
	EntityCategory   string         `json:"entity_category,omitempty"`
	Precision        *int           `json:"suggested_display_precision,omitempty"`
	EventTypes       []string       `json:"event_types,omitempty"`
	Availability     []availability `json:"availability"`
	AvailabilityMode string         `json:"availability_mode"`
	ExpireAfter      int            `json:"expire_after,omitempty"`
	Device           device         `json:"device"`
	Origin           origin         `json:"origin"`
}

// quarterDiscovery returns the discovery configs of the quarter-hour
// entities of id; the costs only with a price.
func quarterDiscovery(id *identity, price bool, prefix string, expireAfter int) []message {
	dev := device{Identifiers: []string{"smarty_" + id.node}, Name: id.meterID, SerialNumber: id.meterID}
	if strings.HasPrefix(id.meterID, "SAG") {
		dev.Manufacturer = "Sagemcom"
	}
	var out []message
	for _, e := range quarterEntities {
		if e.withPrice && !price {
			continue
		}
		c := quarterConfig{
			Name:             e.name,
			UniqueID:         "smarty_" + id.node + "_" + e.id,
			StateTopic:       id.root + "/" + QuarterTopic,
			Unit:             e.unit,
			DeviceClass:      e.deviceClass,
			StateClass:       e.stateClass,
			Availability:     []availability{{id.status}, {id.meterStatus}},
			AvailabilityMode: "all",
			Device:           dev,
			Origin:           theOrigin,
		}
		switch e.component {
		case "sensor":
			c.ValueTemplate = "{{ value_json." + e.field + " }}"
			prec := e.precision
			c.Precision = &prec
			c.ExpireAfter = expireAfter
		case "binary_sensor":
			c.ValueTemplate = "{{ 'ON' if value_json.warning else 'OFF' }}"
			c.ExpireAfter = expireAfter
		case "event":
			c.StateTopic = id.root + "/" + QuarterWarningTopic
			c.EventTypes = []string{"heading_over"}
		}
		if e.diagnostic {
			c.EntityCategory = "diagnostic"
		}
		payload, _ := json.Marshal(&c) // strings, ints and bools only
		out = append(out, message{
			topic:   prefix + "/" + e.component + "/" + id.node + "/" + e.id + "/config",
			payload: payload, retain: true, kind: kindDiscovery,
		})
	}
	return out
}
