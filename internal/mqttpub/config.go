package mqttpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config says where and how to publish. The zero value of each field
// means its documented default; Broker must be set.
type Config struct {
	// Broker is the broker's URL: tcp://host:port (or mqtt://), ssl://,
	// tls:// or mqtts:// for TLS, ws:// or wss:// for websockets. A
	// missing port is 1883 (8883 with TLS).
	Broker string
	// TopicRoot is the first part of every topic, "smarty" by default.
	// "{meter}" in it is replaced by the meter id, so that several meters
	// can share a broker: "smarty/{meter}".
	TopicRoot string
	// QoS is the MQTT quality of service, 0, 1 or 2. With 1 or 2 nothing
	// is dropped while the broker is away (up to QueueSize telegrams).
	QoS byte
	// Username and Password authenticate to the broker (a user name and
	// password in Broker's URL do too). Neither is ever logged: URLs in
	// messages have their user information replaced by "xxxxx". Sending
	// them unencrypted (tcp://, ws://) to a host that is not this machine
	// is logged as a warning.
	Username, Password string
	// ClientID is the MQTT client id; "{meter}" in it is replaced by the
	// meter id. Default "smarty-{meter}": stable across restarts and
	// different for every meter.
	ClientID string
	// TLS is the TLS configuration for ssl://, tls://, mqtts:// and
	// wss:// brokers (see LoadTLS); nil means the system's roots.
	TLS *tls.Config
	// NoRetain turns the retain flag off on the value and telegram topics
	// (retained by default). The status and discovery topics are always
	// retained.
	NoRetain bool
	// NoDiscovery turns Home Assistant MQTT discovery off. It is on by
	// default, under DiscoveryPrefix ("homeassistant" by default).
	NoDiscovery     bool
	DiscoveryPrefix string
	// OnlyOnChange publishes a value topic only when its value differs
	// from the last one published, or when Heartbeat has passed since
	// (by the meter's clock of arrival; 0 means never republish an
	// unchanged value). The telegram topic is published every time.
	OnlyOnChange bool
	Heartbeat    time.Duration
	// ExpireAfter is how long Home Assistant shows a reading as current
	// when no new value arrives (the discovery configs' expire_after),
	// whatever the status topics say. 0 means the default: 2 minutes (a
	// dozen telegrams), or Heartbeat plus 2 minutes with OnlyOnChange, and
	// never with OnlyOnChange and no Heartbeat. Negative means never.
	ExpireAfter time.Duration
	// QueueDir, when set, keeps the queue of telegrams waiting for the
	// broker in files in this directory, so that a restart of the
	// program (even a crash) loses none of them. Only one Publisher may
	// use a directory at a time: it is locked. It is created private
	// (mode 0700); a directory that belongs to another user, or that
	// other users can write, is refused. While the disk is full or
	// read-only, telegrams are kept in memory (up to 8640, or QueueSize
	// if smaller) and go to the directory once it works again.
	QueueDir string
	// QueueSize is the most telegrams kept while the broker is away;
	// past it the oldest are dropped. Default 8640 (a day of telegrams
	// at one every 10 s) in memory, 60480 (a week) with QueueDir.
	QueueSize int
	// RetryMin and RetryMax bound the wait between connection attempts,
	// which doubles from RetryMin up to RetryMax (defaults 1 s and 1 min),
	// with some jitter so that many meters do not retry in step.
	RetryMin, RetryMax time.Duration
	// KeepAlive is the MQTT keep-alive interval (default 30 s): a broker
	// that stops answering is noticed within about 1.5 times this.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (default 10 s) and
	// AckTimeout the wait for the broker to acknowledge a telegram's
	// messages (default 30 s) before the connection is dropped and made
	// again.
	ConnectTimeout, AckTimeout time.Duration
	// ConnectAtStart makes Run connect at once rather than when the first
	// telegram is queued: refused credentials or certificates then end Run
	// before any telegram (the meter may be silent for a long time), and
	// the status topic says online while the first telegram is awaited.
	// When the client id carries the meter id, this first connection uses
	// one of its own and gives way to the meter's at the first telegram;
	// when the topic root does, it only checks the broker takes it.
	ConnectAtStart bool
	// Grace is how long Run keeps publishing queued telegrams after its
	// context is cancelled (default 2 s). What is left stays in the
	// queue directory; a telegram whose messages were only partly
	// acknowledged when the time ran out is published again, whole, by
	// the next run.
	Grace time.Duration
	// Advice, when set, says what the user should do about a connection
	// error (which flag to change); it is added to the log line of the
	// failure. The command layer sets it.
	Advice func(error) string
	// Log receives one line for each change of state: connected, lost,
	// reconnected, dropping; Info for normal changes, Warn for trouble.
	// nil means silent.
	Log *slog.Logger
}

