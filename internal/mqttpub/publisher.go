package mqttpub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/NEXXTLAB/go-smarty-reader/internal/backoff"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// ErrClosed is returned by Add after Run has returned.
var ErrClosed = errors.New("mqttpub: publisher stopped")

// errAckTimeout ends a connection whose broker stopped acknowledging.
var errAckTimeout = errors.New("the broker did not acknowledge in time")

// Publisher publishes telegrams to an MQTT broker. Add queues a telegram
// and returns at once, whatever the broker does; Run, in its own
// goroutine, connects, publishes the queue in order and reconnects when
// the connection is lost.
//
// A telegram leaves the queue only when the broker has acknowledged all
// its messages (at QoS 1 and 2; at QoS 0 when they are written to the
// network), so a telegram is delivered at least once however often the
// connection breaks; it is delivered twice only when the connection breaks,
// or Run's grace period ends, after the broker got a message and before
// its acknowledgement came back.
type Publisher struct {
	cfg    Config
	broker string       // as given to paho: may hold a user name and password
	shown  string       // broker without its user info, for messages
	log    *slog.Logger // cfg.Log, with the secrets scrubbed

	q     *queue
	wake  chan struct{}
	birth chan struct{}

	running         atomic.Bool
	published       atomic.Uint64
	dropped         atomic.Uint64
	droppedUnlogged atomic.Uint64
	connects        atomic.Uint64
	connected       atomic.Bool
	meter           atomic.Int32 // meterUnknown, meterOnline or meterOffline
	quarter         quarterPub   // the quarter-hour topics (quarter.go)
	shared          sharedJSON   // the JSON of the telegrams just added
	// zone is the time zone of the telegrams added last (their
	// Location), in which the JSON the Publisher makes reads their times,
	// as the live loop's does.
	zone atomic.Pointer[time.Location]

	// Owned by the Run goroutine.
	streak      identity // a new meter id not acted on yet (settle)
	streakN     int      // telegrams in a row with it
	streakSeq   uint64   // the queue sequence number after the last one counted
	strayLogged bool
	b           builder
	tel         dsmr.Telegram
	msgs        []message // the memory of the last batch's messages
	lostAt      time.Time // when the connection was lost; zero once reported
}

// Stats counts what a Publisher has done.
type Stats struct {
	Queued int // telegrams waiting in the queue, on disk and in memory
	// InMemory counts the queued telegrams held only in memory, which a
	// restart loses: all of them without a queue directory; with one,
	// those not yet written (for milliseconds) and, while the disk
	// fails, those kept in memory meanwhile.
	InMemory  int
	Published uint64 // telegrams delivered (acknowledged by the broker)
	Dropped   uint64 // telegrams dropped from a full queue
	Connects  uint64 // successful connections
	Connected bool   // connected now
	// DiskFailing is true from a failed write to the queue directory
	// (full, read-only) until the telegrams kept in memory meanwhile are
	// all on disk.
	DiskFailing bool
}

// String returns the counts as a sentence for the log.
func (s Stats) String() string {
	line := fmt.Sprintf("%d telegrams delivered, %d waiting in the queue, %d dropped from a full queue, %d connections",
		s.Published, s.Queued, s.Dropped, s.Connects)
	if s.DiskFailing {
		line += fmt.Sprintf("; the queue directory failed its last write, %d telegrams are kept in memory only", s.InMemory)
	}
	return line
}

// New checks cfg and returns a Publisher. With cfg.QueueDir it opens the
// queue directory and takes over the telegrams a previous run left there.
func New(cfg Config) (*Publisher, error) {
	cfg.setDefaults()
	broker, err := ParseBroker(cfg.Broker)
	if err != nil {
		return nil, err
	}
	if cfg.QoS > 2 {
		return nil, configErr("QoS", nil, "QoS %d does not exist: use 0, 1 or 2", cfg.QoS)
	}
	if cfg.TLS != nil && !usesTLS(broker) {
		return nil, configErr("TLS", nil, "TLS files given, but the broker URL %s is not a TLS one: use ssl://", broker)
	}
	if strings.ContainsAny(cfg.TopicRoot, "+#") || strings.HasPrefix(cfg.TopicRoot, "/") || strings.HasSuffix(cfg.TopicRoot, "/") {
		return nil, configErr("TopicRoot", nil, "topic root %q must not contain + or # nor start or end with /", cfg.TopicRoot)
	}
	if strings.ContainsAny(cfg.DiscoveryPrefix, "+#") {
		return nil, configErr("DiscoveryPrefix", nil, "discovery prefix %q must not contain + or #", cfg.DiscoveryPrefix)
	}
	p := &Publisher{
		cfg:    cfg,
		broker: broker,
		shown:  redactURL(broker),
		log:    scrubLogger(cfg.Log, secretsOf(&cfg, broker)),
		wake:   make(chan struct{}, 1),
		birth:  make(chan struct{}, 1),
	}
	p.b.cfg = &p.cfg
	if warn := plainCredentials(&cfg, broker); warn != "" {
		p.log.Warn(warn)
	}
	q, err := newQueue(cfg.QueueSize, cfg.QueueDir, p.log, p.droppedFromDisk)
	if err != nil {
		return nil, err
	}
	if n := q.stats().queued; n > 0 {
		p.log.Info(fmt.Sprintf("%d telegrams from an earlier run wait in the queue %s", n, cfg.QueueDir))
	}
	p.q = q
	return p, nil
}

