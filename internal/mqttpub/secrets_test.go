package mqttpub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tcp://host:1883", "tcp://host:1883"},
		{"tcp://user:pw@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://user@host", "tcp://xxxxx@host"},
		{"ws://u:p@ss@host:9001/mqtt?a=b@c", "ws://xxxxx@host:9001/mqtt?a=b@c"},
		{"user:pw@host:1883", "xxxxx@host:1883"},
		{"tcp://user:p w@bad host", "tcp://xxxxx@bad host"},
		{"tcp://host/path@x", "tcp://host/path@x"},
		{"", ""},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseBrokerHidesPassword: a password in a broker URL that is wrong
// in some other way is not repeated in the error.
func TestParseBrokerHidesPassword(t *testing.T) {
	for _, in := range []string{
		"meter:Secr3t-pw@broker.lan:1883",
		"http://meter:Secr3t-pw@broker.lan",
		"tcp://meter:Secr3t-pw@",
		"tcp://meter:Secr3t-pw@bad host",
		"tcp://meter:Secr3t-pw@host:port",
	} {
		_, err := ParseBroker(in)
		if err == nil {
			t.Errorf("ParseBroker(%q) accepted it", in)
			continue
		}
		if strings.Contains(err.Error(), "Secr3t") {
			t.Errorf("ParseBroker(%q): %v shows the password", in, err)
		}
	}
	// A good URL keeps its credentials: they are used to connect.
	if got, _ := ParseBroker("tcp://meter:Secr3t-pw@broker.lan"); got != "tcp://meter:Secr3t-pw@broker.lan:1883" {
		t.Errorf("ParseBroker dropped the credentials: %q", got)
	}
}

func TestPlainCredentials(t *testing.T) {
	for _, tc := range []struct {
		broker, user, password string
		warn                   bool
	}{
		{"tcp://broker.lan:1883", "meter", "pw", true},
		{"tcp://broker.lan:1883", "", "pw", true},
		{"tcp://meter:pw@broker.lan:1883", "", "", true},
		{"ws://meter:pw@192.168.1.2:9001/mqtt", "", "", true},
		{"tcp://broker.lan:1883", "", "", false},
		{"ssl://broker.lan:8883", "meter", "pw", false},
		{"wss://meter:pw@broker.lan/mqtt", "", "", false},
		{"tcp://127.0.0.1:1883", "meter", "pw", false},
		{"tcp://127.1.2.3:1883", "meter", "pw", false},
		{"tcp://localhost:1883", "meter", "pw", false},
		{"tcp://LOCALHOST.:1883", "meter", "pw", false},
		{"tcp://[::1]:1883", "meter", "pw", false},
	} {
		cfg := Config{Username: tc.user, Password: tc.password}
		warning := plainCredentials(&cfg, tc.broker)
		if (warning != "") != tc.warn {
			t.Errorf("%s with user %q, password %q: warning %q, want one: %v", tc.broker, tc.user, tc.password, warning, tc.warn)
		}
		if strings.Contains(warning, ":pw") {
			t.Errorf("the warning shows the password: %s", warning)
		}
	}
}

// TestPasswordNeverLogged runs a publisher with its credentials in the
// broker URL through a refusal, a connection, a lost broker and a
// reconnection: neither the password nor the user name appear in a log
// line, an error or Broker().
func TestPasswordNeverLogged(t *testing.T) {
	t.Parallel() // a broker of its own
	const user, pw = "meter-Us3r", "Secr3t-pw"
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{user: pw}})
	host := strings.TrimPrefix(b.URL(), "tcp://")
	check := func(what string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if strings.Contains(l, pw) || strings.Contains(l, user) {
				t.Errorf("%s shows a secret: %s", what, l)
			}
		}
	}

	log := newLog(t)
	p, stop := startPublisher(t, Config{Broker: "tcp://" + user + ":wrong-" + pw + "@" + host, Log: log.logger()})
	p.Add(reading(1))
	err := waitRunError(t, p, stop)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Run: %v, want an ErrAuth", err)
	}
	check("a refusal", append(log.all(), err.Error(), p.Broker())...)

	log = newLog(t)
	p, _ = startPublisher(t, Config{Broker: "tcp://" + user + ":" + pw + "@" + host, QoS: 1, Log: log.logger()})
	p.Add(reading(1))
	waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	b.Stop()
	p.Add(reading(2))
	log.waitFor(t, "lost the connection")
	log.waitFor(t, "cannot connect")
	b.Start()
	waitStats(t, p, "the second telegram delivered", func(s Stats) bool { return s.Published == 2 })
	log.waitFor(t, "again after")
	check("the log", append(log.all(), p.Broker())...)
}

