package simserve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/flagenv"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Flags are SmartySimulator's flags for the meter's frames and where they
// go: -plain, -counter, -interval, -count, -seed, -start, -pty, -listen
// and -o. The key flags are the command's (cli.KeyFlags), the household's
// load sim's (sim.AddFlags).
type Flags struct {
	Plain    bool
	counter  uint
	interval time.Duration
	count    int
	seed     uint64
	start    string
	pty      bool
	listen   string
	out      string

	fs *flag.FlagSet // for flagenv.Name
}

// AddFlags adds the flags to fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.BoolVar(&f.Plain, "plain", false, "send plain telegrams, as a meter whose encryption is switched off")
	fs.UintVar(&f.counter, "counter", 1, "frame `counter` of the first frame")
	fs.DurationVar(&f.interval, "interval", 10*time.Second, "time between frames (0: as fast as the output takes them);\nalso the step of the meter's clock")
	fs.IntVar(&f.count, "count", 0, "send `n` frames, then stop (0: forever)")
	fs.Uint64Var(&f.seed, "seed", 1, "a `number` that decides the meter's identity and readings: the same seed gives the same telegrams")
	fs.StringVar(&f.start, "start", "", "`time` of the first telegram, RFC 3339 (default now)")
	fs.BoolVar(&f.pty, "pty", false, "create a pseudo-terminal and send the frames to it, like a P1 cable (Linux, macOS)")
	fs.StringVar(&f.listen, "listen", "", "serve the frames to TCP clients on `addr` (host:port, :2001), like a network P1 adapter")
	fs.StringVar(&f.out, "o", "", "write -count frames back to back to `file`, as fast as possible: a dump")
	return f
}

// Simulator is a meter and where its frames go, as the flags say.
type Simulator struct {
	gen      *Generator
	interval time.Duration
	pty      bool
	listen   string
	out      string
	outFlag  string // how messages name -o: "-o", or "$SMARTY_O"
	desc     string
}

// Simulator checks the flags and returns the Simulator they describe.
// household is the meter's Config as sim's flags made it (Seed, Start
// and Step are set here); c is the cipher, nil with -plain. Its errors
// are mistakes on the command line, each naming its flag.
func (f *Flags) Simulator(household sim.Config, c *smarty.Cipher) (*Simulator, error) {
	if f.count < 0 {
		return nil, fmt.Errorf("-count %d: must be 0 or more", f.count)
	}
	outputs := 0
	for _, set := range []bool{f.pty, f.listen != "", f.out != ""} {
		if set {
			outputs++
		}
	}
	if outputs > 1 {
		return nil, errors.New("choose one output: -pty, -listen or -o")
	}
	if f.out != "" && f.count == 0 {
		return nil, errors.New("-o needs -count N: a dump without end would fill the disk")
	}
	if f.counter > 0xFFFFFFFF {
		return nil, fmt.Errorf("-counter %d: a frame counter is at most 4294967295", f.counter)
	}
	if f.interval < 0 {
		return nil, fmt.Errorf("-interval %v: must be 0 or more", f.interval)
	}
	start := time.Now().Truncate(time.Second)
	if f.start != "" {
		t, err := time.Parse(time.RFC3339, f.start)
		if err != nil {
			return nil, fmt.Errorf("-start %q: want a time like 2025-06-02T06:00:00+02:00", f.start)
		}
		start = t
	}
	step := f.interval
	if step == 0 {
		step = 10 * time.Second
	}
	household.Seed, household.Start, household.Step = f.seed, start, step
	meter := sim.New(household)
	framer := &sim.Framer{SystemTitle: sim.SystemTitle(f.seed), Counter: uint32(f.counter), Cipher: c}
	s := &Simulator{
		gen:      &Generator{Meter: meter, Framer: framer, Count: f.count},
		interval: f.interval,
		pty:      f.pty,
		listen:   f.listen,
		out:      f.out,
		outFlag:  flagenv.Name(f.fs, "o"),
		desc:     fmt.Sprintf("meter %s, system title %s, frame counter from %d", meter.MeterID(), framer.SystemTitle, framer.Counter),
	}
	if c == nil {
		s.desc = fmt.Sprintf("meter %s, plain telegrams", meter.MeterID())
	}
	return s, nil
}

// FlagError is an error of Run that comes from the command line: the -o
// file cannot be created, -listen cannot listen. Its text starts with the
// flag.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *FlagError) Unwrap() error { return e.Err }

// Run sends the frames where the flags said until -count or ctx is done:
// with -pty and -listen the first line on stdout is where to read them
// (the terminal's path, tcp://host:port); without an output flag the
// frames themselves go to stdout. A *FlagError means the output named on
// the command line cannot be used.
func (s *Simulator) Run(ctx context.Context, stdout io.Writer, log *slog.Logger) error {
	log = orDiscard(log)
	switch {
	case s.out != "":
		log.Info(fmt.Sprintf("%s: writing %d frames to %s", s.desc, s.gen.Count, s.out))
		err := WriteFile(ctx, s.out, s.gen)
		if err != nil && s.gen.Sent() == 0 {
			return &FlagError{fmt.Errorf("%s: %w", s.outFlag, err)}
		}
		return err
	case s.pty:
		err := ServePTY(ctx, s.gen, s.interval, log, func(path string) error {
			log.Info(fmt.Sprintf("%s: sending to %s every %v", s.desc, path, s.interval))
			_, err := fmt.Fprintln(stdout, path)
			return err
		})
		if err != nil && s.gen.Sent() == 0 {
			return fmt.Errorf("%w (-pty needs Linux or macOS; use -listen elsewhere)", err)
		}
		return err
	case s.listen != "":
		ln, err := net.Listen("tcp", s.listen)
		if err != nil {
			return &FlagError{fmt.Errorf("-listen %s: %w", s.listen, err)}
		}
		if _, err := fmt.Fprintf(stdout, "tcp://%s\n", ln.Addr()); err != nil {
			ln.Close()
			return err
		}
		log.Info(fmt.Sprintf("%s: serving tcp://%s every %v", s.desc, ln.Addr(), s.interval))
		return NewTCPServer(ln, log).Serve(ctx, s.gen, s.interval)
	}
	log.Info(fmt.Sprintf("%s: writing to standard output", s.desc))
	return Pace(ctx, s.gen, s.interval, log, func(frame []byte) error {
		_, err := stdout.Write(frame)
		return err
	})
}