// Broker returns the broker URL in use, with its default port filled in
// and without the user name and password it may hold.
func (p *Publisher) Broker() string { return p.shown }

// Stats returns the counts so far. It is safe to call at any time.
func (p *Publisher) Stats() Stats {
	qs := p.q.stats()
	return Stats{
		Queued:      qs.queued,
		InMemory:    qs.inMemory,
		Published:   p.published.Load(),
		Dropped:     p.dropped.Load(),
		Connects:    p.connects.Load(),
		Connected:   p.connected.Load(),
		DiskFailing: qs.failing,
	}
}

// Add queues one telegram for publishing and returns without waiting for
// the network. When the queue is full the oldest telegram is dropped.
//
// With a queue directory a goroutine of the queue writes the telegram to
// disk and Add returns once it is there (written and synced), so that a
// crash after Add loses nothing; but it waits at most a second, and not at
// all while the directory cannot be written: the telegram then waits in
// memory (see Stats). Add holds no lock while it waits, so the publishing
// never delays it.
//
// It is safe to call from any goroutine; it returns an error only after
// Run has returned (ErrClosed).
func (p *Publisher) Add(r Reading) error {
	_, err := p.add(r)
	return err
}

// add is Add, and also reports whether the telegram is on disk (or
// delivered already) when it returns: see queue.put.
func (p *Publisher) add(r Reading) (safe bool, err error) {
	if r.Received.IsZero() {
		r.Received = time.Now()
	}
	rec := appendRecord(make([]byte, 0, recordHeader+len(r.Telegram)), &r)
	p.shared.put(&r) // before the queue has it: the publishing may take it at once
	dropped, safe, err := p.q.put(rec)
	if err != nil {
		return false, err
	}
	p.meter.Store(meterOnline) // the wake below publishes it
	if dropped {
		p.droppedFromMemory()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return safe, nil
}

func (p *Publisher) droppedFromMemory() {
	p.dropped.Add(1)
	if p.droppedUnlogged.Add(1) == 1 {
		if p.cfg.QueueDir != "" {
			p.log.Warn(fmt.Sprintf("the telegrams kept in memory while the queue directory fails fill the memory (%d): dropping the oldest", p.q.memMax))
		} else {
			p.log.Warn(fmt.Sprintf("the queue is full (%d telegrams): dropping the oldest until the broker takes them again", p.q.memMax))
		}
	}
}

func (p *Publisher) droppedFromDisk(n int) {
	p.dropped.Add(uint64(n))
	if p.droppedUnlogged.Add(uint64(n)) == uint64(n) {
		p.log.Warn(fmt.Sprintf("the queue is full (%d telegrams): dropping the oldest until the broker takes them again", p.cfg.QueueSize))
	}
}

// What is known of the meter's link, for its availability topic.
const (
	meterUnknown int32 = iota // nothing since the start: nothing published
	meterOnline
	meterOffline
)

// MeterOnline says whether the meter is sending: false when it has been
// silent past the watchdog, true when telegrams come again. The Publisher
// publishes it, retained, on the meter's availability topic
// (<root>/meter_status: "online" or "offline"), which the discovery
// configs list beside the publisher's own status, so that Home Assistant
// shows the meter's sensors as unavailable while it is silent rather than
// its last values as current. Add also counts as online: a telegram came.
// It returns at once and is safe to call from any goroutine; with no
// connection, the state is published once connected.
func (p *Publisher) MeterOnline(online bool) {
	state := meterOffline
	if online {
		state = meterOnline
	}
	if p.meter.Swap(state) != state {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// AddMessage queues a telegram read by a smarty.Reader; see Add.
func (p *Publisher) AddMessage(m *smarty.Message) error {
	p.SetZone(m.Telegram.Location)
	r := Reading{Telegram: m.Telegram.Bytes(), Encrypted: m.Encrypted}
	if m.Encrypted {
		r.SystemTitle = m.Header.SystemTitle
		r.FrameCounter = m.Header.FrameCounter
	}
	return p.Add(r)
}

// SetZone sets the time zone of the meter's clock (dsmr.Telegram.Location;
// nil: dsmr.DefaultZone) in which the JSON telegram the Publisher makes
// reads its times. The Output sets it from each Reading's telegram.
func (p *Publisher) SetZone(loc *time.Location) {
	if p.zone.Load() != loc {
		p.zone.Store(loc)
	}
}

// maxBatch is the most telegrams published before waiting for their
// acknowledgements. Waiting after each one would cost a round trip per
// telegram, and more: a broker that delays its small writes (Mosquitto
// does, unless set_tcp_nodelay is on) makes that about 40 ms, so that a
// day of backlog would take minutes to drain.
const maxBatch = 32

// item is a queued telegram, ready to publish.
type item struct {
	seq     uint64
	reading Reading // Telegram points into a copy of the record
	ident   identity
}

// nextBatch returns the oldest queued telegrams, up to max, all from the
// same meter; none when the queue is empty. A telegram that does not
// parse is dropped with a warning when it is the oldest.
func (p *Publisher) nextBatch(max int) []item {
	type rec struct {
		b   []byte
		seq uint64
	}
	for {
		var recs []rec
		p.q.peek(max, func(b []byte, seq uint64) bool {
			recs = append(recs, rec{append([]byte(nil), b...), seq})
			return true
		})
		if len(recs) == 0 {
			return nil
		}
		var items []item
		p.tel.Location = p.zone.Load()
		for k, r := range recs {
			reading, err := decodeRecord(r.b)
			if err == nil {
				reading.JSON = p.shared.get(&reading)
				err = p.tel.UnmarshalText(reading.Telegram)
			}
			if err != nil {
				if k > 0 {
					break // dealt with when it is the oldest
				}
				p.log.Warn(fmt.Sprintf("skipping a queued telegram: %v", err))
				p.q.pop(r.seq)
				break
			}
			id := identityOf(&p.cfg, live.MeterIDOf(&p.tel, reading.Encrypted, reading.SystemTitle))
			if k > 0 && id != items[0].ident {
				break
			}
			items = append(items, item{seq: r.seq, reading: reading, ident: id})
		}
		if len(items) > 0 {
			return items
		}
	}
}

// meterPersist is how many telegrams in a row must carry a new meter id
// before the Publisher acts on it (publishes as that meter, reconnecting
// when the client id or topics change). Fewer are published as the meter
// before them, so that a stray or forged telegram, or two ids that
// alternate, never make it reconnect once per telegram.
const meterPersist = 3

// settle applies meterPersist to a batch (telegrams of one meter id, in
// order) about to be published on a connection as cur: a new meter id
// that has not persisted yet is replaced by cur.
func (p *Publisher) settle(batch []item, cur identity) {
	id := batch[0].ident
	if id.meterID == cur.meterID {
		p.streakN = 0
		return
	}
	if p.streakN == 0 || id.meterID != p.streak.meterID {
		p.streak, p.streakN = id, 0
	}
	for _, it := range batch {
		if it.seq >= p.streakSeq { // a batch published again after a lost connection counts once
			p.streakN++
			p.streakSeq = it.seq + 1
		}
	}
	if p.streakN >= meterPersist {
		p.streakN = 0
		return
	}
	if !p.strayLogged {
		p.strayLogged = true
		p.log.Warn(fmt.Sprintf("a telegram with the meter id %q came among those of %q: published as %q until a new id comes in %d telegrams in a row (logged once)",
			id.meterID, cur.meterID, cur.meterID, meterPersist))
	}
	for k := range batch {
		batch[k].ident = cur
	}
}

// conn is one connection to the broker: a paho client made for it alone,
// with a clean session, so that a lost connection fails every pending
// token and the queue, not paho, decides what is sent again.
type conn struct {
	c         mqtt.Client
	ident     identity
	lost      chan error
	meterSent int32 // the meter state last published on this connection
	// start marks the connection made before the first telegram
	// (Config.ConnectAtStart), under a client id of its own when the
	// configured one needs the meter id.
	start bool
}

// connectAtStart connects before the first telegram, so that refused
// credentials or certificates end Run at once and the status says online
// while the meter's first telegram is awaited. When the topic root needs
// the meter id, the status topic is not known yet: it only checks that
// the broker takes the connection, and hangs up.
func (p *Publisher) connectAtStart(ctx context.Context) (*conn, error) {
	id := identityOf(&p.cfg, "")
	if strings.Contains(p.cfg.ClientID, MeterPlaceholder) {
		id.clientID = strings.ReplaceAll(p.cfg.ClientID, MeterPlaceholder, "start-"+strconv.Itoa(os.Getpid()))
	}
	rootKnown := !strings.Contains(p.cfg.TopicRoot, MeterPlaceholder)
	if !rootKnown {
		id.status, id.meterStatus = "", ""
	}
	cn, err := p.connect(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if !rootKnown {
		cn.c.Disconnect(250)
		p.connected.Store(false)
		return nil, nil
	}
	cn.start = true
	return cn, nil
}

// Run publishes queued telegrams until ctx is cancelled. It connects when
// the first telegram arrives (the meter id may be part of the client id and
// topics), reconnects with backoff whenever the connection is lost, and
// logs each change of state once.
//
// When ctx is cancelled Run keeps publishing for Config.Grace, then
// publishes "offline" on the status topic, disconnects, closes the queue
// (what is left stays in the queue directory) and returns nil.
//
// Run returns an error, without retrying, when the very first connection
// is refused for a reason a retry cannot fix: credentials (ErrAuth) or
// TLS (ErrTLS); see ConnectError. After one connection has succeeded, such
// refusals are logged and retried, so that nothing is lost while the broker
// is being reconfigured.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("mqttpub: Run called twice")
	}
	// hard ends Config.Grace after ctx: a telegram being published when
	// ctx is cancelled is waited for (publishing it again in the final
	// flush would deliver it twice), and so are the others left in the
	// queue, up to that deadline.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(p.cfg.Grace, cancelHard) })
	defer stopGrace()

	var cn *conn
	ever := false
	var want *identity
	if p.cfg.ConnectAtStart {
		var err error
		cn, err = p.connectAtStart(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return p.stop(hard, nil)
			}
			p.stop(hard, nil)
			return err
		}
	}
	for {
		if ctx.Err() != nil {
			return p.stop(hard, cn)
		}
		batch := p.nextBatch(maxBatch)
		if len(batch) > 0 && cn != nil && !cn.start {
			p.settle(batch, cn.ident)
		}
		if len(batch) > 0 {
			want = &batch[0].ident
		}
		if cn != nil && want != nil && cn.start && !cn.ident.sameConnection(*want) {
			// The connection made at start gives way to the meter's own,
			// without saying offline in between (a clean disconnect sends
			// no will).
			cn.c.Disconnect(250)
			cn = nil
		}
		if cn != nil && want != nil && !cn.ident.sameConnection(*want) {
			p.log.Info(fmt.Sprintf("meter id changed to %q: publishing as %s", want.meterID, want.clientID))
			p.hangUp(cn)
			cn = nil
		}
		if cn != nil && want != nil {
			cn.ident, cn.start = *want, false
		}
		if cn == nil && want != nil {
			var err error
			cn, err = p.connect(ctx, *want, ever)
			if err != nil {
				if ctx.Err() != nil {
					return p.stop(hard, nil)
				}
				p.stop(hard, nil)
				return err
			}
			ever = true
			continue
		}
		if cn != nil {
			err := p.syncMeter(hard, cn)
			if err == nil {
				err = p.syncQuarter(hard, cn)
			}
			if err != nil {
				if hard.Err() != nil {
					return p.stop(hard, cn)
				}
				p.lose(cn, err)
				cn = nil
				continue
			}
		}
		if len(batch) == 0 {
			var lost chan error
			if cn != nil {
				lost = cn.lost
			}
			var birth chan struct{}
			if cn != nil {
				birth = p.birth
			}
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-birth:
				if err := p.reannounce(hard, cn); err != nil {
					p.lose(cn, err)
					cn = nil
				}
			case err := <-lost:
				p.lose(cn, err)
				cn = nil
			}
			continue
		}
		if err := p.publish(hard, cn, batch); err != nil {
			if hard.Err() != nil {
				return p.stop(hard, cn) // the grace period is over
			}
			p.lose(cn, err)
			cn = nil
		}
	}
}

