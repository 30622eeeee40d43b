package mqttpub

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/flagenv"
)

func TestFlagsConfig(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for no error
	}{
		{nil, ""},
		{[]string{"-mqttQos", "3"}, "-mqttQos 3: use 0, 1 or 2"},
		{[]string{"-queueSize", "-1"}, "-queueSize -1: must be 0 (the default) or more"},
		{[]string{"-heartbeat", "-1s"}, "-heartbeat -1s: must be 0 or more"},
		{[]string{"-mqttBroker", "localhost:1883"}, `-mqttBroker: broker "localhost:1883" has no scheme: write tcp://localhost:1883 (or ssl://localhost:1883 for TLS)`},
		{[]string{"-mqttCertFile", "c.pem"}, "-mqttKeyFile: a client certificate (c.pem) needs its private key file too"},
		{[]string{"-mqttCaFile", "/nonexistent/ca.pem"}, "-mqttCaFile: reading the CA certificate: open /nonexistent/ca.pem: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := AddFlags(fs, "tcp://localhost:1883")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			t.Setenv(PasswordEnv, "pw")
			cfg, err := f.Config(nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("Config: %q, want %q", got, tc.want)
			}
			if err == nil && (cfg.Broker != "tcp://localhost:1883" || cfg.Password != "pw" || cfg.QoS != 1 || cfg.Advice == nil) {
				t.Errorf("Config = %+v", cfg)
			}
		})
	}
}

// TestFlagsConfigFromEnvironment: a file whose name came from an
// environment variable (a systemd environment file) is named by that
// variable in the message, not by the flag.
func TestFlagsConfigFromEnvironment(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := AddFlags(fs, "tcp://localhost:1883")
	if err := fs.Set("mqttCaFile", "/nonexistent/ca.pem"); err != nil {
		t.Fatal(err)
	}
	flagenv.Mark(fs.Lookup("mqttCaFile"), "SMARTY_MQTT_CA_FILE")
	_, err := f.Config(nil)
	want := "$SMARTY_MQTT_CA_FILE: reading the CA certificate: open /nonexistent/ca.pem: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Config: %v, want %q", err, want)
	}
}

func TestFlagMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ConnectError{Broker: "tcp://b:1883", Kind: ErrAuth, Cause: CauseCredentials, Reason: "the broker refused the user name or password"},
			"cannot connect to tcp://b:1883: the broker refused the user name or password (check -mqttUser and -mqttPassword or $SMARTY_MQTT_PASSWORD)"},
		{&ConnectError{Broker: "tcp://b:1883", Kind: ErrUnreachable, Cause: CauseRefused, Reason: "connection refused"},
			"cannot connect to tcp://b:1883: connection refused"},
		{&QueueLockedError{Dir: "/q"}, "queue directory /q is in use by another running publisher (give each one its own -queueDir)"},
		{&ConfigError{Field: "TopicRoot", Problem: "bad root"}, "-mqttTopicRoot: bad root"},
		{&ConfigError{Field: "TLS", Problem: "not TLS"}, "not TLS"},
	}
	for _, tc := range tests {
		got, ok := FlagMessage(tc.err)
		if !ok || got != tc.want {
			t.Errorf("FlagMessage(%v) = %q, %v; want %q", tc.err, got, ok, tc.want)
		}
	}
	if _, ok := FlagMessage(errors.New("other")); ok {
		t.Error("FlagMessage claims an error of another package")
	}
}
