// Package httpapi serves the meter over HTTP: Prometheus metrics, the
// latest telegram as JSON, a stream of Server-Sent Events with one event
// per telegram, and a small live page for a browser.
//
// The routes:
//
//	/              the live page (embedded; works without internet)
//	/metrics       Prometheus text format: every reading, and health
//	/api/telegram  the latest telegram, in the JSON of -format json
//	/api/events    Server-Sent Events: one "message" per telegram (the
//	               same JSON), and a "link" event when the meter falls
//	               silent or comes back
//	/api/live      what the page shows: power now, phases, today's
//	               energy, link health, and with ?history=1 the power of
//	               the last hour
//
// A Server is a live.Output: the live loop gives it each telegram with
// Reading and the link's state with Link; both return at once. Readings are never served stale: when the
// link is reported down, or no telegram came for Config.StaleAfter, the
// readings disappear from /metrics (smarty_up is 0), /api/telegram answers
// 503 and /api/live says up: false.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// Defaults of Config.
const (
	// DefaultStaleAfter is how long readings are served after the last
	// telegram when nothing says the link is down: three times the
	// watchdog's default timeout.
	DefaultStaleAfter = 90 * time.Second
	// DefaultMaxEventClients is how many event streams may be open at
	// once.
	DefaultMaxEventClients = 64
	// DefaultEventQueue is how many events wait for a slow event stream
	// before newer ones are dropped for it.
	DefaultEventQueue = 16
	// DefaultStallTimeout is how long one write to an event stream may
	// take before the stream is closed.
	DefaultStallTimeout = time.Minute
)

// Config says where a Server listens and what it serves.
type Config struct {
	// Addr is the address to listen on, host:port. An empty host
	// (":8080") means the loopback interface; to serve other machines
	// name their interface or 0.0.0.0. Port 0 picks a free port.
	Addr string
	// Username and Password, when Password is not empty, protect every
	// route with HTTP basic authentication.
	Username, Password string
	// StaleAfter is how long after the last telegram its readings are
	// still served; DefaultStaleAfter when 0.
	StaleAfter time.Duration
	// Health, when not nil, gives the link's counts for /metrics and the
	// page. It is called at each scrape and page update, from any
	// goroutine.
	Health func() Health
	// Collectors are added to /metrics beside the Server's own.
	Collectors []prometheus.Collector
	// MaxEventClients, EventQueue and StallTimeout bound the event
	// streams; their defaults when 0.
	MaxEventClients int
	EventQueue      int
	StallTimeout    time.Duration
	// Logger gets the server's messages; nil means none.
	Logger *slog.Logger
}

// Health is the state of the link to the meter, as the live loop counts
// it (HealthOf makes it from a Stream's Stats).
type Health struct {
	Telegrams int64 // telegrams decoded
	// Failures counts the frames skipped, by class (auth, truncated,
	// crc, ...: the lower-case names of the library's failure classes).
	Failures     map[string]int64
	CounterGaps  int64 // frame counter gaps
	MissedFrames int64 // frames missed, summed over the gaps
	Reconnects   int64 // times the device was opened again
	// LastTelegram is when the last telegram arrived; zero before the
	// first, or to use the time of the last one given to Reading.
	LastTelegram time.Time
}

// HealthOf returns the Health of a Stream's counts. Failures has every
// class, the ones never seen at 0, so that their counters exist from the
// start.
func HealthOf(st p1.Stats) Health {
	h := Health{
		Telegrams:    st.Telegrams,
		Failures:     make(map[string]int64, len(smarty.Failures())),
		CounterGaps:  st.Tracker.Gaps,
		MissedFrames: st.Tracker.Missed,
		Reconnects:   st.Reconnects(),
		LastTelegram: st.LastTelegram,
	}
	for _, f := range smarty.Failures() {
		h.Failures[f.String()] = st.ByFailure[f]
	}
	return h
}

var _ live.Output = (*Server)(nil)

// reading is one telegram as the Server keeps it: immutable once stored.
type reading struct {
	seq      uint64
	received time.Time
	msg      *smarty.Message
	meterID  string
	quarter  *quarter.Status // nil without -refPower
	json     []byte          // live.Reading.JSON, shared with the other outputs
	event    []byte          // the Server-Sent Event: id, then json as data
}

