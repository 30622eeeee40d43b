package dsmrfeed

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
)

// telegrams returns n telegrams of a simulated meter, as the loop hands
// them over.
func telegrams(n int) [][]byte {
	m := sim.New(sim.Config{Seed: 7})
	out := make([][]byte, n)
	for i := range out {
		out[i] = m.AppendTelegram(nil)
	}
	return out
}

// logBuffer is an slog handler's output, safe to read while the server
// logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a Server of cfg (on a free loopback port unless cfg.Addr
// says otherwise) until the test ends, and returns it with a function
// that stops it and waits for Run to return.
func start(t *testing.T, cfg Config) (*Server, func()) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitClients(t *testing.T, s *Server, n int) {
	t.Helper()
	clienttest.Eventually(t, 10*time.Second, "clients connected", func() bool { return s.Stats().Clients == n })
}

// TestByteExact: several clients get every telegram, byte for byte, in
// order.
func TestByteExact(t *testing.T) {
	s, _ := start(t, Config{Queue: 64}) // the telegrams come in a burst
	const clients = 5
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, s)
	}
	waitClients(t, s, clients)
	tgs := telegrams(40)
	want := bytes.Join(tgs, nil)
	for _, tg := range tgs {
		s.Send(tg)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("client %d got other bytes than were sent", i)
		}
	}
	// The counts follow the writes, which may return a little after the
	// clients have read.
	clienttest.Eventually(t, 10*time.Second, "all writes counted", func() bool { return s.Stats().Sent == 40*clients })
	if st := s.Stats(); st.Telegrams != 40 || st.Dropped != 0 || st.Accepted != clients {
		t.Errorf("Stats = %+v", st)
	}
}

// pipeListener hands out in-memory connections (net.Pipe), whose writes
// block until the other end reads: a client that never reads is stuck at
// once, and testing/synctest controls every timer.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client's end of a new connection.
func (l *pipeListener) dial() net.Conn {
	server, client := net.Pipe()
	l.conns <- server
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestStuckClient: a client that never reads fills its queue, loses what
// does not fit (counted), and is disconnected after StallTimeout; a client
// that reads gets every telegram on time meanwhile.
func TestStuckClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		ln := newPipeListener()
		s := newServer(ln, Config{Queue: 4, StallTimeout: time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()

		reader := ln.dial()
		stuck := ln.dial()
		synctest.Wait()
		if n := s.Stats().Clients; n != 2 {
			t.Fatalf("%d clients, want 2", n)
		}
		got := make(chan []byte)
		go func() {
			var all []byte
			buf := make([]byte, 4096)
			for {
				n, err := reader.Read(buf)
				all = append(all, buf[:n]...)
				if err != nil {
					got <- all
					return
				}
			}
		}()

		tgs := telegrams(10)
		for i, tg := range tgs {
			s.Send(tg)
			synctest.Wait()
			// The reader is never late: every telegram is written to
			// it before the next is sent.
			if c := s.Clients()[0]; c.Sent != int64(i+1) {
				t.Fatalf("after telegram %d the reader has %d", i+1, c.Sent)
			}
			time.Sleep(time.Second)
		}
		// One telegram is in the stuck write, 4 wait in the queue, the
		// other 5 were dropped.
		cs := s.Clients()
		if cs[1].Sent != 0 || cs[1].Dropped != 5 {
			t.Errorf("stuck client: %+v, want 0 sent and 5 dropped", cs[1])
		}
		// A minute after the stuck write began, the client is gone.
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := s.Stats(); st.Clients != 1 || st.Dropped != 5 || st.Stalled != 1 {
			t.Errorf("Stats = %+v, want 1 client left, 5 dropped, 1 stalled", st)
		}
		if !strings.Contains(logs.String(), "does not keep up") || !strings.Contains(logs.String(), "took no data for 1m0s") {
			t.Errorf("log does not tell of the stuck client:\n%s", logs.String())
		}
		if _, err := stuck.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("stuck client's connection: read gave %v, want io.EOF", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		all := <-got
		if !bytes.Equal(all, bytes.Join(tgs, nil)) {
			t.Errorf("the reading client got %d bytes, not the %d sent", len(all), len(bytes.Join(tgs, nil)))
		}
	})
}

// TestStallBound: a client is disconnected StallTimeout after a write to
// it began, not before.
func TestStallBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		s := newServer(ln, Config{StallTimeout: 30 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		c := ln.dial()
		defer c.Close()
		synctest.Wait()
		s.Send(telegrams(1)[0])
		time.Sleep(30*time.Second - time.Millisecond)
		synctest.Wait()
		if n := s.Stats().Clients; n != 1 {
			t.Fatalf("disconnected before StallTimeout")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if st := s.Stats(); st.Clients != 0 || st.Stalled != 1 {
			t.Fatalf("at StallTimeout: %+v", st)
		}
	})
}

func TestMaxClients(t *testing.T) {
	s, _ := start(t, Config{MaxClients: 2})
	dial(t, s)
	dial(t, s)
	waitClients(t, s, 2)
	c := dial(t, s)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("third client: read gave %v, want io.EOF", err)
	}
	if st := s.Stats(); st.Refused != 1 || st.Clients != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestClientsLeave: the goroutines of clients end when they leave, and
// the telegrams sent after that go nowhere.
func TestClientsLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		s := newServer(ln, Config{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		var conns []net.Conn
		for range 10 {
			conns = append(conns, ln.dial())
		}
		synctest.Wait()
		if n := s.Stats().Clients; n != 10 {
			t.Fatalf("%d clients", n)
		}
		for _, c := range conns {
			c.Close()
		}
		synctest.Wait()
		if n := s.Stats().Clients; n != 0 {
			t.Fatalf("%d clients after they left", n)
		}
		s.Send(telegrams(1)[0])
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// synctest.Test fails if a goroutine of the bubble is left.
	})
}

