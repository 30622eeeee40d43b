// SmartySimulator is a software Smarty meter, for everyone without one and
// for the tests: it sends full-readout telegrams with readings that move
// like a household's, encrypted with -key or plain with -plain, one every
// -interval.
//
//	SmartySimulator -key KEY -pty              # a serial port to open
//	SmartySimulator -key KEY -listen :2001     # a network P1 adapter
//	SmartySimulator -key KEY -o dump.bin -count 1000
//
// With -pty the first line on standard output is the path of the
// pseudo-terminal to give OnlineDecryption as -device; with -listen it is
// the tcp:// address. Without an output flag the frames go to standard
// output.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"github.com/golang/glog"
	"golang.org/x/term"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
)

func main() { cli.Main(run) }

const name = "SmartySimulator"

type options struct {
	plain    bool
	counter  uint
	interval time.Duration
	count    int
	seed     uint64
	start    string
	pty      bool
	listen   string
	out      string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -plain] [-pty | -listen ADDR | -o FILE] [-interval 10s] [-count N]\n\n"+
		"A software Smarty meter. With -pty the first line of standard output is the\n"+
		"pseudo-terminal to open (OnlineDecryption -device PATH), with -listen the tcp://\n"+
		"address; without an output flag the frames go to standard output.", stdout, stderr)
	keys := cli.AddKeyFlags(fset, false)
	var o options
	fset.BoolVar(&o.plain, "plain", false, "send plain telegrams, as a meter whose encryption is switched off")
	fset.UintVar(&o.counter, "counter", 1, "frame `counter` of the first frame")
	fset.DurationVar(&o.interval, "interval", 10*time.Second, "time between frames (0: as fast as the output takes them);\nalso the step of the meter's clock")
	fset.IntVar(&o.count, "count", 0, "send `n` frames, then stop (0: forever)")
	fset.Uint64Var(&o.seed, "seed", 1, "a `number` that decides the meter's identity and readings: the same seed gives the same telegrams")
	fset.StringVar(&o.start, "start", "", "`time` of the first telegram, RFC 3339 (default now)")
	fset.BoolVar(&o.pty, "pty", false, "create a pseudo-terminal and send the frames to it, like a P1 cable (Linux, macOS)")
	fset.StringVar(&o.listen, "listen", "", "serve the frames to TCP clients on `addr` (host:port, :2001), like a network P1 adapter")
	fset.StringVar(&o.out, "o", "", "write -count frames back to back to `file`, as fast as possible: a dump")
	household := sim.AddFlags(fset)
	if err := cli.Parse(fset, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fset); err != nil {
		return err
	}
	if err := cli.CheckCount(o.count); err != nil {
		return err
	}
	outputs := 0
	for _, set := range []bool{o.pty, o.listen != "", o.out != ""} {
		if set {
			outputs++
		}
	}
	if outputs > 1 {
		return cli.Usagef("choose one output: -pty, -listen or -o")
	}
	if o.out != "" && o.count == 0 {
		return cli.Usagef("-o needs -count N: a dump without end would fill the disk")
	}
	if o.counter > 0xFFFFFFFF {
		return cli.Usagef("-counter %d: a frame counter is at most 4294967295", o.counter)
	}
	if o.interval < 0 {
		return cli.Usagef("-interval %v: must be 0 or more", o.interval)
	}
	start := time.Now().Truncate(time.Second)
	if o.start != "" {
		t, err := time.Parse(time.RFC3339, o.start)
		if err != nil {
			return cli.Usagef("-start %q: want a time like 2025-06-02T06:00:00+02:00", o.start)
		}
		start = t
	}

	framer := &sim.Framer{SystemTitle: sim.SystemTitle(o.seed), Counter: uint32(o.counter)}
	if !o.plain {
		c, err := keys.Cipher()
		if err != nil {
			return err
		}
		if c == nil {
			return cli.Usagef("give the key to encrypt with (-key, -keyFile or $%s), or -plain", cli.KeyEnv)
		}
		framer.Cipher = c
	} else if keys.Key != "" || keys.KeyFile != "" {
		return cli.Usagef("-plain sends unencrypted telegrams: leave out the key")
	}
	step := o.interval
	if step == 0 {
		step = 10 * time.Second
	}
	cfg, err := household.Config()
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	cfg.Seed, cfg.Start, cfg.Step = o.seed, start, step
	meter := sim.New(cfg)
	g := &generator{meter: meter, framer: framer, count: o.count}

	desc := fmt.Sprintf("meter %s, system title %s, frame counter from %d", meter.MeterID(), framer.SystemTitle, framer.Counter)
	if o.plain {
		desc = fmt.Sprintf("meter %s, plain telegrams", meter.MeterID())
	}
	switch {
	case o.out != "":
		glog.Infof("%s: writing %d frames to %s", desc, o.count, o.out)
		return writeFile(ctx, o.out, g)
	case o.pty:
		return servePTY(ctx, g, o.interval, stdout, desc)
	case o.listen != "":
		return serveTCP(ctx, g, o.interval, o.listen, stdout, desc)
	}
	glog.Infof("%s: writing to standard output", desc)
	return pace(ctx, g, o.interval, func(frame []byte) error {
		_, err := stdout.Write(frame)
		return err
	})
}

