package mqttpub

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
)

// redactURL returns s with the user information of its authority (a user
// name and password: tcp://user:pw@host) replaced by "xxxxx", for
// messages. It works on strings that do not parse as URLs too.
func redactURL(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	rest := s[start:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + "xxxxx" + rest[at:]
}

// secretsOf returns the passwords a Publisher holds, to scrub from its
// messages: the configured one and one in the broker URL. Passwords
// shorter than 4 bytes are left out: replacing them everywhere would
// garble every message.
func secretsOf(cfg *Config, broker string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	add(cfg.Password)
	if u, err := url.Parse(broker); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
			add(url.QueryEscape(pw))
		}
	}
	return out
}

// scrubLogger returns a logger that writes through l with every secret in
// messages and attributes replaced by "xxxxx": a safety net under the
// redaction of URLs, should a message from a library repeat one.
func scrubLogger(l *slog.Logger, secrets []string) *slog.Logger {
	if len(secrets) == 0 {
		return l
	}
	return slog.New(&scrubHandler{h: l.Handler(), secrets: secrets})
}

type scrubHandler struct {
	h       slog.Handler
	secrets []string
}

func (s *scrubHandler) scrub(v string) string {
	for _, secret := range s.secrets {
		v = strings.ReplaceAll(v, secret, "xxxxx")
	}
	return v
}

func (s *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, s.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.scrubAttr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s *scrubHandler) scrubAttr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindGroup:
		g := a.Value.Group()
		attrs := make([]slog.Attr, len(g))
		for i := range g {
			attrs[i] = s.scrubAttr(g[i])
		}
		a.Value = slog.GroupValue(attrs...)
	case slog.KindString:
		a.Value = slog.StringValue(s.scrub(a.Value.String()))
	default:
		if v := a.Value.String(); s.scrub(v) != v {
			a.Value = slog.StringValue(s.scrub(v))
		}
	}
	return a
}

func (s *scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for i := range attrs {
		attrs[i] = s.scrubAttr(attrs[i])
	}
	return &scrubHandler{h: s.h.WithAttrs(attrs), secrets: s.secrets}
}

func (s *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{h: s.h.WithGroup(name), secrets: s.secrets}
}

// plainCredentials returns a warning when a user name or password would
// travel unencrypted (tcp://, ws://) to a broker that is not on this
// machine, "" otherwise.
func plainCredentials(cfg *Config, broker string) string {
	u, err := url.Parse(broker)
	if err != nil || usesTLS(broker) {
		return ""
	}
	if cfg.Username == "" && cfg.Password == "" && u.User == nil {
		return ""
	}
	if isLoopback(u.Hostname()) {
		return ""
	}
	return fmt.Sprintf("the broker's user name and password go to %s unencrypted (%s://): anyone on the network in between can read them; use ssl:// (TLS) or wss://, or a broker on this machine",
		redactURL(broker), u.Scheme)
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
