package mqttpub

// Tests against a real Mosquitto broker (internal/mosquittotest): they are
// skipped when mosquitto is not installed, unless SMARTY_REQUIRE_MOSQUITTO
// is set.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// waitLimit bounds every wait for something that must happen.
const waitLimit = mosquittotest.WaitLimit

type received = mosquittotest.Message

func subscribe(t *testing.T, url, clientID, filter string, persistent bool) *mosquittotest.Subscriber {
	return mosquittotest.Subscribe(t, url, clientID, filter, persistent)
}

// waitStats polls a publisher's Stats until cond holds.
func waitStats(t *testing.T, p *Publisher, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; stats %+v", what, p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startPublisher runs a Publisher until the test ends and returns it with
// a function that stops it and returns Run's error.
func startPublisher(t *testing.T, cfg Config) (*Publisher, func() error) {
	t.Helper()
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = newLog(t).logger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitLimit):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return p, stop
}

// frameCounters returns the frame counters of the JSON telegrams in m.
func frameCounters(t *testing.T, m []received) []int {
	var out []int
	for _, r := range m {
		if !strings.HasSuffix(r.Topic, "/telegram") {
			continue
		}
		var v struct {
			FrameCounter int `json:"frame_counter"`
		}
		if err := json.Unmarshal([]byte(r.Payload), &v); err != nil {
			t.Fatalf("telegram payload is not JSON: %v", err)
		}
		out = append(out, v.FrameCounter)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func lastOf(m []received, topic string) (received, bool) { return mosquittotest.Last(m, topic) }

// TestBrokerTopics publishes telegrams and checks, as a subscriber that was
// there all along and as one that comes later (and so sees only what the
// broker retained), the value topics, the JSON telegram, the status and the
// discovery configs.
func TestBrokerTopics(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	live := subscribe(t, b.URL(), "live", "#", false)
	p, stop := startPublisher(t, Config{Broker: b.URL(), QoS: 1})
	for n := 1; n <= 3; n++ {
		if err := p.Add(reading(n)); err != nil {
			t.Fatal(err)
		}
	}
	m := live.WaitFor(t, "three telegrams", func(m []received) bool { return len(frameCounters(t, m)) == 3 })
	if diff := cmp.Diff(seq(1, 3), frameCounters(t, m)); diff != "" {
		t.Errorf("telegram frame counters (-want +got):\n%s", diff)
	}
	if r, _ := lastOf(m, "smarty/status"); r.Payload != "online" {
		t.Errorf("status = %q, want online", r.Payload)
	}
	if r, _ := lastOf(m, "smarty/1-0:1.8.0"); r.Payload != "25.656" {
		t.Errorf("smarty/1-0:1.8.0 = %q, want 25.656", r.Payload)
	}
	// Discovery is sent once per connection, before the first values.
	var configs, firstValue = 0, -1
	for i, r := range m {
		if strings.HasPrefix(r.Topic, "homeassistant/") {
			configs++
			if firstValue >= 0 {
				t.Errorf("discovery config %s after the first value", r.Topic)
			}
		} else if firstValue < 0 && r.Topic != "smarty/status" && r.Topic != "smarty/meter_status" {
			firstValue = i
		}
	}
	if configs != 7 {
		t.Errorf("%d discovery configs, want 7 (one per number of the telegram)", configs)
	}

	// A subscriber that comes later gets what is retained, and only the
	// latest of each topic.
	late := subscribe(t, b.URL(), "late", "#", false)
	want := map[string]string{
		"smarty/status":       "online",
		"smarty/meter_status": "online",
		"smarty/1-3:0.2.8":    "42",
		"smarty/1-0:1.8.0":    "25.656",
		"smarty/1-0:2.8.0":    "0.040",
		"smarty/1-0:1.7.0":    "0.300",
		"smarty/1-0:32.7.0":   "233.0",
		"smarty/0-1:24.1.0":   "3",
		"smarty/0-1:24.2.1":   "0.006",
		"smarty/telegram":     "",
		"homeassistant/sensor/SAG1030790002574/energy_import/config": "",
	}
	m = late.Barrier(t)
	if len(m) != 2+7+1+7 {
		t.Errorf("late subscriber got %d messages, want 17: 2 status, 7 values, telegram, 7 configs", len(m))
	}
	got := map[string]received{}
	for _, r := range m {
		if _, dup := got[r.Topic]; dup {
			t.Errorf("retained topic %s delivered twice", r.Topic)
		}
		got[r.Topic] = r
		if !r.Retained {
			t.Errorf("late subscriber got %s without the retain flag", r.Topic)
		}
	}
	for topic, payload := range want {
		r, ok := got[topic]
		switch {
		case !ok:
			t.Errorf("%s is not retained", topic)
		case payload != "" && r.Payload != payload:
			t.Errorf("%s = %q, want %q", topic, r.Payload, payload)
		}
	}
	if fc := frameCounters(t, []received{got["smarty/telegram"]}); len(fc) != 1 || fc[0] != 3 {
		t.Errorf("retained telegram has frame counter %v, want 3", fc)
	}
	var cfg map[string]any
	json.Unmarshal([]byte(got["homeassistant/sensor/SAG1030790002574/energy_import/config"].Payload), &cfg)
	for k, v := range map[string]any{"state_topic": "smarty/1-0:1.8.0", "unit_of_measurement": "kWh",
		"device_class": "energy", "state_class": "total_increasing", "availability_mode": "all", "expire_after": 120.0} {
		if cfg[k] != v {
			t.Errorf("energy_import config: %s = %v, want %v", k, cfg[k], v)
		}
	}

	// Home Assistant announces a restart on homeassistant/status: the
	// discovery configs come again at once.
	live.Publish(t, "homeassistant/status", "online", false)
	live.WaitFor(t, "the discovery configs again", func(m []received) bool {
		configs := 0
		for _, r := range m {
			if strings.HasPrefix(r.Topic, "homeassistant/sensor/") {
				configs++
			}
		}
		return configs == 14
	})

	// A clean stop says offline.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	live.WaitFor(t, "offline", func(m []received) bool {
		r, _ := lastOf(m, "smarty/status")
		return r.Payload == "offline"
	})
}

