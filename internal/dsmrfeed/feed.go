// Package dsmrfeed serves the meter's plain DSMR telegrams over TCP, byte
// for byte as the meter wrote them, CRC included, to every client that
// connects: the feed that Home Assistant's DSMR integration, dsmr-reader,
// evcc and Node-RED read from a network meter.
//
// A Server hands each telegram to every client at once and never waits
// for one: Send only queues. Each client has a queue of Config.Queue
// telegrams, and the kernel's socket buffer holds some 50 more; when both
// are full because the client reads slowly, further telegrams are dropped
// for that client alone and counted. A client whose connection takes no
// byte for Config.StallTimeout (one write does not finish) is
// disconnected. So a slow, stuck or dead client costs the others nothing,
// and the memory a client can hold is bounded.
//
// The feed is the household's decrypted consumption: a Server listens on
// the loopback interface unless its address names another, says so in the
// log when it does, and can be limited to clients from given networks
// (Config.Allow).
//
// A Server is a live.Output (Reading, Link, Run); Send is the same for a
// caller without the live loop:
//
//	srv, err := dsmrfeed.Listen(dsmrfeed.Config{Addr: "127.0.0.1:2001", Logger: log})
//	if err != nil { ... }
//	go srv.Run(ctx)
//	for each telegram { srv.Send(t.Bytes()) }
package dsmrfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

// Defaults of Config.
const (
	// DefaultQueue is how many telegrams wait for a client before newer
	// ones are dropped for it: 16, nearly three minutes of a meter that
	// sends every 10 s.
	DefaultQueue = 16
	// DefaultStallTimeout is how long one write to a client may take
	// before the client is disconnected as stuck.
	DefaultStallTimeout = time.Minute
	// DefaultMaxClients is how many clients may be connected at once.
	DefaultMaxClients = 64
	// sendBuffer is the socket send buffer of each client: the kernel
	// keeps at most about twice this for a client that does not read
	// (some 50 telegrams), instead of growing it to megabytes.
	sendBuffer = 32 << 10
)

// Config says where a Server listens and how it treats its clients.
type Config struct {
	// Addr is the address to listen on, host:port. An empty host
	// (":2001") means the loopback interface, 127.0.0.1; to serve other
	// machines name their interface or 0.0.0.0 (or [::]). Port 0 picks a
	// free port (see Server.Addr).
	Addr string
	// Allow, when not empty, limits the clients to these networks;
	// others are disconnected as soon as they connect. Clients on the
	// loopback interface are always allowed.
	Allow []netip.Prefix
	// Queue is how many telegrams are kept for a client that is still
	// writing earlier ones; DefaultQueue when 0.
	Queue int
	// StallTimeout is how long one write to a client may take before the
	// client is disconnected; DefaultStallTimeout when 0.
	StallTimeout time.Duration
	// MaxClients is how many clients may be connected at once (more are
	// refused); DefaultMaxClients when 0.
	MaxClients int
	// Logger gets the server's messages; nil means none.
	Logger *slog.Logger
}

// Stats counts what a Server has done since it started.
type Stats struct {
	Clients   int   // connected now
	Accepted  int64 // clients accepted
	Refused   int64 // connections refused: not allowed, or too many clients
	Telegrams int64 // telegrams given to Send
	Sent      int64 // telegrams written to clients, summed over clients
	Dropped   int64 // telegrams dropped for clients that did not keep up
	Stalled   int64 // clients disconnected because a write did not finish
	Lost      int64 // telegrams Send dropped because Run's goroutine was far behind
}

// ClientStats is what a Server knows of one connected client.
type ClientStats struct {
	Addr    string    // the client's address, host:port
	Since   time.Time // when it connected
	Sent    int64     // telegrams written to it
	Dropped int64     // telegrams dropped because it did not keep up
}

// Server is a DSMR feed. Make it with Listen, start it with Run, and give
// it telegrams with Send. Its methods may be called from any goroutine.
type Server struct {
	cfg  Config
	ln   net.Listener
	log  *slog.Logger
	wide bool // listening beyond the loopback interface

	mu      sync.Mutex // guards clients (written), closed and the refusal log
	clients atomic.Pointer[[]*client]
	closed  bool
	wg      sync.WaitGroup

	lastRefusalLog time.Time
	refusedSince   int

	in chan []byte // from Send to Run's goroutine

	accepted, refused, telegrams, sent, dropped, stalled, lost atomic.Int64
}

