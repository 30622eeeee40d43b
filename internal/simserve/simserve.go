// Package simserve runs a simulated Smarty meter (internal/sim) the way a
// real one is reached: a pseudo-terminal like a P1 cable, a TCP server
// like a network P1 adapter, a dump file, or a stream of bytes. It is the
// body of SmartySimulator, and what tests use as a meter.
package simserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
)

// Generator makes a simulated meter's frames, up to Count (0: no end).
type Generator struct {
	Meter  *sim.Meter
	Framer *sim.Framer
	Count  int

	sent     int
	telegram []byte
	frame    []byte
}

// Next returns the next frame, valid until the next call; io.EOF after
// Count frames.
func (g *Generator) Next() ([]byte, error) {
	if g.Count > 0 && g.sent == g.Count {
		return nil, io.EOF
	}
	g.telegram = g.Meter.AppendTelegram(g.telegram[:0])
	var err error
	g.frame, err = g.Framer.AppendFrame(g.frame[:0], g.telegram)
	if err != nil {
		return nil, err
	}
	g.sent++
	return g.frame, nil
}

// Sent returns how many frames Next has returned.
func (g *Generator) Sent() int { return g.sent }

// Pace sends a frame of g every interval (0: as fast as send returns), the
// first one at once, until g ends or ctx is done; both are a clean end
// (nil). send gets a frame that is valid only during the call.
func Pace(ctx context.Context, g *Generator, interval time.Duration, log *slog.Logger, send func([]byte) error) error {
	log = orDiscard(log)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		frame, err := g.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(frame); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		log.Log(ctx, levelTrace, fmt.Sprintf("sent frame %d (%d bytes)", g.sent, len(frame)))
		if tick == nil {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// levelTrace is a line per frame, below slog.LevelDebug.
const levelTrace = slog.LevelDebug - 4

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// WriteFile writes every frame of g back to back to the file path, as
// fast as possible: a dump. g should have a Count.
func WriteFile(ctx context.Context, path string, g *Generator) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	err = Pace(ctx, g, 0, nil, func(frame []byte) error {
		_, err := w.Write(frame)
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ServePTY sends the frames into a new pseudo-terminal, whose other end
// behaves like the serial port of a P1 cable. ready gets the path of that
// end before the first frame. Ctrl-C (ctx) ends it at once, also while a
// write waits for a reader.
func ServePTY(ctx context.Context, g *Generator, interval time.Duration, log *slog.Logger, ready func(path string) error) error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("creating a pseudo-terminal: %w", err)
	}
	// The slave stays open, so that readers may come and go. It is made
	// raw at once: a terminal in its default mode would turn the CR bytes
	// of the frames into LF before the reader sets it up.
	defer slave.Close()
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		master.Close()
		return fmt.Errorf("setting up the pseudo-terminal: %w", err)
	}
	// Nobody may be reading: a write then waits until a reader comes.
	// Ctrl-C must still end it, by closing the master.
	if master, err = pollable(master); err != nil {
		return fmt.Errorf("setting up the pseudo-terminal: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { master.Close() })
	defer func() {
		if stop() {
			master.Close()
		}
	}()
	if err := ready(slave.Name()); err != nil {
		return err
	}
	err = Pace(ctx, g, interval, log, func(frame []byte) error {
		_, err := master.Write(frame)
		return err
	})
	if err == nil && ctx.Err() == nil && interval > 0 {
		// Let the last frame be read before the terminal goes away.
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
	return err
}

// TCPWriteTimeout bounds the time one frame may take to reach a client.
const TCPWriteTimeout = 10 * time.Second

// clientQueue is how many frames wait for a client that is slow to read;
// past it, the client loses frames.
const clientQueue = 8

// TCPServer sends every frame to every connected client, like a network
// P1 adapter. A client that cannot keep up loses frames, as it would on a
// real line; it never holds up the others. A client that leaves takes
// everything it held with it.
type TCPServer struct {
	ln  net.Listener
	log *slog.Logger

	mu      sync.Mutex
	clients map[chan []byte]struct{}
	closed  bool // no more clients
}

// NewTCPServer returns a server of the clients that connect to ln.
func NewTCPServer(ln net.Listener, log *slog.Logger) *TCPServer {
	return &TCPServer{ln: ln, log: orDiscard(log), clients: map[chan []byte]struct{}{}}
}

// Clients returns how many clients are connected.
func (s *TCPServer) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Serve sends the frames of g every interval to the clients until g ends
// or ctx is done, then lets the clients have what was queued for them,
// closes them and the listener, and returns.
func (s *TCPServer) Serve(ctx context.Context, g *Generator, interval time.Duration) error {
	defer s.ln.Close()
	var conns sync.WaitGroup
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		s.accept(ctx, &conns)
	}()
	err := Pace(ctx, g, interval, s.log, s.broadcast)
	// The clients get the frames already queued for them, then are
	// closed.
	s.mu.Lock()
	s.closed = true
	for ch := range s.clients {
		close(ch)
	}
	clear(s.clients)
	s.mu.Unlock()
	s.ln.Close()
	<-accepted
	conns.Wait()
	return err
}

// broadcast queues one copy of frame, shared read-only, for every client.
func (s *TCPServer) broadcast(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clients) == 0 {
		return nil
	}
	shared := append([]byte(nil), frame...)
	for ch := range s.clients {
		select {
		case ch <- shared:
		default:
			s.log.Warn("a client is too slow: frame dropped")
		}
	}
	return nil
}

func (s *TCPServer) accept(ctx context.Context, conns *sync.WaitGroup) {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		ch := make(chan []byte, clientQueue)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.clients[ch] = struct{}{}
		conns.Add(1)
		s.mu.Unlock()
		s.log.Info(fmt.Sprintf("client %s connected", conn.RemoteAddr()))
		go func() {
			defer conns.Done()
			s.send(ctx, conn, ch)
		}()
	}
}

// send writes the frames of ch to conn until ch is closed or a write
// fails; then the client leaves the server at once, with its queue.
func (s *TCPServer) send(ctx context.Context, conn net.Conn, ch chan []byte) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for frame := range ch {
		conn.SetWriteDeadline(time.Now().Add(TCPWriteTimeout))
		if _, err := conn.Write(frame); err != nil {
			s.log.Info(fmt.Sprintf("client %s gone: %v", conn.RemoteAddr(), err))
			s.mu.Lock()
			delete(s.clients, ch)
			s.mu.Unlock()
			return
		}
	}
}
