package mqttpub

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/flagenv"
)

// What the commands that publish (MQTTPublisher, SmartyGateway) share: the
// MQTT flags, their mapping to a Config, and what to tell a user about an
// error of this package in terms of those flags.

// PasswordEnv is the environment variable the broker password is read from
// when -mqttPassword is not given.
const PasswordEnv = "SMARTY_MQTT_PASSWORD"

// Flags are the MQTT flags of a command. Make them with AddFlags.
type Flags struct {
	Broker, root, user, password, clientID string
	qos                                    uint
	caFile, certFile, keyFile              string
	retain, discovery                      bool
	haPrefix                               string
	onlyOnChange                           bool
	heartbeat                              time.Duration
	queueDir                               string
	queueSize                              int
	grace                                  time.Duration
	haRemove                               bool

	fs *flag.FlagSet // for flagenv.Name
}

// RemoveDiscovery reports whether -haRemove was given: remove the
// meter's Home Assistant discovery configs (see RemoveOutput) instead of
// publishing.
func (m *Flags) RemoveDiscovery() bool { return m.haRemove }

// AddFlags adds the MQTT flags to fs; defaultBroker is -mqttBroker's
// default ("" for a command where MQTT is off unless asked for).
func AddFlags(fs *flag.FlagSet, defaultBroker string) *Flags {
	m := &Flags{fs: fs}
	fs.StringVar(&m.Broker, "mqttBroker", defaultBroker, "the broker's `URL`: tcp://host:port, ssl://host:port for TLS (also tls://, mqtts://),\nws:// or wss:// for websockets")
	fs.StringVar(&m.root, "mqttTopicRoot", DefaultTopicRoot, "first part of every `topic`; {meter} in it becomes the meter id (smarty/{meter}),\nso that several meters can share a broker")
	fs.UintVar(&m.qos, "mqttQos", 1, "MQTT quality of service `level`: 0, 1 or 2; with 1 or 2 nothing is lost while the broker is away")
	fs.StringVar(&m.user, "mqttUser", "", "user `name` for the broker")
	fs.StringVar(&m.password, "mqttPassword", "", "`password` for the broker; visible to other users in the process list,\nprefer $"+PasswordEnv+" (never logged)")
	fs.StringVar(&m.clientID, "mqttClientId", "", "MQTT client `id`; {meter} in it becomes the meter id (default smarty-{meter})")
	fs.StringVar(&m.caFile, "mqttCaFile", "", "PEM `file` of the certificate authority that signed the broker's certificate\n(default: the system's)")
	fs.StringVar(&m.certFile, "mqttCertFile", "", "PEM `file` of a client certificate, for brokers that require one")
	fs.StringVar(&m.keyFile, "mqttKeyFile", "", "PEM `file` of the client certificate's private key")
	fs.BoolVar(&m.retain, "mqttRetain", true, "retain the reading and telegram topics (-mqttRetain=false to turn off;\nstatus and discovery are always retained)")
	fs.BoolVar(&m.discovery, "haDiscovery", true, "publish Home Assistant MQTT discovery configs (-haDiscovery=false to turn off)")
	fs.StringVar(&m.haPrefix, "haPrefix", DefaultDiscoveryPrefix, "Home Assistant discovery `prefix`")
	fs.BoolVar(&m.haRemove, "haRemove", false, "remove every Home Assistant discovery config of this meter (known from its first\ntelegram) from the broker, then exit: Home Assistant forgets its sensors")
	fs.BoolVar(&m.onlyOnChange, "onlyOnChange", false, "publish a reading only when it changed, or when -heartbeat has passed since")
	fs.DurationVar(&m.heartbeat, "heartbeat", 5*time.Minute, "with -onlyOnChange, republish an unchanged reading after this `long` (0: never)")
	fs.StringVar(&m.queueDir, "queueDir", "", "keep telegrams not yet delivered in this `directory`, so that a restart or a crash\nloses none (default: in memory only)")
	fs.IntVar(&m.queueSize, "queueSize", 0, "most `telegrams` kept while the broker is away; the oldest are dropped past it\n(default 8640, a day, in memory; 60480, a week, with -queueDir)")
	fs.DurationVar(&m.grace, "grace", 2*time.Second, "at exit, keep publishing queued telegrams for up to this `long`")
	return m
}

