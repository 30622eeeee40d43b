package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/NEXXTLAB/go-smarty-reader/internal/dsmrfeed"
	"github.com/NEXXTLAB/go-smarty-reader/internal/httpapi"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// pacedSource is a meter that sends a frame every pace: it decrypts frames
// of the simulator, as the live Stream does, and sleeps until each is due.
type pacedSource struct {
	r    *smarty.Reader
	pace time.Duration
	next time.Time
}

func newPacedSource(pace time.Duration) *pacedSource {
	key, _ := smarty.ParseKey(keyHex)
	c := smarty.NewCipher(key, smarty.LuxembourgAuthKey)
	st := &sim.Stream{Meter: sim.New(sim.Config{Seed: seed}), Framer: &sim.Framer{Cipher: c, SystemTitle: sim.SystemTitle(seed), Counter: 1}}
	return &pacedSource{r: smarty.NewReader(st, c), pace: pace}
}

func (s *pacedSource) Next(ctx context.Context) (*smarty.Message, error) {
	if s.next.IsZero() {
		s.next = time.Now()
	}
	s.next = s.next.Add(s.pace)
	select {
	case <-time.After(time.Until(s.next)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.r.Next()
}

// probe is the last output: it records how long after the source returned
// a telegram every output before it had been handed that telegram, which
// is how long reading the meter waits on the outputs. It records from
// when on is set, want telegrams.
type probe struct {
	on       atomic.Bool
	lat, out []time.Duration
	want     int
	done     chan struct{}
	start    time.Time // when the first output was handed the telegram
}

func (p *probe) Reading(r *live.Reading) {
	if !p.on.Load() || len(p.lat) == p.want {
		return
	}
	now := time.Now()
	p.lat = append(p.lat, now.Sub(r.Received))
	p.out = append(p.out, now.Sub(p.start))
	if len(p.lat) == p.want {
		close(p.done)
	}
}

// starter is the first output: it notes when the loop begins handing a
// telegram to the outputs.
type starter struct{ p *probe }

func (s starter) Reading(*live.Reading)         { s.p.start = time.Now() }
func (s starter) Link(live.LinkState)           {}
func (s starter) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (p *probe) Link(live.LinkState)            {}
func (p *probe) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// BenchmarkReaderLatency is the reader's latency through the live loop:
// from a telegram leaving the source to it being handed to every output,
// one telegram every 10 ms (a thousand times a real meter's pace).
// "baseline" has no output but the probe; "gateway" has the DSMR feed
// with 50 clients reading and one that never does, and HTTP with 20 event
// streams and a scrape every second, the clients in a process of their
// own. It reports the 50th and 99th percentiles and the largest, in
// microseconds, and the 99th percentile of the hand-over alone (the
// outputs' Reading calls, without the loop's own hand-off from its
// reading goroutine). Run it as:
//
//	go test -run '^$' -bench ReaderLatency -benchtime 1000x ./cmd/SmartyGateway
func BenchmarkReaderLatency(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchLatency(b, false) })
	b.Run("gateway", func(b *testing.B) { benchLatency(b, true) })
}

func benchLatency(b *testing.B, loaded bool) {
	const pace = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &probe{want: b.N, done: make(chan struct{})}
	loop := live.NewLoop(newPacedSource(pace), live.LoopConfig{Device: "bench"})
	loop.Add(starter{p})
	var feed *dsmrfeed.Server
	var web *httpapi.Server
	if loaded {
		var err error
		if feed, err = dsmrfeed.Listen(dsmrfeed.Config{Addr: "127.0.0.1:0", MaxClients: 100}); err != nil {
			b.Fatal(err)
		}
		if web, err = httpapi.Listen(httpapi.Config{Addr: "127.0.0.1:0", Collectors: []prometheus.Collector{feed.Collector()}}); err != nil {
			b.Fatal(err)
		}
		loop.Add(feed)
		loop.Add(web)
	}
	loop.Add(p)
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	if loaded {
		// The clients are another process, as they are in life: the
		// test binary run as TestBenchClients.
		clients := exec.Command(os.Args[0], "-test.run", "^TestBenchClients$")
		clients.Env = append(os.Environ(), "SMARTY_BENCH_DSMR="+feed.Addr().String(), "SMARTY_BENCH_HTTP="+web.Addr().String())
		stdin, err := clients.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		clients.Stderr = os.Stderr
		if err := clients.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			stdin.Close() // the helper ends when its standard input does
			clients.Wait()
		}()
		for feed.Stats().Clients < 51 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the event streams
	}
	b.ReportAllocs()
	b.ResetTimer()
	p.on.Store(true)
	select {
	case <-p.done:
	case err := <-done:
		b.Fatal(err)
	}
	b.StopTimer()
	cancel()
	<-done
	pct := func(d []time.Duration, q float64) float64 {
		d = slices.Clone(d)
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(float64(len(d))*q))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(p.lat, .5), "p50-µs")
	b.ReportMetric(pct(p.lat, .99), "p99-µs")
	b.ReportMetric(pct(p.lat, 1), "max-µs")
	b.ReportMetric(pct(p.out, .99), "handover-p99-µs")
}

// TestBenchClients is not a test: BenchmarkReaderLatency runs the test
// binary with it as its clients' process. It connects 50 DSMR clients that
// read, one that never does, 20 event streams and a scrape every second
// to the addresses in the environment, and ends when its standard input
// does.
func TestBenchClients(t *testing.T) {
	dsmrAddr, httpAddr := os.Getenv("SMARTY_BENCH_DSMR"), os.Getenv("SMARTY_BENCH_HTTP")
	if dsmrAddr == "" {
		t.Skip("the clients of BenchmarkReaderLatency")
	}
	for range 50 {
		c, err := net.Dial("tcp", dsmrAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go io.Copy(io.Discard, c)
	}
	stuck, err := dialSmallWindow(dsmrAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	for range 20 {
		resp, err := http.Get("http://" + httpAddr + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		go io.Copy(io.Discard, resp.Body)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if resp, err := http.Get("http://" + httpAddr + "/metrics"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}
