package dsmrfeed

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
)

// Flags are the DSMR feed's flags of a command (SmartyGateway). Make them
// with AddFlags.
type Flags struct {
	listen, allow string
}

// AddFlags adds -dsmrListen and -dsmrAllow to fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := new(Flags)
	fs.StringVar(&f.listen, "dsmrListen", "", "serve the decrypted telegrams, byte for byte, to DSMR clients (Home Assistant's\nDSMR integration, dsmr-reader, evcc, Node-RED) on this `host:port`; :2001 is this\nmachine only, 0.0.0.0:2001 the network (off when not given)")
	fs.StringVar(&f.allow, "dsmrAllow", "", "with -dsmrListen, accept DSMR clients only from these comma-separated `networks`\n(192.168.1.0/24,fd00::/8; this machine is always allowed)")
	return f
}

// Enabled reports whether -dsmrListen was given.
func (f *Flags) Enabled() bool { return f.listen != "" }

// Config returns the Config of the flags, logging to log. Its errors are
// mistakes on the command line, each naming its flag.
func (f *Flags) Config(log *slog.Logger) (Config, error) {
	cfg := Config{Addr: f.listen, Logger: log}
	if _, err := loopbackDefault(f.listen); err != nil {
		return cfg, fmt.Errorf("-dsmrListen %q: want host:port, such as :2001 (this machine) or 0.0.0.0:2001 (the network)", f.listen)
	}
	for _, s := range strings.Split(f.allow, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// A single address is a network of one.
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return cfg, fmt.Errorf("-dsmrAllow %q: want networks such as 192.168.1.0/24 or single addresses, separated by commas", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.Allow = append(cfg.Allow, p.Masked())
	}
	return cfg, nil
}