// Listen opens the listening socket of cfg.Addr, so that an address in
// use is an error at once. Serve the clients with Run.
func Listen(cfg Config) (*Server, error) {
	addr, err := loopbackDefault(cfg.Addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(network(addr), addr)
	if err != nil {
		return nil, fmt.Errorf("dsmrfeed: %w", err)
	}
	return newServer(ln, cfg), nil
}

// loopbackDefault returns addr with an empty host replaced by 127.0.0.1.
func loopbackDefault(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("dsmrfeed: listen address %q: want host:port, such as 127.0.0.1:2001 or 0.0.0.0:2001", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// network is "tcp4" for an IPv4 address, so that 0.0.0.0 is not shown as
// [::], and "tcp" for anything else.
func network(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return "tcp4"
	}
	return "tcp"
}

// newServer serves the clients of ln.
func newServer(ln net.Listener, cfg Config) *Server {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	s := &Server{cfg: cfg, ln: ln, log: cfg.Logger, in: make(chan []byte, inQueue)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.clients.Store(new([]*client))
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		s.wide = true
	}
	return s
}

// Addr returns the address the Server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run accepts clients until ctx is done, then disconnects them all and
// returns nil once every goroutine it started has ended. It returns an
// error only when the listening socket fails.
func (s *Server) Run(ctx context.Context) error {
	s.announce()
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	defer s.shutdown()
	stopFan := make(chan struct{})
	fanned := make(chan struct{})
	go func() {
		defer close(fanned)
		s.fanOut(stopFan)
	}()
	defer func() {
		close(stopFan)
		<-fanned
	}()
	var wait time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and go on.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			s.log.Warn(fmt.Sprintf("DSMR feed: accepting a client failed: %v; trying again in %s", err, wait))
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		wait = 0
		s.admit(conn)
	}
}

// announce logs where the Server listens, and a warning when that is
// beyond this machine.
func (s *Server) announce() {
	addr := s.ln.Addr().String()
	if !s.wide {
		s.log.Info(fmt.Sprintf("DSMR feed: serving plain telegrams on %s (this machine only)", addr))
		return
	}
	if len(s.cfg.Allow) == 0 {
		s.log.Warn(fmt.Sprintf("DSMR feed: serving plain telegrams on %s, beyond this machine: anyone who can reach it reads the household's decrypted meter data; limit the clients to your networks or listen on 127.0.0.1", addr))
		return
	}
	s.log.Warn(fmt.Sprintf("DSMR feed: serving plain telegrams on %s, beyond this machine: clients from %s (and this machine) read the household's decrypted meter data", addr, prefixList(s.cfg.Allow)))
}

func prefixList(ps []netip.Prefix) string {
	var b []byte
	for i, p := range ps {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = p.AppendTo(b)
	}
	return string(b)
}

// allowed reports whether a client from addr may connect.
func (s *Server) allowed(addr net.Addr) bool {
	if len(s.cfg.Allow) == 0 {
		return true
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	for _, p := range s.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// admit starts serving conn, or refuses it.
func (s *Server) admit(conn net.Conn) {
	addr := conn.RemoteAddr().String()
	if !s.allowed(conn.RemoteAddr()) {
		s.refuse(conn, fmt.Sprintf("refused a client from %s: not in the allowed networks (%s)", addr, prefixList(s.cfg.Allow)))
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	old := *s.clients.Load()
	if len(old) >= s.cfg.MaxClients {
		s.mu.Unlock()
		s.refuse(conn, fmt.Sprintf("refused a client from %s: %d clients are connected, the most allowed", addr, len(old)))
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetWriteBuffer(sendBuffer)
	}
	c := newClient(s, conn)
	next := make([]*client, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	s.clients.Store(&next)
	s.wg.Add(2)
	s.mu.Unlock()
	s.accepted.Add(1)
	s.log.Info(fmt.Sprintf("DSMR feed: client %s connected (%d connected)", addr, len(next)))
	go c.write()
	go c.drain()
}

// refuse counts a refused connection, closes it and logs it, at most once every
// 10 seconds with how many were refused since, so that a flood of
// connections cannot flood the log.
func (s *Server) refuse(conn net.Conn, msg string) {
	s.refused.Add(1)
	conn.Close()
	s.mu.Lock()
	s.refusedSince++
	now := time.Now()
	if !s.lastRefusalLog.IsZero() && now.Sub(s.lastRefusalLog) < 10*time.Second {
		s.mu.Unlock()
		return
	}
	n := s.refusedSince
	s.refusedSince = 0
	s.lastRefusalLog = now
	s.mu.Unlock()
	if n > 1 {
		msg += fmt.Sprintf(" (%d refused since the last such message)", n)
	}
	s.log.Warn("DSMR feed: " + msg)
}

// remove takes c off the list of clients.
func (s *Server) remove(c *client) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.clients.Load()
	next := make([]*client, 0, len(old))
	for _, o := range old {
		if o != c {
			next = append(next, o)
		}
	}
	s.clients.Store(&next)
	return len(next)
}

// shutdown disconnects every client and waits for their goroutines.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	cs := *s.clients.Load()
	s.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	s.wg.Wait()
}

// Send queues telegram for every connected client and returns at once; it
// never blocks on a client, nor on anything else. telegram must be one
// whole telegram, '/' to the line end after the CRC, and must not be
// modified after the call: the Server writes it as it is, later, from
// other goroutines. Run's goroutine hands it to each client's queue.
func (s *Server) Send(telegram []byte) {
	s.telegrams.Add(1)
	select {
	case s.in <- telegram:
	default:
		// Run's goroutine is far behind, or not running.
		s.lost.Add(1)
	}
}

// inQueue is how many telegrams may wait for Run's goroutine.
const inQueue = 64

// fanOut hands each telegram of Send to every client until stop is closed.
func (s *Server) fanOut(stop <-chan struct{}) {
	for {
		select {
		case b := <-s.in:
			s.distribute(b)
		case <-stop:
			return
		}
	}
}

// distribute offers b to every client.
func (s *Server) distribute(b []byte) {
	for _, c := range *s.clients.Load() {
		c.offer(b)
	}
}

// Stats returns the Server's counts.
func (s *Server) Stats() Stats {
	return Stats{
		Clients:   len(*s.clients.Load()),
		Accepted:  s.accepted.Load(),
		Refused:   s.refused.Load(),
		Telegrams: s.telegrams.Load(),
		Sent:      s.sent.Load(),
		Dropped:   s.dropped.Load(),
		Stalled:   s.stalled.Load(),
		Lost:      s.lost.Load(),
	}
}

// Clients returns what the Server knows of each connected client, in the
// order they connected.
func (s *Server) Clients() []ClientStats {
	cs := *s.clients.Load()
	out := make([]ClientStats, len(cs))
	for i, c := range cs {
		out[i] = ClientStats{Addr: c.addr, Since: c.since, Sent: c.sent.Load(), Dropped: c.dropped.Load()}
	}
	return out
}

// client is one connection.
type client struct {
	s     *Server
	conn  net.Conn
	addr  string
	since time.Time
	queue chan []byte
	gone  chan struct{} // closed by close
	once  sync.Once

	sent, dropped atomic.Int64
	warned        atomic.Bool // told the log it drops telegrams
}

func newClient(s *Server, conn net.Conn) *client {
	return &client{
		s:     s,
		conn:  conn,
		addr:  conn.RemoteAddr().String(),
		since: time.Now(),
		queue: make(chan []byte, s.cfg.Queue),
		gone:  make(chan struct{}),
	}
}

// offer queues b, or drops it when the queue is full.
func (c *client) offer(b []byte) {
	select {
	case c.queue <- b:
		return
	default:
	}
	c.dropped.Add(1)
	c.s.dropped.Add(1)
	if !c.warned.Swap(true) {
		c.s.log.Warn(fmt.Sprintf("DSMR feed: client %s does not keep up: dropping telegrams for it until it reads again", c.addr))
	}
}

// close ends the connection; both goroutines of the client then return.
func (c *client) close() {
	c.once.Do(func() {
		close(c.gone)
		c.conn.Close()
	})
}

// write writes the queued telegrams to the client, several in one call
// when it fell behind, until the connection fails or is closed.
func (c *client) write() {
	defer c.s.wg.Done()
	defer c.close()
	var bufs net.Buffers
	var batch [8][]byte
	for {
		var first []byte
		select {
		case first = <-c.queue:
		case <-c.gone:
			c.left(nil)
			return
		}
		batch[0] = first
		n := 1
	more:
		for n < len(batch) {
			select {
			case b := <-c.queue:
				batch[n] = b
				n++
			default:
				break more
			}
		}
		bufs = append(bufs[:0], batch[:n]...)
		c.conn.SetWriteDeadline(time.Now().Add(c.s.cfg.StallTimeout))
		_, err := bufs.WriteTo(c.conn)
		clear(batch[:n])
		if err != nil {
			c.left(err)
			return
		}
		c.sent.Add(int64(n))
		c.s.sent.Add(int64(n))
	}
}

// left logs why the client is gone and takes it off the list.
func (c *client) left(err error) {
	left := c.s.remove(c)
	counts := fmt.Sprintf("%d telegrams sent, %d dropped", c.sent.Load(), c.dropped.Load())
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.s.stalled.Add(1)
		c.s.log.Warn(fmt.Sprintf("DSMR feed: disconnected client %s: it took no data for %s (%s; %d connected)", c.addr, c.s.cfg.StallTimeout, counts, left))
	default:
		c.s.log.Info(fmt.Sprintf("DSMR feed: client %s disconnected (%s; %d connected)", c.addr, counts, left))
	}
}

// drain reads and discards what the client sends (clients of a DSMR feed
// send nothing), so that a client that closes its end is noticed at once.
func (c *client) drain() {
	defer c.s.wg.Done()
	defer c.close()
	var buf [512]byte
	for {
		if _, err := c.conn.Read(buf[:]); err != nil {
			return
		}
	}
}

// Reading sends the telegram of r to every client (the live.Output's
// method): the bytes as the meter wrote them, which r keeps unchanged.
func (s *Server) Reading(r *live.Reading) { s.Send(r.Message.Telegram.Bytes()) }

// Link does nothing: the clients see the telegrams stop, as they would
// with the meter itself.
func (s *Server) Link(live.LinkState) {}

var _ live.Output = (*Server)(nil)

// Close closes the listening socket, for a Server that will not Run
// (Run closes it when it ends).
func (s *Server) Close() error { return s.ln.Close() }
