package mqttpub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// TestConnectAtStart: with ConnectAtStart the status says online before
// any telegram, and the first telegram's connection takes over without an
// offline in between.
func TestConnectAtStart(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	live := subscribe(t, b.URL(), "live", "smarty/status", false)
	p, _ := startPublisher(t, Config{Broker: b.URL(), QoS: 1, ConnectAtStart: true})
	live.WaitFor(t, "online before any telegram", func(m []received) bool { return len(m) == 1 && m[0].Payload == "online" })
	if p.Stats().Published != 0 {
		t.Fatal("published before any telegram")
	}
	if err := p.Add(reading(1)); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
	for _, r := range live.Barrier(t) {
		if r.Payload != "online" {
			t.Errorf("status %q between the start and the first telegram", r.Payload)
		}
	}
}

// TestConnectAtStartRefused: a wrong password ends Run at once, with no
// telegram ever queued (the meter may be silent, or not plugged in yet).
func TestConnectAtStartRefused(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"smarty": "right"}})
	for _, root := range []string{"smarty", "smarty/{meter}"} {
		t.Run(root, func(t *testing.T) {
			p, err := New(Config{Broker: b.URL(), Username: "smarty", Password: "wrong", TopicRoot: root, ConnectAtStart: true, Log: newLog(t).logger()})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			select {
			case err = <-done:
			case <-time.After(waitLimit):
				t.Fatal("Run did not end for a wrong password")
			}
			var ce *ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, ErrAuth) {
				t.Fatalf("Run: %v; want a ConnectError for ErrAuth", err)
			}
		})
	}
	t.Run("right password, root with the meter id", func(t *testing.T) {
		log := newLog(t)
		p, _ := startPublisher(t, Config{Broker: b.URL(), Username: "smarty", Password: "right", TopicRoot: "smarty/{meter}", ConnectAtStart: true, Log: log.logger()})
		waitStats(t, p, "the check at start", func(s Stats) bool { return s.Connects == 1 })
		if err := p.Add(reading(1)); err != nil {
			t.Fatal(err)
		}
		waitStats(t, p, "the telegram delivered", func(s Stats) bool { return s.Published == 1 })
		if got := strings.Join(log.all(), "\n"); !strings.Contains(got, "takes the connection; waiting for the meter's first telegram") {
			t.Errorf("log:\n%s", got)
		}
	})
}