// TestBrokerNoRetain checks that with retain off only the two status
// topics and the discovery configs stay on the broker.
func TestBrokerNoRetain(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, NoRetain: true})
	p.Add(reading(1))
	waitStats(t, p, "the telegram to be delivered", func(s Stats) bool { return s.Published == 1 })
	late := subscribe(t, b.URL(), "late", "#", false)
	m := late.Barrier(t)
	for _, r := range m {
		if !strings.HasPrefix(r.Topic, "homeassistant/") && r.Topic != "smarty/status" && r.Topic != "smarty/meter_status" {
			t.Errorf("%s is retained with retain off", r.Topic)
		}
	}
	if len(m) != 9 {
		t.Errorf("%d retained messages, want 9: the two status topics and 7 discovery configs", len(m))
	}
}

// TestBrokerRestart stops the broker for several telegrams and starts it
// again: a subscriber with a persistent session gets every telegram once,
// in order.
func TestBrokerRestart(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	log := newLog(t)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, Log: log.logger()})
	for n := 1; n <= 3; n++ {
		p.Add(reading(n))
	}
	waitStats(t, p, "three telegrams delivered", func(s Stats) bool { return s.Published == 3 })
	sub.WaitFor(t, "three telegrams", func(m []received) bool { return len(m) == 3 })
	// The subscriber has acknowledged them: a broker restart does not
	// send them again (that would be QoS 1 working as designed, on the
	// broker's side, not the publisher's doing).
	sub.Barrier(t)

	b.Stop()
	waitStats(t, p, "the publisher to notice", func(s Stats) bool { return !s.Connected })
	for n := 4; n <= 10; n++ {
		if err := p.Add(reading(n)); err != nil {
			t.Fatal(err)
		}
	}
	if q := p.Stats().Queued; q != 7 {
		t.Fatalf("%d telegrams queued while the broker is down, want 7", q)
	}
	b.Start()
	for n := 11; n <= 12; n++ {
		p.Add(reading(n))
	}
	m := sub.WaitFor(t, "telegram 12", func(m []received) bool {
		fc := frameCounters(t, m)
		return len(fc) > 0 && fc[len(fc)-1] == 12
	})
	if diff := cmp.Diff(seq(1, 12), frameCounters(t, m)); diff != "" {
		t.Errorf("frame counters received (-want +got):\n%s", diff)
	}
	waitStats(t, p, "all delivered", func(s Stats) bool { return s.Published == 12 && s.Queued == 0 })
	if s := p.Stats(); s.Connects != 2 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 2 connects and nothing dropped", s)
	}
	// Each change of state is logged once, however many attempts failed.
	var lost, refused, again int
	for _, l := range log.all() {
		switch {
		case strings.Contains(l, "lost the connection"):
			lost++
		case strings.Contains(l, "connection refused"):
			refused++
		case strings.Contains(l, "connected to") && strings.Contains(l, "again"):
			again++
		}
	}
	if lost != 1 || refused != 1 || again != 1 {
		t.Errorf("log lines: %d lost, %d refused, %d reconnected; want one of each", lost, refused, again)
	}
}