func TestLoopbackDefault(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":2001", "127.0.0.1:2001"},
		{"0.0.0.0:2001", "0.0.0.0:2001"},
		{"[::]:2001", "[::]:2001"},
		{"192.168.1.5:0", "192.168.1.5:0"},
		{"localhost:2001", "localhost:2001"},
		{"2001", ""},
		{"", ""},
	} {
		got, err := loopbackDefault(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("loopbackDefault(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestAllowed(t *testing.T) {
	s := newServer(newPipeListener(), Config{Allow: []netip.Prefix{
		netip.MustParsePrefix("192.168.1.0/24"),
		netip.MustParsePrefix("fd00::/8"),
	}})
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"192.168.1.20", true},
		{"::ffff:192.168.1.20", true},
		{"192.168.2.20", false},
		{"10.0.0.1", false},
		{"127.0.0.1", true},
		{"::1", true},
		{"fd12::1", true},
		{"2001:db8::1", false},
	} {
		addr := &net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 5000}
		if got := s.allowed(addr); got != tc.want {
			t.Errorf("allowed(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if !newServer(newPipeListener(), Config{}).allowed(&net.TCPAddr{IP: net.ParseIP("10.0.0.1")}) {
		t.Error("without Allow, a client was refused")
	}
}

// TestAnnounce: a Server says where it listens, and warns when that is
// beyond this machine.
func TestAnnounce(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		allow []netip.Prefix
		want  string
	}{
		{"127.0.0.1:0", nil, "INFO msg=\"DSMR feed: serving plain telegrams on 127.0.0.1:"},
		{"0.0.0.0:0", nil, "WARN msg=\"DSMR feed: serving plain telegrams on 0.0.0.0:"},
		{"0.0.0.0:0", nil, "anyone who can reach it reads the household's decrypted meter data"},
		{"0.0.0.0:0", []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}, "clients from 192.168.1.0/24 (and this machine)"},
	} {
		var logs logBuffer
		_, stop := start(t, Config{Addr: tc.addr, Allow: tc.allow, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		stop()
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: log lacks %q:\n%s", tc.addr, tc.want, logs.String())
		}
	}
}

func TestListenError(t *testing.T) {
	s, _ := start(t, Config{})
	_, err := Listen(Config{Addr: s.Addr().String()})
	if err == nil || !strings.HasPrefix(err.Error(), "dsmrfeed: ") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Listen on a port in use: %v", err)
	}
}

// BenchmarkSend is the cost of Send for the loop (it only queues), and of
// handing a telegram to 50 clients on Run's goroutine, beside the baseline
// of copying the telegram once.
func BenchmarkSend(b *testing.B) {
	tg := telegrams(1)[0]
	b.Run("copy", func(b *testing.B) {
		dst := make([]byte, len(tg))
		b.SetBytes(int64(len(tg)))
		b.ReportAllocs()
		for b.Loop() {
			copy(dst, tg)
		}
	})
	b.Run("distribute50", func(b *testing.B) {
		ln := newPipeListener()
		s := newServer(ln, Config{Queue: 1 << 20})
		var cs []*client
		for range 50 {
			server, client := net.Pipe()
			defer server.Close()
			defer client.Close()
			cs = append(cs, newClient(s, server))
		}
		s.clients.Store(&cs)
		b.SetBytes(int64(len(tg)))
		b.ReportAllocs()
		for b.Loop() {
			s.distribute(tg)
			for _, c := range cs {
				<-c.queue
			}
		}
	})
	b.Run("send", func(b *testing.B) {
		s := newServer(newPipeListener(), Config{})
		b.SetBytes(int64(len(tg)))
		b.ReportAllocs()
		for b.Loop() {
			s.Send(tg)
			<-s.in
		}
	})
}
func TestCollector(t *testing.T) {
	s, _ := start(t, Config{})
	dial(t, s)
	waitClients(t, s, 1)
	s.Send(telegrams(1)[0])
	clienttest.Eventually(t, 10*time.Second, "the telegram written", func() bool { return s.Stats().Sent == 1 })
	want := `# HELP smarty_dsmr_feed_clients Clients connected to the DSMR feed now.
# TYPE smarty_dsmr_feed_clients gauge
smarty_dsmr_feed_clients 1
# HELP smarty_dsmr_feed_sent_total Telegrams written to DSMR feed clients, summed over the clients.
# TYPE smarty_dsmr_feed_sent_total counter
smarty_dsmr_feed_sent_total 1
`
	if err := testutil.CollectAndCompare(s.Collector(), strings.NewReader(want), "smarty_dsmr_feed_clients", "smarty_dsmr_feed_sent_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(s.Collector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestSendNeverWaits: Send only queues; with Run's goroutine not running,
// what does not fit is dropped and counted, and nothing blocks.
func TestSendNeverWaits(t *testing.T) {
	s := newServer(newPipeListener(), Config{})
	tg := telegrams(1)[0]
	for range inQueue + 3 {
		s.Send(tg)
	}
	if st := s.Stats(); st.Lost != 3 || st.Telegrams != inQueue+3 {
		t.Errorf("Stats = %+v, want 3 lost", st)
	}
}
