package mosquittotest

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// WaitLimit bounds every wait of this package for something that must
// happen; reaching it fails the test. It is not a measure of speed: the
// events normally take milliseconds.
const WaitLimit = 60 * time.Second

// Message is one message a Subscriber received.
type Message struct {
	Topic    string
	Payload  string
	Retained bool
	// Duplicate is the DUP flag: the broker sends this message again
	// because it got no acknowledgement for it (after a broker restart,
	// for instance); at QoS 1 the subscriber may have had it already.
	Duplicate bool
}

// Subscriber is a test MQTT client that records what it receives.
type Subscriber struct {
	c  mqtt.Client
	mu sync.Mutex
	m  []Message
}

// Subscribe connects a client to the broker at url and subscribes to
// filter at QoS 1. With persistent true the broker keeps the session
// (clean session off) and the client reconnects by itself, so it receives
// what was published while it or the broker was away. It disconnects when
// the test ends.
func Subscribe(t testing.TB, url, clientID, filter string, persistent bool) *Subscriber {
	t.Helper()
	s := &Subscriber{}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetCleanSession(!persistent).SetAutoReconnect(persistent).
		SetConnectRetry(persistent).SetConnectRetryInterval(50 * time.Millisecond).
		SetMaxReconnectInterval(100 * time.Millisecond).SetProtocolVersion(4).
		SetOrderMatters(true).SetAutoAckDisabled(true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		// Acknowledge before recording: when a test has seen a message,
		// its acknowledgement is on its way, ahead of anything the test
		// publishes next (see Barrier).
		m.Ack()
		s.mu.Lock()
		s.m = append(s.m, Message{m.Topic(), string(m.Payload()), m.Retained(), m.Duplicate()})
		s.mu.Unlock()
	})
	s.c = mqtt.NewClient(o)
	if tok := s.c.Connect(); !tok.WaitTimeout(WaitLimit) || tok.Error() != nil {
		t.Fatalf("subscriber: connect: %v", tok.Error())
	}
	if tok := s.c.Subscribe(filter, 1, nil); !tok.WaitTimeout(WaitLimit) || tok.Error() != nil {
		t.Fatalf("subscriber: subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(0) })
	return s
}

// Publish publishes a message from the subscriber's connection at QoS 1
// and waits for the broker's acknowledgement.
func (s *Subscriber) Publish(t testing.TB, topic, payload string, retain bool) {
	t.Helper()
	if tok := s.c.Publish(topic, 1, retain, payload); !tok.WaitTimeout(WaitLimit) || tok.Error() != nil {
		t.Fatalf("subscriber: publish: %v", tok.Error())
	}
}

// Messages returns what was received so far.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.m...)
}

// WaitFor polls until cond holds for the messages received so far, and
// returns them.
func (s *Subscriber) WaitFor(t testing.TB, what string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		m := s.Messages()
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; got %d messages", what, len(m))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Barrier publishes a marker from the subscriber's own connection and
// waits for it to come back. The broker handles what a connection sends in
// order, so once the marker is back:
//   - every retained message of the subscription has been received (the
//     broker sends them when it handles the subscription);
//   - the broker has the acknowledgement of every message received before
//     Barrier was called, so a broker restart will not send them again.
//
// It returns the messages received so far, without markers.
func (s *Subscriber) Barrier(t testing.TB) []Message {
	t.Helper()
	topic := "zz-barrier/" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if tok := s.c.Subscribe(topic, 1, nil); !tok.WaitTimeout(WaitLimit) || tok.Error() != nil {
		t.Fatalf("subscriber: subscribe: %v", tok.Error())
	}
	if tok := s.c.Publish(topic, 1, false, "x"); !tok.WaitTimeout(WaitLimit) || tok.Error() != nil {
		t.Fatalf("subscriber: publish: %v", tok.Error())
	}
	m := s.WaitFor(t, "the barrier", func(m []Message) bool {
		_, ok := Last(m, topic)
		return ok
	})
	var out []Message
	for _, r := range m {
		if !strings.HasPrefix(r.Topic, "zz-barrier/") {
			out = append(out, r)
		}
	}
	return out
}

// Last returns the last message on topic in m.
func Last(m []Message, topic string) (Message, bool) {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i].Topic == topic {
			return m[i], true
		}
	}
	return Message{}, false
}

// RetainedTopics returns the topics under filter whose retained message
// the broker at url holds now (an empty retained message is none), read
// by a new subscriber of its own.
func RetainedTopics(t testing.TB, url, filter string) []string {
	t.Helper()
	var out []string
	for _, m := range Subscribe(t, url, "retained"+strconv.FormatInt(time.Now().UnixNano(), 10), filter, false).Barrier(t) {
		if m.Retained && m.Payload != "" {
			out = append(out, m.Topic)
		}
	}
	return out
}
