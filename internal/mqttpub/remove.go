package mqttpub

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// RemoveDiscovery removes from the broker every Home Assistant discovery
// config published for the meter that sent r: it publishes an empty
// retained message, which Home Assistant takes as "delete this entity",
// on each config topic under <prefix>/sensor/<meter id>/ that the broker
// retains, and on each topic r's telegram would get a config on. Home
// Assistant then removes the meter's sensors; the device goes with its
// last sensor. The readings and status topics are left alone.
//
// It connects once with its own client id (the configured one with
// "-remove" added, so that a running Publisher is not thrown off), gives
// up at the first error, and returns the topics it cleared, sorted. It
// needs r only for the meter id (and the objects its telegram holds).
func RemoveDiscovery(ctx context.Context, cfg Config, r Reading) ([]string, error) {
	cfg.setDefaults()
	broker, err := ParseBroker(cfg.Broker)
	if err != nil {
		return nil, err
	}
	var t dsmr.Telegram
	if err := t.UnmarshalText(r.Telegram); err != nil {
		return nil, fmt.Errorf("mqttpub: the telegram does not parse: %w", err)
	}
	meter := t.MeterID()
	if meter == "" && r.Encrypted {
		meter = strings.ToUpper(hex.EncodeToString(r.SystemTitle[:]))
	}
	id := identityOf(&cfg, meter)
	topics := map[string]bool{}
	for _, s := range sensorsOf(&t) {
		objectID, _ := s.label()
		topics[discoveryTopic(cfg.DiscoveryPrefix, &id, objectID)] = true
	}

	o := mqtt.NewClientOptions()
	o.AddBroker(broker)
	o.SetClientID(id.clientID + "-remove")
	o.SetUsername(cfg.Username)
	o.SetPassword(cfg.Password)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetProtocolVersion(4)
	o.SetConnectTimeout(cfg.ConnectTimeout)
	if usesTLS(broker) {
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.SetTLSConfig(tc)
	}
	c := mqtt.NewClient(o)
	if err := wait(ctx, c.Connect(), cfg.ConnectTimeout); err != nil {
		return nil, explain(broker, id.clientID+"-remove", err)
	}
	defer c.Disconnect(250)

	// The configs the broker retains arrive right after the subscription
	// is acknowledged, before anything published after it: a message of
	// our own on a second topic marks the end of them.
	var mu sync.Mutex
	marker := make(chan struct{})
	var token [8]byte
	rand.Read(token[:])
	markerTopic := id.root + "/remove-discovery/" + hex.EncodeToString(token[:])
	filter := cfg.DiscoveryPrefix + "/sensor/" + id.node + "/+/config"
	var once sync.Once
	sub := c.SubscribeMultiple(map[string]byte{filter: 1, markerTopic: 1}, func(_ mqtt.Client, m mqtt.Message) {
		if m.Topic() == markerTopic {
			once.Do(func() { close(marker) })
			return
		}
		if m.Retained() && len(m.Payload()) > 0 {
			mu.Lock()
			topics[m.Topic()] = true
			mu.Unlock()
		}
	})
	if err := wait(ctx, sub, cfg.AckTimeout); err != nil {
		return nil, fmt.Errorf("mqttpub: subscribing to %s: %w", filter, err)
	}
	if err := wait(ctx, c.Publish(markerTopic, 1, false, "end"), cfg.AckTimeout); err != nil {
		return nil, fmt.Errorf("mqttpub: publishing to %s: %w", markerTopic, err)
	}
	timer := time.NewTimer(cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-marker:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, errors.New("mqttpub: the broker did not send back our own message: cannot tell whether every retained config has arrived")
	}
	c.Unsubscribe(filter, markerTopic)

	mu.Lock()
	list := make([]string, 0, len(topics))
	for topic := range topics {
		list = append(list, topic)
	}
	mu.Unlock()
	slices.Sort(list)
	toks := make([]mqtt.Token, len(list))
	for i, topic := range list {
		toks[i] = c.Publish(topic, cfg.QoS, true, []byte{})
	}
	for i, tok := range toks {
		if err := wait(ctx, tok, cfg.AckTimeout); err != nil {
			return list[:i], fmt.Errorf("mqttpub: clearing %s: %w", list[i], err)
		}
	}
	return list, nil
}

// RemoveOutput is the live.Output of -haRemove: at the meter's first
// telegram it removes the meter's discovery configs (RemoveDiscovery),
// then calls stop (which should end the reading); a failure ends Run, and
// so the loop, with its error. Removed holds the topics cleared once Run
// has returned.
type RemoveOutput struct {
	cfg     Config
	stop    func()
	first   chan firstReading
	Removed []string
	// MeterID is the meter's id, from its first telegram.
	MeterID string
}

// NewRemoveOutput returns the RemoveOutput for cfg; stop is called once
// the configs are removed.
func NewRemoveOutput(cfg Config, stop func()) *RemoveOutput {
	return &RemoveOutput{cfg: cfg, stop: stop, first: make(chan firstReading, 1)}
}

type firstReading struct {
	r       Reading
	meterID string
}

// Reading hands the first telegram to Run; later ones are dropped.
func (o *RemoveOutput) Reading(r *live.Reading) {
	m := &r.Message
	rd := Reading{Telegram: append([]byte(nil), m.Telegram.Bytes()...), Encrypted: m.Encrypted, Received: r.Received}
	if m.Encrypted {
		rd.SystemTitle, rd.FrameCounter = m.Header.SystemTitle, m.Header.FrameCounter
	}
	select {
	case o.first <- firstReading{rd, r.MeterID}:
	default:
	}
}

// Link does nothing: the removal needs one telegram, whatever the link.
func (o *RemoveOutput) Link(live.LinkState) {}

// Run waits for the first telegram, removes the configs and returns.
func (o *RemoveOutput) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case f := <-o.first:
		o.MeterID = f.meterID
		removed, err := RemoveDiscovery(ctx, o.cfg, f.r)
		o.Removed = removed
		if err != nil {
			return err
		}
		o.stop()
		<-ctx.Done()
		return nil
	}
}

// RunRemove is -haRemove of a command: it reads the meter through run
// (the command's live loop, which feeds the output it is given until its
// context is done) with a RemoveOutput of cfg, and once the first
// telegram's meter has had its discovery configs removed, says how many
// on stdout. Its error is run's.
func RunRemove(ctx context.Context, cfg Config, stdout io.Writer, run func(context.Context, live.Output) error) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	ro := NewRemoveOutput(cfg, stop)
	err := run(ctx, ro)
	if err == nil && ro.MeterID != "" {
		_, err = fmt.Fprintf(stdout, "removed %d Home Assistant discovery configs of meter %s\n", len(ro.Removed), ro.MeterID)
	}
	return err
}

// wait waits for tok, at most d or until ctx is done.
func wait(ctx context.Context, tok mqtt.Token, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errAckTimeout
	}
}
