package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies and browsers keep it open and a dead client is noticed.
const keepAlive = 30 * time.Second

// eventHub hands each event to every open event stream without waiting
// for any: each stream has a queue, and what does not fit is dropped for
// that stream and counted.
type eventHub struct {
	s       *Server
	mu      sync.Mutex
	streams map[*stream]struct{}
	closed  bool
	wg      sync.WaitGroup

	dropped atomic.Int64 // events dropped for streams that did not keep up
	stalled atomic.Int64 // streams closed because a write did not finish
	total   atomic.Int64 // streams opened
}

type stream struct {
	queue chan []byte
	gone  chan struct{} // closed to end the stream
	once  sync.Once
}

func (st *stream) end() { st.once.Do(func() { close(st.gone) }) }

func (h *eventHub) init(s *Server) {
	h.s = s
	h.streams = map[*stream]struct{}{}
}

// telegram sends r's event to every stream.
func (h *eventHub) telegram(r *reading) { h.send(r.event) }

// link sends a "link" event.
func (h *eventHub) link(up bool) {
	h.send(fmt.Appendf(nil, "event: link\ndata: {\"up\":%t}\n\n", up))
}

func (h *eventHub) send(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		select {
		case st.queue <- b:
		default:
			h.dropped.Add(1)
		}
	}
}

// open registers a new stream, or returns nil when there are too many or
// the hub is closed.
func (h *eventHub) open() *stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.streams) >= h.s.cfg.MaxEventClients {
		return nil
	}
	st := &stream{queue: make(chan []byte, h.s.cfg.EventQueue), gone: make(chan struct{})}
	h.streams[st] = struct{}{}
	h.wg.Add(1)
	h.total.Add(1)
	return st
}

func (h *eventHub) close(st *stream) {
	h.mu.Lock()
	delete(h.streams, st)
	h.mu.Unlock()
	st.end()
	h.wg.Done()
}

// count returns the number of open streams.
func (h *eventHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// closeAll ends every stream and refuses new ones.
func (h *eventHub) closeAll() {
	h.mu.Lock()
	h.closed = true
	for st := range h.streams {
		st.end()
	}
	h.mu.Unlock()
}

// wait waits until every stream's handler has returned.
func (h *eventHub) wait() { h.wg.Wait() }

// serve is the handler of /api/events.
func (h *eventHub) serve(w http.ResponseWriter, r *http.Request) {
	st := h.open()
	if st == nil {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many event streams open", http.StatusServiceUnavailable)
		return
	}
	defer h.close(st)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		rc.SetWriteDeadline(time.Now().Add(h.s.cfg.StallTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write([]byte("retry: 5000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var err error
		select {
		case b := <-st.queue:
			err = write(b)
		case <-tick.C:
			err = write([]byte(": keep-alive\n\n"))
		case <-st.gone:
			return
		case <-r.Context().Done():
			return
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				h.stalled.Add(1)
				h.s.log.Warn(fmt.Sprintf("HTTP: closed the event stream of %s: it took no data for %s", r.RemoteAddr, h.s.cfg.StallTimeout))
			}
			return
		}
	}
}