// Config returns the Config of the flags, logging to log. Its errors are
// mistakes on the command line, each naming its flag, or the environment
// variable the flag's value came from ($SMARTY_MQTT_CA_FILE: ...).
func (m *Flags) Config(log *slog.Logger) (Config, error) {
	if m.qos > 2 {
		return Config{}, fmt.Errorf("-mqttQos %d: use 0, 1 or 2", m.qos)
	}
	if m.queueSize < 0 {
		return Config{}, fmt.Errorf("-queueSize %d: must be 0 (the default) or more", m.queueSize)
	}
	if m.heartbeat < 0 {
		return Config{}, fmt.Errorf("-heartbeat %v: must be 0 or more", m.heartbeat)
	}
	password := m.password
	if password == "" {
		password = os.Getenv(PasswordEnv)
	}
	tc, err := LoadTLS(m.caFile, m.certFile, m.keyFile)
	if err != nil {
		return Config{}, errors.New(m.message(err))
	}
	broker, err := ParseBroker(m.Broker)
	if err != nil {
		return Config{}, errors.New(m.message(err))
	}
	return Config{
		Broker:          broker,
		TopicRoot:       m.root,
		QoS:             byte(m.qos),
		Username:        m.user,
		Password:        password,
		ClientID:        m.clientID,
		TLS:             tc,
		NoRetain:        !m.retain,
		NoDiscovery:     !m.discovery,
		DiscoveryPrefix: m.haPrefix,
		OnlyOnChange:    m.onlyOnChange,
		Heartbeat:       m.heartbeat,
		QueueDir:        m.queueDir,
		QueueSize:       m.queueSize,
		Grace:           m.grace,
		Advice:          Advice,
		Log:             log,
		ConnectAtStart:  true,
	}, nil
}

// message is FlagMessage(err), with a ConfigError named by the environment
// variable its flag's value came from, if it did.
func (m *Flags) message(err error) string {
	var cfg *ConfigError
	if errors.As(err, &cfg) {
		if f := configFlags[cfg.Field]; f != "" {
			return flagenv.Name(m.fs, f[1:]) + ": " + cfg.Problem
		}
	}
	msg, _ := FlagMessage(err)
	return msg
}

// configFlags names the flag of each ConfigError.Field.
var configFlags = map[string]string{
	"Broker": "-mqttBroker", "QoS": "-mqttQos", "TopicRoot": "-mqttTopicRoot",
	"DiscoveryPrefix": "-haPrefix", "CAFile": "-mqttCaFile", "CertFile": "-mqttCertFile",
	"KeyFile": "-mqttKeyFile",
}

// Advice returns what the user of the command line should do about an
// error of this package, "" when there is nothing to add.
func Advice(err error) string {
	var ce *ConnectError
	switch {
	case errors.As(err, &ce):
		switch ce.Cause {
		case CauseCredentials, CauseNotAuthorised:
			return "check -mqttUser and -mqttPassword or $" + PasswordEnv
		case CauseClientID:
			return "choose another with -mqttClientId"
		case CauseUnknownCA:
			return "give the CA certificate that signed it with -mqttCaFile"
		case CauseTLSRefused:
			return "if it requires a client certificate, give one with -mqttCertFile and -mqttKeyFile"
		}
	case errors.Is(err, ErrQueueLocked):
		return "give each one its own -queueDir"
	}
	return ""
}

// FlagMessage is the line a command prints for an error of this package,
// in the terms of its flags: a ConfigError names its flag, a connection
// error and a locked queue say which flag to change. ok is false for
// errors of other packages.
func FlagMessage(err error) (msg string, ok bool) {
	var (
		cfg *ConfigError
		ce  *ConnectError
		ql  *QueueLockedError
	)
	switch {
	case errors.As(err, &cfg):
		if f := configFlags[cfg.Field]; f != "" {
			return f + ": " + cfg.Problem, true
		}
		return cfg.Problem, true
	case errors.As(err, &ce):
		msg = fmt.Sprintf("cannot connect to %s: %s", ce.Broker, ce.Reason)
	case errors.As(err, &ql):
		msg = fmt.Sprintf("queue directory %s is in use by another running publisher", ql.Dir)
	default:
		return "", false
	}
	if a := Advice(err); a != "" {
		msg += " (" + a + ")"
	}
	return msg, true
}