// publish sends the messages of a batch of telegrams, then waits for the
// broker's acknowledgements and removes each telegram from the queue once
// all its messages are acknowledged, in order.
func (p *Publisher) publish(ctx context.Context, cn *conn, batch []item) error {
	// The builder's memory (announced configs, last values) moves ahead
	// as the batch is built; if the connection fails, it is put back to
	// what was delivered.
	snap := p.b.snapshot()
	msgs := make([][]message, len(batch))
	all := p.msgs[:0] // the memory of the last batch's messages
	for k := range batch {
		it := &batch[k]
		p.tel.UnmarshalText(it.reading.Telegram) // parsed without error in nextBatch
		start := len(all)
		all = p.b.appendBuild(all, &p.tel, &it.reading, &it.ident)
		msgs[k] = all[start:len(all):len(all)]
		p.b.commit(msgs[k], it.reading.Received)
	}
	p.msgs = all
	toks := make([][]mqtt.Token, len(batch))
	for k := range msgs {
		toks[k] = make([]mqtt.Token, len(msgs[k]))
		for i, m := range msgs[k] {
			toks[k][i] = cn.c.Publish(m.topic, p.cfg.QoS, m.retain, m.payload)
		}
	}
	timer := time.NewTimer(p.cfg.AckTimeout)
	defer timer.Stop()
	// Each telegram leaves the queue as soon as it is acknowledged; the
	// disk records the batch's deliveries once, at its end.
	defer p.q.commit()
	for k := range batch {
		if err := p.await(ctx, cn, toks[k], timer.C); err != nil {
			// The broker may have acknowledged more of the batch
			// than was looked at when the wait ended (the grace
			// period over, the connection lost): those telegrams are
			// delivered and must not be sent again by the next
			// connection or the next run.
			for k < len(batch) && acked(toks[k]) {
				p.q.pop(batch[k].seq)
				p.published.Add(1)
				k++
			}
			p.b.restore(snap)
			for j := range k {
				p.b.commit(msgs[j], batch[j].reading.Received)
			}
			return err
		}
		p.q.pop(batch[k].seq)
		p.published.Add(1)
	}
	if n := p.droppedUnlogged.Swap(0); n > 0 {
		p.log.Warn(fmt.Sprintf("%d telegrams were dropped from the full queue", n))
	}
	return nil
}