// TestBrokerAbsentAtStart starts publishing before the broker exists.
func TestBrokerAbsentAtStart(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	b.Stop()
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1})
	for n := 1; n <= 5; n++ {
		p.Add(reading(n))
	}
	b.Start()
	sub := subscribe(t, b.URL(), "late", "smarty/telegram", false)
	_ = sub
	waitStats(t, p, "all delivered", func(s Stats) bool { return s.Published == 5 })
}

func TestBrokerWrongPassword(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"meter": "right"}})
	log := newLog(t)
	p, stop := startPublisher(t, Config{Broker: b.URL(), Username: "meter", Password: "wrong-Pa55", Log: log.logger()})
	p.Add(reading(1))
	// Run ends by itself with the refusal; it does not retry forever.
	err := waitRunError(t, p, stop)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Run: %v, want an ErrAuth", err)
	}
	if p.Stats().Connects != 0 {
		t.Fatal("connected with a wrong password")
	}
	t.Logf("error: %v", err)
	for _, l := range append(log.all(), err.Error()) {
		if strings.Contains(l, "Pa55") {
			t.Errorf("the password is shown: %s", l)
		}
	}
	if err := p.Add(reading(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Run ended: %v, want ErrClosed", err)
	}

	// The right password works.
	p, _ = startPublisher(t, Config{Broker: b.URL(), Username: "meter", Password: "right"})
	p.Add(reading(1))
	waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
}

