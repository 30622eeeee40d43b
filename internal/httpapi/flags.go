package httpapi

import (
	"flag"
	"fmt"
	"log/slog"
	"time"
)

// Flags are the HTTP flags of a command (SmartyGateway). Make them with
// AddFlags.
type Flags struct {
	addr, user, password string
}

// PasswordEnv is the environment variable of -httpPassword, the way to
// give the password without showing it to the process list.
const PasswordEnv = "SMARTY_HTTP_PASSWORD"

// AddFlags adds -http, -httpUser and -httpPassword to fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := new(Flags)
	fs.StringVar(&f.addr, "http", "", "serve the live page, /metrics (Prometheus) and /api on this `host:port`; :8080 is\nthis machine only, 0.0.0.0:8080 the network (off when not given)")
	fs.StringVar(&f.user, "httpUser", "smarty", "with -httpPassword, the user `name` of HTTP basic authentication")
	fs.StringVar(&f.password, "httpPassword", "", "protect every HTTP route with basic authentication with this `password`;\nvisible to other users in the process list, prefer $"+PasswordEnv)
	return f
}

// Enabled reports whether -http was given.
func (f *Flags) Enabled() bool { return f.addr != "" }

// Config returns the Config of the flags: readings stale after staleAfter
// (the watchdog's timeout; 0 for the default), health from health, logging
// to log. Its errors are mistakes on the command line, each naming its
// flag.
func (f *Flags) Config(staleAfter time.Duration, health func() Health, log *slog.Logger) (Config, error) {
	if _, err := loopbackDefault(f.addr); err != nil {
		return Config{}, fmt.Errorf("-http %q: want host:port, such as :8080 (this machine) or 0.0.0.0:8080 (the network)", f.addr)
	}
	return Config{
		Addr:       f.addr,
		Username:   f.user,
		Password:   f.password,
		StaleAfter: staleAfter,
		Health:     health,
		Logger:     log,
	}, nil
}