// TestScrubLogger: the safety net replaces a password wherever a message
// or an attribute repeats it.
func TestScrubLogger(t *testing.T) {
	log := newLog(t)
	var attrs []string
	h := recordHandler{log}
	l := scrubLogger(slog.New(attrHandler{h, &attrs}), []string{"Secr3t-pw"})
	l.Warn("dial tcp://meter:Secr3t-pw@host failed", "url", "tcp://meter:Secr3t-pw@host", "n", 3)
	l.With("g", "Secr3t-pw").Info("x")
	for _, line := range append(log.all(), attrs...) {
		if strings.Contains(line, "Secr3t") {
			t.Errorf("not scrubbed: %s", line)
		}
	}
	if len(attrs) != 3 {
		t.Errorf("attributes %q, want 3", attrs)
	}
	if l := scrubLogger(slog.Default(), nil); l != slog.Default() {
		t.Error("without secrets the logger should be used as it is")
	}
}

// attrHandler records the attributes of each record as "key=value".
type attrHandler struct {
	recordHandler
	attrs *[]string
}

func (h attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		*h.attrs = append(*h.attrs, a.Key+"="+a.Value.String())
		return true
	})
	return h.recordHandler.Handle(ctx, r)
}

func (h attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		*h.attrs = append(*h.attrs, a.Key+"="+a.Value.String())
	}
	return h
}

// otherMeter returns telegram n as a meter with another id sends it.
func otherMeter(n int) Reading {
	r := reading(n)
	text := string(r.Telegram)
	text = strings.Replace(text, "53414731303330373930303032353734", "53414731303330373930303032353735", 1)
	body := text[:strings.IndexByte(text, '!')+1]
	r.Telegram = []byte(fmt.Sprintf("%s%04X\r\n", body, dsmr.Checksum([]byte(body))))
	r.SystemTitle[7]++
	return r
}

// TestMeterChangeLog: a connection made again for a new meter id is not
// logged as a reconnection ("again after 2562047h47m": the time since a
// loss that never happened).
func TestMeterChangeLog(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	log := newLog(t)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, Log: log.logger()})
	p.Add(reading(1))
	waitStats(t, p, "the first telegram delivered", func(s Stats) bool { return s.Published == 1 })
	for n := 2; n < 2+meterPersist; n++ {
		p.Add(otherMeter(n))
	}
	waitStats(t, p, "the other meter's telegrams delivered", func(s Stats) bool { return s.Published == 1+meterPersist })
	log.waitFor(t, "meter id changed")
	connects := 0
	for _, l := range log.all() {
		if strings.Contains(l, "again after") {
			t.Errorf("a new meter id logged as a reconnection: %s", l)
		}
		if strings.Contains(l, "connected to") {
			connects++
		}
	}
	if connects != 2 || p.Stats().Connects != 2 {
		t.Errorf("%d connections logged, %d made, want 2: %q", connects, p.Stats().Connects, log.all())
	}
}

// TestMeterIDAlternating: two meter ids that alternate (a forged or stray
// telegram between the meter's) never make the publisher reconnect: each
// telegram is published, as the meter of the connection, and that is
// said once. (It used to reconnect once per telegram.)
func TestMeterIDAlternating(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "alternating", "smarty/telegram", false)
	log := newLog(t)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, Log: log.logger()})
	const n = 20
	for i := 1; i <= n; i++ {
		r := reading(i)
		if i%2 == 0 {
			r = otherMeter(i)
		}
		p.Add(r)
	}
	waitStats(t, p, "every telegram delivered", func(s Stats) bool { return s.Published == n })
	if c := p.Stats().Connects; c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
	m := sub.WaitFor(t, "every telegram", func(m []received) bool { return len(frameCounters(t, m)) == n })
	if diff := cmp.Diff(seq(1, n), frameCounters(t, m)); diff != "" {
		t.Errorf("frame counters received (-want +got):\n%s", diff)
	}
	stray := 0
	for _, l := range log.all() {
		if strings.Contains(l, "came among those of") {
			stray++
		}
		if strings.Contains(l, "\n") {
			t.Errorf("a log line holds a newline: %q", l)
		}
	}
	if stray != 1 {
		t.Errorf("%d lines about the stray meter id, want 1: %q", stray, log.all())
	}
}