// generator makes the frames, up to count (0: no end).
type generator struct {
	meter    *sim.Meter
	framer   *sim.Framer
	count    int
	sent     int
	telegram []byte
	frame    []byte
}

// next returns the next frame, valid until the next call; io.EOF after
// count frames.
func (g *generator) next() ([]byte, error) {
	if g.count > 0 && g.sent == g.count {
		return nil, io.EOF
	}
	g.telegram = g.meter.AppendTelegram(g.telegram[:0])
	var err error
	g.frame, err = g.framer.AppendFrame(g.frame[:0], g.telegram)
	if err != nil {
		return nil, err
	}
	g.sent++
	return g.frame, nil
}

// pace sends a frame every interval, the first one at once, until the
// generator ends or ctx is done.
func pace(ctx context.Context, g *generator, interval time.Duration, send func([]byte) error) error {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		frame, err := g.next()
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
		glog.V(2).Infof("sent frame %d (%d bytes)", g.sent, len(frame))
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

func writeFile(ctx context.Context, path string, g *generator) error {
	f, err := os.Create(path)
	if err != nil {
		return cli.Usagef("-o: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	err = pace(ctx, g, 0, func(frame []byte) error {
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

// servePTY sends the frames into a new pseudo-terminal, whose other end
// behaves like the serial port of a P1 cable.
func servePTY(ctx context.Context, g *generator, interval time.Duration, stdout io.Writer, desc string) error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("creating a pseudo-terminal: %w (-pty needs Linux or macOS; use -listen elsewhere)", err)
	}
	// The simulator keeps the slave open, so that readers may come and go.
	// It is made raw at once: a terminal in its default mode would turn
	// the CR bytes of the frames into LF before the reader sets it up.
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
	if _, err := fmt.Fprintln(stdout, slave.Name()); err != nil {
		return err
	}
	glog.Infof("%s: sending to %s every %v", desc, slave.Name(), interval)
	err = pace(ctx, g, interval, func(frame []byte) error {
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

// serveTCP sends every frame to every connected client, like a network P1
// adapter. A client that cannot keep up loses frames, as it would on a
// real line; it never holds up the others.
func serveTCP(ctx context.Context, g *generator, interval time.Duration, addr string, stdout io.Writer, desc string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return cli.Usagef("-listen %s: %w", addr, err)
	}
	defer ln.Close()
	if _, err := fmt.Fprintf(stdout, "tcp://%s\n", ln.Addr()); err != nil {
		return err
	}
	glog.Infof("%s: serving tcp://%s every %v", desc, ln.Addr(), interval)

	var (
		mu      sync.Mutex
		clients = map[chan []byte]struct{}{}
		closed  bool // no more clients
		conns   sync.WaitGroup
	)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			ch := make(chan []byte, 8)
			mu.Lock()
			if closed {
				mu.Unlock()
				conn.Close()
				return
			}
			clients[ch] = struct{}{}
			conns.Add(1)
			mu.Unlock()
			glog.Infof("client %s connected", conn.RemoteAddr())
			go func() {
				defer conns.Done()
				defer conn.Close()
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				defer stop()
				for frame := range ch {
					conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
					if _, err := conn.Write(frame); err != nil {
						glog.Infof("client %s gone: %v", conn.RemoteAddr(), err)
						for range ch {
							// Drop the frames until the sender closes ch.
						}
						return
					}
				}
			}()
		}
	}()
	err = pace(ctx, g, interval, func(frame []byte) error {
		mu.Lock()
		defer mu.Unlock()
		for ch := range clients {
			select {
			case ch <- append([]byte(nil), frame...):
			default:
				glog.Warningf("a client is too slow: frame dropped")
			}
		}
		return nil
	})
	// The clients get the frames already queued for them, then are
	// closed.
	mu.Lock()
	closed = true
	for ch := range clients {
		close(ch)
	}
	clients = nil
	mu.Unlock()
	ln.Close()
	<-accepted
	conns.Wait()
	return err
}

// tcpWriteTimeout bounds the time one frame may take to reach a client.
const tcpWriteTimeout = 10 * time.Second
