package mqttpub

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// fakeClient is an MQTT client whose broker acknowledges every message at
// once, except those for which pending returns true, which it never
// acknowledges. Only Publish is implemented.
type fakeClient struct {
	mqtt.Client
	pending func(topic string, payload []byte) bool
}

func (c fakeClient) Publish(topic string, _ byte, _ bool, payload any) mqtt.Token {
	var b []byte
	switch v := payload.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	}
	t := &fakeToken{done: make(chan struct{})}
	if c.pending == nil || !c.pending(topic, b) {
		close(t.done)
	}
	return t
}

type fakeToken struct{ done chan struct{} }

func (t *fakeToken) Wait() bool                     { <-t.done; return true }
func (t *fakeToken) WaitTimeout(time.Duration) bool { return false }
func (t *fakeToken) Done() <-chan struct{}          { return t.done }
func (t *fakeToken) Error() error                   { return nil }

// TestPublishCutKeepsAcknowledged cuts a batch short (the grace period
// after a stop is over, or the connection is lost) when the broker has
// acknowledged part of it: what it acknowledged leaves the queue and is
// recorded in the queue directory, so that the next run does not send it
// again; the rest stays, from the first telegram not acknowledged on.
func TestPublishCutKeepsAcknowledged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending int // frame counter of the telegram never acknowledged; 0: none
		cut     string
		want    int // telegrams delivered of the batch
	}{
		{"grace over, all acknowledged", 0, "grace", maxBatch},
		{"grace over, one not acknowledged", 11, "grace", 10},
		{"grace over, the first not acknowledged", 1, "grace", 0},
		{"connection lost, one not acknowledged", 20, "lost", 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := New(Config{Broker: "tcp://127.0.0.1:1", QoS: 1, QueueDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= maxBatch+5; n++ {
				if err := p.Add(reading(n)); err != nil {
					t.Fatal(err)
				}
			}
			batch := p.nextBatch(maxBatch)
			if len(batch) != maxBatch {
				t.Fatalf("a batch of %d telegrams, want %d", len(batch), maxBatch)
			}
			marker := []byte(`"frame_counter":` + strconv.Itoa(tc.pending) + `,`)
			cn := &conn{c: fakeClient{pending: func(topic string, payload []byte) bool {
				return tc.pending > 0 && strings.HasSuffix(topic, "/telegram") && bytes.Contains(payload, marker)
			}}, ident: batch[0].ident, lost: make(chan error, 1)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			switch tc.cut {
			case "grace":
				cancel()
			case "lost":
				cn.lost <- errors.New("connection reset by peer")
			}
			err = p.publish(ctx, cn, batch)
			if (err != nil) != (tc.want < maxBatch) {
				t.Errorf("publish: %v", err)
			}
			if s := p.Stats(); s.Published != uint64(tc.want) || s.Queued != maxBatch+5-tc.want {
				t.Errorf("after the cut: %d delivered, %d queued; want %d and %d", s.Published, s.Queued, tc.want, maxBatch+5-tc.want)
			}
			if _, err := p.q.close(); err != nil {
				t.Fatal(err)
			}
			// The next run starts at the first telegram not acknowledged.
			q, err := newQueue(100, dir, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer q.close()
			var got []uint32
			q.peek(100, func(rec []byte, _ uint64) bool {
				r, err := decodeRecord(rec)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.FrameCounter)
				return true
			})
			if len(got) != maxBatch+5-tc.want || len(got) > 0 && got[0] != uint32(tc.want+1) {
				t.Errorf("the next run finds %d telegrams from %v on; want %d from %d on", len(got), got[:min(1, len(got))], maxBatch+5-tc.want, tc.want+1)
			}
		})
	}
}

// TestAddSaysIfOnDisk: the Publisher's add reports whether the telegram is
// on disk when it returns (the line MQTTPublisher logs at -v 2 says "on
// disk" or "in memory", and a test that kills the process trusts it).
func TestAddSaysIfOnDisk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     bool
		stalled bool // the disk takes longer than add waits
		want    bool
	}{
		{"queue directory", true, false, true},
		{"the disk stalls", true, true, false},
		{"no queue directory", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Broker: "tcp://127.0.0.1:1"}
			if tc.dir {
				cfg.QueueDir = t.TempDir()
			}
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.q.close()
			if tc.stalled {
				p.q.wait = time.Millisecond
				p.q.ioMu.Lock()
				defer p.q.ioMu.Unlock()
			}
			for n := 1; n <= 3; n++ {
				safe, err := p.add(reading(n))
				if err != nil {
					t.Fatal(err)
				}
				if safe != tc.want {
					t.Errorf("telegram %d: on disk %v, want %v (stats %+v)", n, safe, tc.want, p.Stats())
				}
			}
		})
	}
}
