package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
)

var loadFlag = flag.Bool("load", false, "run the load test (TestLoad)")

// scrape reads the gateway's /metrics and returns the value of each
// sample without labels, by name.
func scrape(c *http.Client, addr string) (map[string]float64, error) {
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// arrivals records when each client got each telegram.
type arrivals struct {
	mu sync.Mutex
	at map[int][]time.Time // telegram index (or event id) -> arrival times
}

func (a *arrivals) add(k int, t time.Time) {
	a.mu.Lock()
	a.at[k] = append(a.at[k], t)
	a.mu.Unlock()
}

// spreads returns, per telegram that all n clients got, the time between
// the first and the last to get it, sorted; and how many telegrams some
// client missed.
func (a *arrivals) spreads(n int) (s []time.Duration, incomplete int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ts := range a.at {
		if len(ts) != n {
			incomplete++
			continue
		}
		lo, hi := ts[0], ts[0]
		for _, t := range ts {
			if t.Before(lo) {
				lo = t
			}
			if t.After(hi) {
				hi = t
			}
		}
		s = append(s, hi.Sub(lo))
	}
	slices.Sort(s)
	return s, incomplete
}

func percentile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestLoad: 50 DSMR clients, 20 event streams and a scrape every second,
// with one DSMR client that never reads, on a meter sending every 100 ms
// (100 times the pace of a real one). Every reading client gets every
// telegram, none later than 1 s after the first client got it (the
// spreads are logged), the gateway's resident memory stays under 20 MiB,
// and its goroutines return to their count once the clients have left.
func TestLoad(t *testing.T) {
	if !*loadFlag {
		t.Skip("the load test runs with -load (.ci/run runs it)")
	}
	const (
		interval   = 100 * time.Millisecond
		dsmrCount  = 50
		eventCount = 20
		loadFor    = 6 * time.Second
	)
	plain, _ := simTelegrams(t, interval, 4000)
	index := map[string]int{}
	for i, p := range plain {
		index[string(p)] = i
	}
	device := startSimulator(t, interval)
	g := startGateway(t, device)
	scraper := &http.Client{Timeout: 10 * time.Second}
	var base map[string]float64
	clienttest.Eventually(t, 30*time.Second, "telegrams flowing", func() bool {
		m, err := scrape(scraper, g.http)
		base = m
		return err == nil && m["smarty_up"] == 1
	})
	goroutines0 := base["go_goroutines"]

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var conns []io.Closer
	var mu sync.Mutex
	keep := func(c io.Closer) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	errs := make(chan error, dsmrCount+eventCount+1)

	// The client that never reads, with a small receive window so that
	// the gateway's writes to it block soon.
	stuck, err := dialSmallWindow(g.dsmr)
	if err != nil {
		t.Fatal(err)
	}
	keep(stuck)

	var dsmrArr, eventArr = &arrivals{at: map[int][]time.Time{}}, &arrivals{at: map[int][]time.Time{}}
	var measuring sync.WaitGroup // open while not every client is connected
	measuring.Add(dsmrCount + eventCount)
	connected := make(chan struct{})
	go func() { measuring.Wait(); close(connected) }()
	measure := func() bool {
		select {
		case <-connected:
			return true
		default:
			return false
		}
	}
	for range dsmrCount {
		c, err := net.Dial("tcp", g.dsmr)
		if err != nil {
			t.Fatal(err)
		}
		keep(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			measuring.Done()
			r := bufio.NewReaderSize(c, 4096)
			var prev = -1
			for {
				tg, err := readTelegram(r)
				if err != nil {
					return // closed at the end
				}
				now := time.Now()
				k, ok := index[string(tg)]
				if !ok {
					errs <- fmt.Errorf("a DSMR client got a telegram the simulator did not send")
					return
				}
				if prev >= 0 && k != prev+1 {
					errs <- fmt.Errorf("a DSMR client got telegram %d after %d", k, prev)
					return
				}
				prev = k
				if measure() {
					dsmrArr.add(k, now)
				}
			}
		}()
	}
	for range eventCount {
		resp, err := http.Get("http://" + g.http + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		keep(resp.Body)
		wg.Add(1)
		go func() {
			defer wg.Done()
			measuring.Done()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			prev := -1
			for sc.Scan() {
				id, ok := strings.CutPrefix(sc.Text(), "id: ")
				if !ok {
					continue
				}
				k, _ := strconv.Atoi(id)
				if prev >= 0 && k != prev+1 {
					errs <- fmt.Errorf("an event stream got event %d after %d", k, prev)
					return
				}
				prev = k
				if measure() {
					eventArr.add(k, time.Now())
				}
			}
		}()
	}
	// A scrape every second, keeping the largest resident memory.
	var maxRSS, maxHeap, maxStack, dropped float64
	var scrapes int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			m, err := scrape(scraper, g.http)
			if err != nil {
				errs <- fmt.Errorf("scrape: %v", err)
				return
			}
			mu.Lock()
			maxRSS = max(maxRSS, m["process_resident_memory_bytes"])
			maxHeap = max(maxHeap, m["go_memstats_heap_inuse_bytes"])
			maxStack = max(maxStack, m["go_memstats_stack_inuse_bytes"])
			dropped = m["smarty_dsmr_feed_dropped_total"]
			scrapes++
			mu.Unlock()
		}
	}()

	<-connected
	time.Sleep(loadFor)
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.Cmd.Process.Pid)); err == nil {
		for l := range strings.Lines(string(status)) {
			if strings.HasPrefix(l, "Rss") || strings.HasPrefix(l, "VmHWM") {
				t.Logf("gateway under load: %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	// Stop measuring a little before the clients close, so that every
	// telegram measured had time to reach them all.
	close(stop)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	ds, dIncomplete := dsmrArr.spreads(dsmrCount)
	es, eIncomplete := eventArr.spreads(eventCount)
	// Telegrams that arrived in the last 500 ms may be incomplete; more
	// than a few means some client missed some.
	late := time.Second
	t.Logf("%d telegrams to %d DSMR clients: spread p50 %s, p99 %s, max %s (%d not at every client by the end)",
		len(ds), dsmrCount, percentile(ds, .5), percentile(ds, .99), percentile(ds, 1), dIncomplete)
	t.Logf("%d events to %d event streams: spread p50 %s, p99 %s, max %s (%d not at every stream by the end)",
		len(es), eventCount, percentile(es, .5), percentile(es, .99), percentile(es, 1), eIncomplete)
	t.Logf("%d scrapes; resident memory at most %.1f MiB (heap in use %.1f MiB, stacks %.1f MiB); %v telegrams dropped for the client that never reads",
		scrapes, maxRSS/(1<<20), maxHeap/(1<<20), maxStack/(1<<20), dropped)
	if len(ds) < int(loadFor/interval)/2 || len(es) < int(loadFor/interval)/2 {
		t.Errorf("too few telegrams measured: %d and %d", len(ds), len(es))
	}
	if dIncomplete > 20 || eIncomplete > 20 {
		t.Errorf("%d telegrams and %d events did not reach every client", dIncomplete, eIncomplete)
	}
	if m := percentile(ds, 1); m > late {
		t.Errorf("a telegram reached a DSMR client %s after the first", m)
	}
	if m := percentile(es, 1); m > late {
		t.Errorf("an event reached a stream %s after the first", m)
	}
	if maxRSS == 0 || maxRSS > 20<<20 {
		t.Errorf("resident memory %.1f MiB, want under 20 MiB", maxRSS/(1<<20))
	}
	var goroutines float64
	clienttest.Eventually(t, 20*time.Second, fmt.Sprintf("goroutines back to %v", goroutines0), func() bool {
		m, err := scrape(scraper, g.http)
		goroutines = m["go_goroutines"]
		return err == nil && goroutines == goroutines0
	})
	if status := g.stop(t); status != 0 {
		t.Errorf("exit status %d: %s", status, g.Stderr.Bytes())
	}
}

// readTelegram reads one telegram, '/' to the line end after the CRC.
func readTelegram(r *bufio.Reader) ([]byte, error) {
	var b []byte
	for {
		line, err := r.ReadBytes('\n')
		b = append(b, line...)
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(line, []byte("!")) {
			return b, nil
		}
	}
}