// Server is the HTTP server. Make it with Listen, start it with Run.
type Server struct {
	cfg     Config
	ln      net.Listener
	log     *slog.Logger
	handler http.Handler
	reg     *prometheus.Registry

	updates chan change  // from Reading and Link to Run's goroutine
	lost    atomic.Int64 // updates dropped from a full queue
	latest  atomic.Pointer[reading]
	down    atomic.Bool // the link was reported down
	seq     atomic.Uint64

	mu      sync.Mutex // guards history and today
	history history
	today   today

	events eventHub
}

//go:embed page
var pageFiles embed.FS

// Listen opens the listening socket of cfg.Addr, so that an address in
// use is an error at once. Serve with Run.
func Listen(cfg Config) (*Server, error) {
	addr, err := loopbackDefault(cfg.Addr)
	if err != nil {
		return nil, err
	}
	network := "tcp"
	if host, _, _ := net.SplitHostPort(addr); host != "" {
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
			network = "tcp4"
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	return New(ln, cfg), nil
}

func loopbackDefault(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("httpapi: listen address %q: want host:port, such as 127.0.0.1:8080 or 0.0.0.0:8080", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// New returns a Server that will serve ln (Listen opens one).
func New(ln net.Listener, cfg Config) *Server {
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.MaxEventClients <= 0 {
		cfg.MaxEventClients = DefaultMaxEventClients
	}
	if cfg.EventQueue <= 0 {
		cfg.EventQueue = DefaultEventQueue
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	s := &Server{cfg: cfg, ln: ln, log: cfg.Logger, updates: make(chan change, updateQueue)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.events.init(s)
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(&collector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cfg.Collectors {
		s.reg.MustRegister(c)
	}

	page, _ := fs.Sub(pageFiles, "page")
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pageHandler(page))
	mux.Handle("GET /app.js", pageHandler(page))
	mux.Handle("GET /style.css", pageHandler(page))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{s.log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /api/telegram", s.serveTelegram)
	mux.HandleFunc("GET /api/live", s.serveLive)
	mux.HandleFunc("GET /api/events", s.events.serve)
	s.handler = s.authenticate(mux)
	return s
}

// Addr returns the address the Server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler returns the Server's routes, with authentication, for serving
// them elsewhere (a test's httptest.Server).
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves HTTP until ctx is done, then closes the event streams and
// the connections, and returns nil once they are closed (at most 5 s for
// requests under way). It returns an error only when serving fails.
func (s *Server) Run(ctx context.Context) error {
	s.announce()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slogLogger(s.log),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := make(chan struct{})
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		s.apply(stop)
	}()
	defer func() {
		close(stop)
		<-applied
	}()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("httpapi: %w", err)
	case <-ctx.Done():
	}
	s.events.closeAll()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpapi: %w", err)
	}
	s.events.wait()
	return nil
}

// announce logs where the Server listens, with a warning when that is
// beyond this machine without a password.
func (s *Server) announce() {
	addr := s.ln.Addr().String()
	a, ok := s.ln.Addr().(*net.TCPAddr)
	switch {
	case !ok || a.IP.IsLoopback():
		s.log.Info(fmt.Sprintf("HTTP: serving the live page, /metrics and /api on http://%s/ (this machine only)", addr))
	case s.cfg.Password == "":
		s.log.Warn(fmt.Sprintf("HTTP: serving the live page, /metrics and /api on %s, beyond this machine and without a password: anyone who can reach it reads the household's meter data", addr))
	default:
		s.log.Info(fmt.Sprintf("HTTP: serving the live page, /metrics and /api on %s, beyond this machine, with basic authentication (without TLS: the password crosses the network in the clear)", addr))
	}
}

// Reading gives the Server a telegram (it is the live.Output's method):
// the Server keeps r and reads it from other goroutines, so r must not
// change after the call. Reading only queues r for Run's goroutine, which
// makes its JSON and hands it to the event streams: the loop that reads
// the meter waits for nothing.
func (s *Server) Reading(r *live.Reading) { s.put(change{r: r}) }

// Link tells the Server the state of the link to the meter (it is the
// live.Output's method). While the meter is silent or its device gone no
// reading is served; the next telegram brings them back. Like Reading, it
// only queues.
func (s *Server) Link(st live.LinkState) { s.put(change{link: st}) }

// change is what Reading and Link hand to Run's goroutine, in order.
type change struct {
	r    *live.Reading // nil for a change of the link
	link live.LinkState
}

// updateQueue is how many updates may wait for Run's goroutine.
const updateQueue = 64

func (s *Server) put(u change) {
	select {
	case s.updates <- u:
	default:
		// Run's goroutine is far behind (or not running): lose the
		// update rather than wait.
		if s.lost.Add(1) == 1 {
			s.log.Warn("HTTP: the server is not keeping up with the meter: dropped a telegram (the page and the metrics may show an older one)")
		}
	}
}

// apply runs the updates until stop is closed.
func (s *Server) apply(stop <-chan struct{}) {
	for {
		select {
		case u := <-s.updates:
			if u.r != nil {
				s.take(u.r)
			} else {
				s.setLink(u.link)
			}
		case <-stop:
			return
		}
	}
}

// take makes lr the latest reading, adds it to the chart and today's
// energy, and sends its event.
func (s *Server) take(lr *live.Reading) {
	m := &lr.Message
	r := &reading{
		seq:      s.seq.Add(1),
		received: lr.Received,
		msg:      m,
		meterID:  lr.MeterID,
		quarter:  lr.Quarter,
	}
	// The JSON is made once for every output (live.Reading.JSON); the
	// event holds a copy.
	r.json = lr.JSON()
	b := make([]byte, 0, len(r.json)+64)
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, r.seq, 10)
	b = append(b, "\ndata: "...)
	b = append(b, r.json...)
	r.event = append(b, "\n\n"...)
	s.latest.Store(r)
	wasDown := s.down.Swap(false)
	s.mu.Lock()
	s.history.add(r)
	s.today.add(r)
	s.mu.Unlock()
	if wasDown {
		s.events.link(true)
	}
	s.events.telegram(r)
}

// setLink records the link's state, and sends a "link" event when the
// link goes down or comes back.
func (s *Server) setLink(st live.LinkState) {
	down := st == live.LinkSilent || st == live.LinkDown
	if s.down.Swap(down) == down {
		return
	}
	s.events.link(!down)
}

// current returns the latest reading if it may be served: the link is not
// down and it is younger than StaleAfter; else nil.
func (s *Server) current() *reading {
	r := s.latest.Load()
	if r == nil || s.down.Load() || time.Since(r.received) > s.cfg.StaleAfter {
		return nil
	}
	return r
}

func (s *Server) health() Health {
	if s.cfg.Health == nil {
		return Health{}
	}
	return s.cfg.Health()
}

func (s *Server) serveTelegram(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r := s.current()
	if r == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"error":"no telegram from the meter in the last %s"}`+"\n", s.cfg.StaleAfter)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(r.json)
	w.Write([]byte{'\n'})
}

// authenticate wraps h with basic authentication when a password is set.
func (s *Server) authenticate(h http.Handler) http.Handler {
	if s.cfg.Password == "" {
		return h
	}
	wantUser := sha256.Sum256([]byte(s.cfg.Username))
	wantPass := sha256.Sum256([]byte(s.cfg.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		u := sha256.Sum256([]byte(user))
		p := sha256.Sum256([]byte(pass))
		if ok && subtle.ConstantTimeCompare(u[:], wantUser[:])&subtle.ConstantTimeCompare(p[:], wantPass[:]) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="smarty", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	})
}

// pageHandler serves the embedded page, with a policy that allows it
// nothing from elsewhere.
func pageHandler(page fs.FS) http.Handler {
	files := http.FileServerFS(page)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("HTTP: /metrics: " + fmt.Sprint(v...)) }

// Close closes the listening socket, for a Server that will not Run
// (Run closes it when it ends).
func (s *Server) Close() error { return s.ln.Close() }