// await waits until every token is acknowledged. A token already
// acknowledged counts as such even when ctx is done, the connection lost
// or the timeout passed.
func (p *Publisher) await(ctx context.Context, cn *conn, toks []mqtt.Token, timeout <-chan time.Time) error {
	for _, t := range toks {
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return err
			}
			continue
		default:
		}
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case err := <-cn.lost:
			return err
		case <-timeout:
			return errAckTimeout
		}
	}
	return nil
}

// acked reports whether every token is acknowledged already, without
// waiting.
func acked(toks []mqtt.Token) bool {
	for _, t := range toks {
		select {
		case <-t.Done():
			if t.Error() != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// connect connects as id, retrying with backoff. It returns early only
// when ctx is cancelled or, on the first connection (ever false), for a
// fatal refusal.
func (p *Publisher) connect(ctx context.Context, id identity, ever bool) (*conn, error) {
	logged := map[string]bool{} // causes logged during this outage
	// Up to a fifth off each wait, so that many publishers do not retry
	// in step.
	wait := backoff.Backoff{Min: p.cfg.RetryMin, Max: p.cfg.RetryMax, Jitter: 0.2}
	for {
		cn, err := p.dial(ctx, id)
		if err == nil {
			p.connects.Add(1)
			p.connected.Store(true)
			p.b.forget()
			switch {
			case id.status == "": // Config.ConnectAtStart's check
				p.log.Info(fmt.Sprintf("the broker %s takes the connection; waiting for the meter's first telegram", p.shown))
			case !ever:
				p.log.Info(fmt.Sprintf("connected to %s as %s; publishing under %s/", p.shown, id.clientID, id.root))
			case !p.lostAt.IsZero():
				p.log.Info(fmt.Sprintf("connected to %s again after %s; %d telegrams wait in the queue",
					p.shown, time.Since(p.lostAt).Round(time.Second), p.Stats().Queued))
				p.lostAt = time.Time{}
			default: // a new meter id, not a lost connection
				p.log.Info(fmt.Sprintf("connected to %s as %s; publishing under %s/", p.shown, id.clientID, id.root))
			}
			return cn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ce := explain(p.shown, id.clientID, err)
		if !ever && ce.Fatal() {
			return nil, ce
		}
		if !logged[ce.cause] {
			reason := ce.Reason
			if p.cfg.Advice != nil {
				if a := p.cfg.Advice(ce); a != "" {
					reason += " (" + a + ")"
				}
			}
			p.log.Warn(fmt.Sprintf("cannot connect to %s: %s; retrying with backoff up to every %s (logged once per reason)", ce.Broker, reason, p.cfg.RetryMax))
			logged[ce.cause] = true
		}
		t := time.NewTimer(wait.Next())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// dial makes one connection attempt and announces "online".
func (p *Publisher) dial(ctx context.Context, id identity) (*conn, error) {
	o := mqtt.NewClientOptions()
	o.AddBroker(p.broker)
	o.SetClientID(id.clientID)
	o.SetUsername(p.cfg.Username)
	o.SetPassword(p.cfg.Password)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetProtocolVersion(4)
	o.SetKeepAlive(p.cfg.KeepAlive)
	o.SetPingTimeout(min(10*time.Second, p.cfg.KeepAlive))
	o.SetConnectTimeout(p.cfg.ConnectTimeout)
	o.SetWriteTimeout(p.cfg.AckTimeout)
	if id.status != "" {
		o.SetWill(id.status, "offline", p.cfg.QoS, true)
	}
	if usesTLS(p.broker) {
		tc := p.cfg.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.SetTLSConfig(tc)
	}
	cn := &conn{ident: id, lost: make(chan error, 1)}
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case cn.lost <- err:
		default:
		}
	})
	c := mqtt.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { <-tok.Done(); c.Disconnect(0) }()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	cn.c = c
	var toks []mqtt.Token
	if id.status != "" {
		toks = append(toks, c.Publish(id.status, p.cfg.QoS, true, "online"))
	}
	if !p.cfg.NoDiscovery {
		// Home Assistant announces its restarts here; the discovery
		// configs are then sent again, in case they were not retained.
		toks = append(toks, c.Subscribe(p.cfg.DiscoveryPrefix+"/status", 0, func(_ mqtt.Client, m mqtt.Message) {
			// A retained "online" is Home Assistant's state, not news
			// of a restart.
			if string(m.Payload()) == "online" && !m.Retained() {
				select {
				case p.birth <- struct{}{}:
				default:
				}
			}
		}))
	}
	timer := time.NewTimer(p.cfg.AckTimeout)
	defer timer.Stop()
	if err := p.await(ctx, cn, toks, timer.C); err != nil {
		c.Disconnect(0)
		return nil, err
	}
	return cn, nil
}

// syncMeter publishes the meter's state on its availability topic when
// it changed since it was last published on this connection.
func (p *Publisher) syncMeter(ctx context.Context, cn *conn) error {
	want := p.meter.Load()
	if want == meterUnknown || want == cn.meterSent {
		return nil
	}
	payload := "online"
	if want == meterOffline {
		payload = "offline"
	}
	tok := cn.c.Publish(cn.ident.meterStatus, p.cfg.QoS, true, payload)
	timer := time.NewTimer(p.cfg.AckTimeout)
	defer timer.Stop()
	if err := p.await(ctx, cn, []mqtt.Token{tok}, timer.C); err != nil {
		return err
	}
	cn.meterSent = want
	return nil
}

// reannounce publishes again the discovery configs sent on this
// connection, after Home Assistant announced a restart.
func (p *Publisher) reannounce(ctx context.Context, cn *conn) error {
	topics := slices.Sorted(maps.Keys(p.b.announced))
	toks := make([]mqtt.Token, len(topics))
	for i, topic := range topics {
		toks[i] = cn.c.Publish(topic, p.cfg.QoS, true, []byte(p.b.announced[topic]))
	}
	timer := time.NewTimer(p.cfg.AckTimeout)
	defer timer.Stop()
	return p.await(ctx, cn, toks, timer.C)
}

// lose handles a connection that failed.
func (p *Publisher) lose(cn *conn, err error) {
	p.connected.Store(false)
	p.lostAt = time.Now()
	p.log.Warn(fmt.Sprintf("lost the connection to %s (%v); telegrams wait in the queue until it is back", p.shown, err))
	cn.c.Disconnect(0)
}

// hangUp ends a connection cleanly: "offline" on the status topic (the
// will is only sent for connections that break), then DISCONNECT.
func (p *Publisher) hangUp(cn *conn) {
	p.connected.Store(false)
	t := cn.c.Publish(cn.ident.status, p.cfg.QoS, true, "offline")
	t.WaitTimeout(time.Second)
	cn.c.Disconnect(250)
}

// stop publishes what it can until hard is done (the end of the grace
// period), hangs up and closes the queue. It returns nil: what is left is
// logged.
func (p *Publisher) stop(ctx context.Context, cn *conn) error {
	if cn != nil {
		for ctx.Err() == nil {
			batch := p.nextBatch(maxBatch)
			if len(batch) == 0 || batch[0].ident != cn.ident {
				break
			}
			if err := p.publish(ctx, cn, batch); err != nil {
				break
			}
		}
		p.hangUp(cn)
	}
	lost, err := p.q.close()
	n := p.q.stats().queued
	switch {
	case n == 0:
	case p.cfg.QueueDir == "":
		p.log.Warn(fmt.Sprintf("stopping with %d telegrams not yet delivered; they are lost (use a queue directory to keep them)", n))
	case lost == n:
		p.log.Warn(fmt.Sprintf("stopping with %d telegrams not yet delivered; the queue directory %s cannot be written, so they are lost", n, p.cfg.QueueDir))
	case lost > 0:
		p.log.Warn(fmt.Sprintf("stopping with %d telegrams not yet delivered; %d stay in %s for the next run, the other %d could not be written there and are lost",
			n, n-lost, p.cfg.QueueDir, lost))
	default:
		p.log.Warn(fmt.Sprintf("stopping with %d telegrams not yet delivered; they stay in %s for the next run", n, p.cfg.QueueDir))
	}
	if err != nil {
		p.log.Warn(fmt.Sprintf("closing the queue directory %s: %v", p.cfg.QueueDir, err))
	}
	return nil
}

// message is one MQTT publication.
type message struct {
	topic   string
	payload []byte
	retain  bool
	kind    msgKind
	// text is the payload of a discovery config as a string, made once
	// for all the telegrams that send it: the builder remembers it as
	// announced, and compares it with the next one's at the cost of a
	// pointer when it is the same.
	text string
}

type msgKind uint8

const (
	kindDiscovery msgKind = iota
	kindValue
	kindTelegram
)

// builder turns telegrams into messages. It remembers which discovery
// configs the broker has (per connection) and, for OnlyOnChange, the last
// value published on each topic.
type builder struct {
	cfg       *Config
	announced map[string]string
	last      map[string]lastValue
	// gen counts the changes of announced, so that a layout entry found
	// announced once is not looked up again until announced changes.
	gen uint64

	// Caches of what depends only on the meter and on a sensor's kind,
	// not on its value, so that the steady state marshals no discovery
	// config and joins no topic: valid for memoFor, emptied when it
	// changes, and bounded (a meter has some 60 sensors).
	memoFor memoIdentity
	configs map[configKey]discoMemo
	topics  map[topicKey]string
	// layout is what the last telegram's sensors found in the caches, in
	// order: a meter sends the same objects every time, so that the next
	// telegram's sensor k usually needs only a comparison with layout[k].
	layout []layoutEntry
	spare  layoutEntry // for a sensor past maxMemo
	// sensors are those of the telegram being built (in scan's memory),
	// unsent the memory of the indexes of those to announce.
	sensors []sensor
	unsent  []int
	scan    scanMemo
	// valuesSize is the length of the last telegram's payloads, jsonSize
	// that of the last JSON telegram the builder made, and telegramTopic
	// the JSON telegram's topic for memoFor.
	valuesSize, jsonSize int
	telegramTopic        string
}

type layoutEntry struct {
	key   configKey
	disco discoMemo
	topic string
	// announcedAt is builder.gen+1 when announced was last seen to hold
	// disco's text under its topic; 0, never.
	announcedAt uint64
}

// memoIdentity is what the builder's caches depend on besides a sensor.
type memoIdentity struct {
	id             identity
	header, prefix string
	expire         int
}

type discoMemo struct {
	topic   string
	payload []byte // shared by the messages of every telegram; never modified
	text    string // string(payload)
}

type topicKey struct {
	obis  dsmr.OBIS
	group int
}

// maxMemo bounds each cache; past it, entries are built and not kept.
const maxMemo = 1024

// memo makes the caches valid for the telegram's identity.
func (b *builder) memo(t *dsmr.Telegram, id *identity) {
	m := memoIdentity{id: *id, header: t.Header(), prefix: b.cfg.DiscoveryPrefix, expire: b.cfg.expireSeconds()}
	if b.configs == nil || m != b.memoFor {
		b.memoFor = m
		b.telegramTopic = id.root + "/telegram"
		b.configs = map[configKey]discoMemo{}
		b.topics = map[topicKey]string{}
		b.layout = b.layout[:0]
	}
}

// unchanged reports whether sensor k is the last telegram's sensor k, as
// far as its discovery config and topic go: then layout[k] holds them.
func (b *builder) unchanged(k int, s *sensor) bool {
	return k < len(b.layout) && b.layout[k].key == s.configKey
}

// sensorMemo returns the discovery config and the value topic of sensor
// number k of the telegram; the config is empty with Config.NoDiscovery.
// The pointer is valid until the next call.
func (b *builder) sensorMemo(t *dsmr.Telegram, k int, s *sensor, id *identity, dev *device) *layoutEntry {
	if b.unchanged(k, s) {
		return &b.layout[k]
	}
	key := s.configKey
	e := &b.spare
	if k == len(b.layout) && k < maxMemo {
		b.layout = append(b.layout, layoutEntry{})
	}
	if k < len(b.layout) {
		e = &b.layout[k]
	}
	*e = layoutEntry{key: key, topic: b.valueTopic(s, id)}
	if !b.cfg.NoDiscovery {
		e.disco = b.configOf(t, s, key, id, dev)
	}
	return e
}

func (b *builder) configOf(t *dsmr.Telegram, s *sensor, k configKey, id *identity, dev *device) discoMemo {
	if m, ok := b.configs[k]; ok {
		return m
	}
	if dev.Name == "" {
		*dev = meterDevice(t, id.meterID, id.node)
	}
	var m discoMemo
	m.topic, m.payload = discovery(s, id, dev, b.cfg.DiscoveryPrefix, b.cfg.expireSeconds())
	m.text = string(m.payload)
	if len(b.configs) < maxMemo {
		b.configs[k] = m
	}
	return m
}

// valueTopic returns the state topic of s.
func (b *builder) valueTopic(s *sensor, id *identity) string {
	k := topicKey{obis: s.obis, group: s.group}
	if topic, ok := b.topics[k]; ok {
		return topic
	}
	topic := id.root + "/" + s.suffix()
	if len(b.topics) < maxMemo {
		b.topics[k] = topic
	}
	return topic
}

type lastValue struct {
	payload string
	at      time.Time
}

type builderState struct {
	announced map[string]string
	last      map[string]lastValue
}

func (b *builder) snapshot() builderState {
	return builderState{maps.Clone(b.announced), maps.Clone(b.last)}
}

func (b *builder) restore(s builderState) {
	b.announced, b.last = s.announced, s.last
	b.gen++
}

// forget makes the next telegram send the discovery configs again.
func (b *builder) forget() {
	clear(b.announced)
	b.gen++
}

// build returns the messages for one telegram: discovery configs not yet
// sent on this connection, then one message per number, then the telegram
// as JSON.
func (b *builder) build(t *dsmr.Telegram, r *Reading, id *identity) []message {
	return b.appendBuild(nil, t, r, id)
}

// appendBuild is build appending the messages to dst, so that a caller
// that publishes telegram after telegram reuses the memory of the
// messages (not that of their payloads, which the MQTT client may hold
// until the broker acknowledges them).
func (b *builder) appendBuild(dst []message, t *dsmr.Telegram, r *Reading, id *identity) []message {
	b.memo(t, id)
	// The payloads of the values share one buffer.
	values := make([]byte, 0, max(b.valuesSize, 256))
	b.sensors, values = b.scan.scan(values, t)
	b.valuesSize = len(values)
	sensors := b.sensors
	var dev device // made when a config is not in the cache
	// The sensors whose discovery config the broker does not have yet:
	// none in the steady state.
	b.unsent = b.unsent[:0]
	retain := !b.cfg.NoRetain
	start := len(dst)
	msgs := slices.Grow(dst, len(sensors)+1)
	for k := range sensors {
		s := &sensors[k]
		var e *layoutEntry
		if b.unchanged(k, s) { // sensorMemo's steady state, without its call
			e = &b.layout[k]
		} else {
			e = b.sensorMemo(t, k, s, id, &dev)
		}
		if !b.cfg.NoDiscovery && e.announcedAt != b.gen+1 { // else nothing announced since
			switch {
			case b.announced[e.disco.topic] != e.disco.text:
				b.unsent = append(b.unsent, k)
			case e != &b.spare:
				e.announcedAt = b.gen + 1
			}
		}
		if b.cfg.OnlyOnChange {
			if last, ok := b.last[e.topic]; ok && last.payload == string(s.payload) &&
				(b.cfg.Heartbeat <= 0 || r.Received.Sub(last.at) < b.cfg.Heartbeat) {
				continue
			}
		}
		msgs = append(msgs, message{topic: e.topic, payload: s.payload, retain: retain, kind: kindValue})
	}
	js := r.JSON // shared with the other outputs
	if js == nil {
		var env *format.Envelope
		if r.Encrypted {
			env = &format.Envelope{SystemTitle: r.SystemTitle, FrameCounter: r.FrameCounter}
		}
		size := b.jsonSize + 64 // the last one's, as a meter sends the same objects
		if b.jsonSize == 0 {
			size = 5 * len(r.Telegram)
		}
		js = format.AppendJSON(make([]byte, 0, size), t, env)
		b.jsonSize = len(js)
	}
	msgs = append(msgs, message{topic: b.telegramTopic, payload: js, retain: retain, kind: kindTelegram})
	if len(b.unsent) == 0 {
		return msgs
	}
	// The configs go first, so that Home Assistant knows a sensor before
	// its first value.
	n := len(b.unsent)
	msgs = slices.Insert(msgs, start, make([]message, n)...)
	for i, k := range b.unsent {
		m := &b.sensorMemo(t, k, &sensors[k], id, &dev).disco
		msgs[start+i] = message{topic: m.topic, payload: m.payload, retain: true, kind: kindDiscovery, text: m.text}
	}
	return msgs
}

// commit records that msgs were delivered.
func (b *builder) commit(msgs []message, at time.Time) {
	if b.announced == nil {
		b.announced = map[string]string{}
	}
	if b.last == nil {
		b.last = map[string]lastValue{}
	}
	for _, m := range msgs {
		switch m.kind {
		case kindDiscovery:
			if m.text == "" {
				m.text = string(m.payload)
			}
			b.announced[m.topic] = m.text
			b.gen++
		case kindValue:
			if b.cfg.OnlyOnChange {
				b.last[m.topic] = lastValue{payload: string(m.payload), at: at}
			}
		}
	}
}