// Defaults.
const (
	DefaultTopicRoot       = "smarty"
	DefaultClientID        = "smarty-{meter}"
	DefaultDiscoveryPrefix = "homeassistant"
	MeterPlaceholder       = "{meter}"
)

// DefaultExpireMargin is what the default ExpireAfter allows beyond the
// longest a reading may go without being published again.
const DefaultExpireMargin = 2 * time.Minute

// expireSeconds returns the discovery configs' expire_after in seconds, 0
// for none.
func (c *Config) expireSeconds() int {
	d := c.ExpireAfter
	if d == 0 {
		switch {
		case !c.OnlyOnChange:
			d = DefaultExpireMargin
		case c.Heartbeat > 0:
			d = c.Heartbeat + DefaultExpireMargin
		}
	}
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// RetryDefaults are Config.RetryMin and RetryMax when they are zero, for
// the commands, which do not set them: 1 s doubling up to 1 min. The
// commands' tests shorten them so that a broker's restart is not waited
// for on the clock.
var RetryDefaults = struct{ Min, Max time.Duration }{time.Second, time.Minute}

func (c *Config) setDefaults() {
	if c.TopicRoot == "" {
		c.TopicRoot = DefaultTopicRoot
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.DiscoveryPrefix == "" {
		c.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 8640
		if c.QueueDir != "" {
			c.QueueSize = 60480
		}
	}
	if c.RetryMin <= 0 {
		c.RetryMin = RetryDefaults.Min
	}
	if c.RetryMax <= 0 {
		c.RetryMax = RetryDefaults.Max
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 30 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// tlsSchemes are the URL schemes paho connects to over TLS.
var tlsSchemes = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "mqtt+ssl": true, "tcps": true, "wss": true}

var plainSchemes = map[string]bool{"tcp": true, "mqtt": true, "ws": true}

// ConfigError is a setting of Config that cannot work. Its Problem says
// what is wrong and what would work, naming no command-line flag.
type ConfigError struct {
	// Field is the Config field at fault: "Broker", "QoS", "TLS",
	// "TopicRoot", "DiscoveryPrefix"; for LoadTLS "CAFile", "CertFile" or
	// "KeyFile".
	Field   string
	Problem string
	Err     error // the underlying error, if any
}

func (e *ConfigError) Error() string { return "mqttpub: " + e.Problem }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(field string, err error, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...), Err: err}
}

// ParseBroker checks a broker URL and returns it with the default port
// added when it has none. A user name and password in it are kept (they
// are used to connect) but never shown in its errors.
func ParseBroker(s string) (string, error) {
	if s == "" {
		return "", configErr("Broker", nil, "no broker URL: give one such as tcp://localhost:1883")
	}
	if !strings.Contains(s, "://") {
		s = redactURL(s)
		return "", configErr("Broker", nil, "broker %q has no scheme: write tcp://%s (or ssl://%s for TLS)", s, s, s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", configErr("Broker", err, "broker URL %q does not parse: %v", redactURL(s), errors.Unwrap(err))
	}
	scheme := strings.ToLower(u.Scheme)
	if !tlsSchemes[scheme] && !plainSchemes[scheme] {
		return "", configErr("Broker", nil, "broker URL %q: unknown scheme %q: use tcp://, ssl:// (TLS), ws:// or wss://", redactURL(s), u.Scheme)
	}
	if u.Hostname() == "" {
		return "", configErr("Broker", nil, "broker URL %q has no host name", redactURL(s))
	}
	if u.Port() == "" && (scheme != "ws" && scheme != "wss") {
		port := "1883"
		if tlsSchemes[scheme] {
			port = "8883"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Scheme = scheme
	return u.String(), nil
}

// usesTLS reports whether a broker URL (already checked) speaks TLS.
func usesTLS(broker string) bool {
	scheme, _, _ := strings.Cut(broker, "://")
	return tlsSchemes[strings.ToLower(scheme)]
}

// LoadTLS builds the TLS configuration for a broker from PEM files: the
// certificate authority that signed the broker's certificate (caFile, ""
// for the system's roots), and a client certificate with its key
// (certFile and keyFile, both or neither). It returns nil, nil when all
// three are "".
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, configErr("CAFile", err, "reading the CA certificate: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, configErr("CAFile", nil, "%s holds no PEM certificate (expected a file that starts with -----BEGIN CERTIFICATE-----)", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, configErr("CertFile", err, "loading the client certificate %s and key %s: %v", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case certFile != "":
		return nil, configErr("KeyFile", nil, "a client certificate (%s) needs its private key file too", certFile)
	case keyFile != "":
		return nil, configErr("CertFile", nil, "a private key file (%s) needs its client certificate too", keyFile)
	}
	return cfg, nil
}