func TestBrokerTLS(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{TLS: true})
	t.Run("with the CA file", func(t *testing.T) {
		tc, err := LoadTLS(b.CAFile, "", "")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := startPublisher(t, Config{Broker: b.URL(), TLS: tc})
		p.Add(reading(1))
		waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	})
	t.Run("without the CA file", func(t *testing.T) {
		p, stop := startPublisher(t, Config{Broker: b.URL()})
		p.Add(reading(1))
		err := waitRunError(t, p, stop)
		var ce *ConnectError
		if !errors.Is(err, ErrTLS) || !errors.As(err, &ce) || ce.Cause != CauseUnknownCA {
			t.Fatalf("Run: %v, want an ErrTLS of an unknown authority", err)
		}
		if msg, _ := FlagMessage(err); !strings.Contains(msg, "-mqttCaFile") {
			t.Errorf("FlagMessage: %q, want it to mention -mqttCaFile", msg)
		}
		t.Logf("error: %v", err)
	})
	t.Run("plain TCP to the TLS port", func(t *testing.T) {
		log := newLog(t)
		p, stop := startPublisher(t, Config{Broker: "tcp://" + b.Addr, QoS: 1, Log: log.logger()})
		p.Add(reading(1))
		// Not fatal (a broker closing the door can be a passing thing),
		// but logged with a hint; stop it ourselves.
		log.waitFor(t, "if this is a TLS port, use ssl://")
		if s := p.Stats(); s.Connects != 0 || s.Queued != 1 {
			t.Fatalf("stats %+v: a plain connection to a TLS port succeeded", s)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

func TestBrokerClientCertificate(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{TLS: true, RequireClientCert: true})
	t.Run("with", func(t *testing.T) {
		tc, err := LoadTLS(b.CAFile, b.ClientCertFile, b.ClientKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := startPublisher(t, Config{Broker: b.URL(), TLS: tc})
		p.Add(reading(1))
		waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	})
	t.Run("without", func(t *testing.T) {
		tc, _ := LoadTLS(b.CAFile, "", "")
		p, stop := startPublisher(t, Config{Broker: b.URL(), TLS: tc})
		p.Add(reading(1))
		err := waitRunError(t, p, stop)
		t.Logf("error: %v", err)
		if err == nil || p.Stats().Connects != 0 {
			t.Fatalf("Run: %v, want a refusal", err)
		}
	})
}

// waitRunError waits until Run returns by itself and returns its error.
func waitRunError(t *testing.T, p *Publisher, stop func() error) error {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if p.q.isClosed() {
			return stop()
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not end by itself; stats %+v", p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBrokerStopWhilePublishing cancels Run while it is publishing a
// backlog and runs a new Publisher on the same queue directory: every
// telegram arrives once. (A telegram in flight when Run is cancelled must
// be waited for, not published again by the final flush.) The grace
// period is long enough for the whole backlog, whatever the machine's
// load: Run returns as soon as the queue is empty, so it costs nothing. A
// grace period that ends mid-batch is TestBrokerGraceOver's.
func TestBrokerStopWhilePublishing(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	dir := t.TempDir()
	const n = 300
	p, stop := startPublisher(t, Config{Broker: b.URL(), QoS: 1, QueueDir: dir, Grace: waitLimit})
	for i := 1; i <= n; i++ {
		p.Add(reading(i))
	}
	waitStats(t, p, "publishing to start", func(s Stats) bool { return s.Published > 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := p.Stats(); s.Queued != 0 || s.Published != n {
		t.Errorf("after the grace period: %d delivered, %d left; want %d and 0", s.Published, s.Queued, n)
	}
	p, _ = startPublisher(t, Config{Broker: b.URL(), QoS: 1, QueueDir: dir})
	p.Add(reading(n + 1))
	m := sub.WaitFor(t, "the last telegram", func(m []received) bool {
		fc := frameCounters(t, m)
		return len(fc) > 0 && fc[len(fc)-1] == n+1
	})
	if diff := cmp.Diff(seq(1, n+1), frameCounters(t, m)); diff != "" {
		t.Errorf("frame counters received (-want +got):\n%s", diff)
	}
}

// TestBrokerGraceOver stops Run while it publishes a backlog, with a grace
// period that ends at once, mid-batch, and runs a new Publisher on the same
// queue directory: every telegram arrives, in order; the only ones that
// may come twice are those of the batch in flight whose acknowledgement
// had not come back when the grace period ended (at least once, as
// docs/reliability.md says).
func TestBrokerGraceOver(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	dir := t.TempDir()
	const n = 100
	p, stop := startPublisher(t, Config{Broker: b.URL(), QoS: 1, QueueDir: dir, Grace: time.Nanosecond})
	for i := 1; i <= n; i++ {
		p.Add(reading(i))
	}
	waitStats(t, p, "publishing to start", func(s Stats) bool { return s.Published > 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := p.Stats()
	if s.Published+uint64(s.Queued) != n {
		t.Errorf("after the grace period: %d delivered and %d left, not the %d queued", s.Published, s.Queued, n)
	}
	p, _ = startPublisher(t, Config{Broker: b.URL(), QoS: 1, QueueDir: dir})
	p.Add(reading(n + 1))
	m := sub.WaitFor(t, "the last telegram", func(m []received) bool {
		fc := frameCounters(t, m)
		return len(fc) > 0 && fc[len(fc)-1] == n+1
	})
	again := atLeastOnce(t, frameCounters(t, m), n+1, maxBatch)
	t.Logf("%d of %d telegrams were left for the second run, %d of them had reached the broker already", s.Queued, n, again)
}

// atLeastOnce checks that fc holds 1 to last in order, each once, except
// for one run of at most most telegrams that comes again right after
// itself (a batch delivered again). It returns how many came again.
func atLeastOnce(t *testing.T, fc []int, last, most int) (again int) {
	t.Helper()
	next := 1 // the next telegram not seen yet
	for i, c := range fc {
		switch {
		case c == next:
			next++
		case c < next && again == 0 && c >= next-most:
			again = next - c
			next = c + 1
			// The telegrams from c on come again, in order: those
			// up to the one seen last are repeats.
		default:
			t.Fatalf("telegram %d at position %d: want %d (received %v)", c, i, next, fc)
		}
	}
	if next != last+1 {
		t.Fatalf("received up to %d, want %d (received %v)", next-1, last, fc)
	}
	return again
}
