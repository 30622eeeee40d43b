package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestEnvName(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"device", "SMARTY_DEVICE"},
		{"key", "SMARTY_KEY"},
		{"keyFile", "SMARTY_KEY_FILE"},
		{"mqttBroker", "SMARTY_MQTT_BROKER"},
		{"mqttPassword", "SMARTY_MQTT_PASSWORD"},
		{"mqttCaFile", "SMARTY_MQTT_CA_FILE"},
		{"mqttClientId", "SMARTY_MQTT_CLIENT_ID"},
		{"mqttQos", "SMARTY_MQTT_QOS"},
		{"haDiscovery", "SMARTY_HA_DISCOVERY"},
		{"allowUnauthenticated", "SMARTY_ALLOW_UNAUTHENTICATED"},
		{"log_dir", "SMARTY_LOG_DIR"},
		{"v", "SMARTY_V"},
		{"refPower", "SMARTY_REF_POWER"},
		{"p1Version", "SMARTY_P1_VERSION"},
		{"http2Listen", "SMARTY_HTTP2_LISTEN"},
	} {
		if got := EnvName(tc.flag); got != tc.want {
			t.Errorf("EnvName(%q) = %q, want %q", tc.flag, got, tc.want)
		}
	}
}

// testFlags is a flag set like a command's, with one flag of each kind.
type testFlags struct {
	fs      *flag.FlagSet
	keys    *KeyFlags
	dev     *DeviceFlags
	timeout *time.Duration
	retain  *bool
	count   *int
	stdout  *bytes.Buffer
	stderr  *bytes.Buffer
}

func newTestFlags() *testFlags {
	var tf testFlags
	tf.stdout, tf.stderr = new(bytes.Buffer), new(bytes.Buffer)
	tf.fs = NewFlagSet("prog", "-device PORT", tf.stdout, tf.stderr)
	tf.keys = AddKeyFlags(tf.fs, true)
	tf.dev = AddDeviceFlags(tf.fs)
	tf.timeout = tf.fs.Duration("timeout", 30*time.Second, "reopen after this `long`")
	tf.retain = tf.fs.Bool("mqttRetain", true, "retain")
	tf.count = AddCountFlag(tf.fs, "stop after `n`")
	return &tf
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, tf *testFlags)
		wantErr string // the line Exit prints, "" for none
	}{
		{
			name: "device and timeout from the environment",
			env:  map[string]string{"SMARTY_DEVICE": "tcp://p1:2001", "SMARTY_TIMEOUT": "1m", "SMARTY_MQTT_RETAIN": "false", "SMARTY_COUNT": "3"},
			check: func(t *testing.T, tf *testFlags) {
				if tf.dev.Device != "tcp://p1:2001" || *tf.timeout != time.Minute || *tf.retain || *tf.count != 3 {
					t.Errorf("device %q, timeout %v, retain %v, count %d", tf.dev.Device, *tf.timeout, *tf.retain, *tf.count)
				}
			},
		},
		{
			name: "the command line wins",
			env:  map[string]string{"SMARTY_DEVICE": "tcp://p1:2001", "SMARTY_TIMEOUT": "not a duration"},
			args: []string{"-device", "/dev/ttyUSB0", "-timeout", "5s"},
			check: func(t *testing.T, tf *testFlags) {
				if tf.dev.Device != "/dev/ttyUSB0" || *tf.timeout != 5*time.Second {
					t.Errorf("device %q, timeout %v", tf.dev.Device, *tf.timeout)
				}
			},
		},
		{
			name: "an empty variable is no value",
			env:  map[string]string{"SMARTY_DEVICE": "", "SMARTY_TIMEOUT": ""},
			check: func(t *testing.T, tf *testFlags) {
				if tf.dev.Device != "" || *tf.timeout != 30*time.Second {
					t.Errorf("device %q, timeout %v", tf.dev.Device, *tf.timeout)
				}
			},
		},
		{
			name: "actions are not read from the environment",
			env:  map[string]string{"SMARTY_LIST": "true", "SMARTY_VERSION": "true", "SMARTY_H": "true"},
			check: func(t *testing.T, tf *testFlags) {
				if tf.dev.List || tf.stdout.Len() > 0 {
					t.Errorf("list %v, stdout %q", tf.dev.List, tf.stdout)
				}
			},
		},
		{
			name: "a -keyFile on the command line wins over $SMARTY_KEY",
			env:  map[string]string{"SMARTY_KEY": realKeyHex},
			args: []string{"-keyFile", "/nonexistent/smarty.key"},
			check: func(t *testing.T, tf *testFlags) {
				_, source, _, err := tf.keys.Load()
				if source != "-keyFile /nonexistent/smarty.key" || err == nil {
					t.Errorf("key from %q (%v), want the -keyFile's error", source, err)
				}
			},
		},
		{
			name: "$SMARTY_KEY_FILE",
			env:  map[string]string{"SMARTY_KEY_FILE": "../../testdata/smarty-2018.key"},
			check: func(t *testing.T, tf *testFlags) {
				if _, source, ok, err := tf.keys.Load(); !ok || err != nil {
					t.Errorf("key from %q: ok %v, %v", source, ok, err)
				}
			},
		},
		{
			name: "$SMARTY_KEY_FILE that is not there is named by the variable",
			env:  map[string]string{"SMARTY_KEY_FILE": "/nonexistent/smarty.key"},
			check: func(t *testing.T, tf *testFlags) {
				var out bytes.Buffer
				_, _, _, err := tf.keys.Load()
				report(&out, "prog", err)
				if want := "prog: $SMARTY_KEY_FILE /nonexistent/smarty.key: no such file\n"; out.String() != want {
					t.Errorf("Exit prints %q, want %q", out.String(), want)
				}
			},
		},
		{
			name: "-keyFile that is not there, with $SMARTY_KEY_FILE set too, is named by the flag",
			env:  map[string]string{"SMARTY_KEY_FILE": "/nonexistent/env.key"},
			args: []string{"-keyFile", "/nonexistent/flag.key"},
			check: func(t *testing.T, tf *testFlags) {
				var out bytes.Buffer
				_, _, _, err := tf.keys.Load()
				report(&out, "prog", err)
				if want := "prog: -keyFile /nonexistent/flag.key: no such file\n"; out.String() != want {
					t.Errorf("Exit prints %q, want %q", out.String(), want)
				}
			},
		},
		{
			name: "a malformed $SMARTY_AUTH_KEY is named by the variable",
			env:  map[string]string{"SMARTY_AUTH_KEY": "0011"},
			check: func(t *testing.T, tf *testFlags) {
				var out bytes.Buffer
				_, err := tf.keys.LoadAuthKey()
				report(&out, "prog", err)
				if want := "prog: $SMARTY_AUTH_KEY: invalid key: a key is 32 hex digits (16 bytes), this one has 4\n"; out.String() != want {
					t.Errorf("Exit prints %q, want %q", out.String(), want)
				}
			},
		},
		{
			name:    "a duration without a unit",
			env:     map[string]string{"SMARTY_TIMEOUT": "5"},
			wantErr: `prog: $SMARTY_TIMEOUT (for -timeout) "5": a duration needs a unit: write SMARTY_TIMEOUT=5s (or 500ms, 2m, 1h)`,
		},
		{
			name:    "a bad yes/no value",
			env:     map[string]string{"SMARTY_MQTT_RETAIN": "no"},
			wantErr: `prog: $SMARTY_MQTT_RETAIN (for -mqttRetain) "no": want true or false`,
		},
		{
			name:    "a bad number",
			env:     map[string]string{"SMARTY_COUNT": "ten"},
			wantErr: `prog: $SMARTY_COUNT (for -count): invalid value "ten": parse error`,
		},
		{
			name:    "a bad format",
			env:     map[string]string{"SMARTY_FORMAT": "xml"},
			wantErr: `prog: $SMARTY_FORMAT (for -format): invalid value "xml": format: unknown format "xml": use text or json`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tf := newTestFlags()
			AddFormatFlag(tf.fs)
			err := Parse(tf.fs, tc.args)
			var out bytes.Buffer
			report(&out, "prog", err)
			if got := strings.TrimSuffix(out.String(), "\n"); got != tc.wantErr {
				t.Fatalf("Exit prints %q, want %q", got, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, tf)
			}
		})
	}
}

func TestParseHints(t *testing.T) {
	tests := []struct {
		args []string
		want string // what Exit prints; "" for no error
	}{
		{[]string{"-mqttRetain", "false"}, "prog: -mqttRetain false: a yes/no flag takes its value after '=': write -mqttRetain=false"},
		{[]string{"-device", "x", "--mqttRetain", "true"}, "prog: -mqttRetain true: a yes/no flag takes its value after '=': write -mqttRetain=true"},
		{[]string{"-allowUnauthenticated", "0"}, "prog: -allowUnauthenticated 0: a yes/no flag takes its value after '=': write -allowUnauthenticated=0"},
		{[]string{"-mqttRetain=false", "-device", "x"}, ""},
		{[]string{"-mqttRetain", "-device", "false"}, ""}, // "false" is the device
		{[]string{"-device", "-mqttRetain"}, ""},          // "-mqttRetain" is the device
		{[]string{"-timeout", "5"}, "prog: -timeout 5: a duration needs a unit: write -timeout 5s (or 500ms, 2m, 1h)"},
		{[]string{"-timeout=2.5"}, "prog: -timeout 2.5: a duration needs a unit: write -timeout 2.5s (or 500ms, 2m, 1h)"},
		{[]string{"-timeout", "soon"}, "prog: -timeout soon: want a duration such as 30s, 500ms, 2m or 1h"},
		{[]string{"-mqttRetain=maybe"}, "prog: -mqttRetain maybe: want true or false"},
		{[]string{"-count", "5s"}, `prog: invalid value "5s" for flag -count: parse error (see -h)`},
		{[]string{"-timeout", "5s", "-count", "1"}, ""},
		{[]string{"-key", "AE", "BD", "21", "B7", "-device", "x"}, "prog: -key takes one word, and the key came as 4: quote it when it has spaces (-key 'AE BD 21 ...' with all your digits), or write it without them"},
		{[]string{"-key", "AEBD21B769A6D13C0DF064E383682EFF", "file.bin"}, ""}, // an argument that is not a group of digits
		{[]string{"-key", "AE BD 21 B7 69 A6 D1 3C 0D F0 64 E3 83 68 2E FF"}, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			tf := newTestFlags()
			err := Parse(tf.fs, tc.args)
			var out bytes.Buffer
			code := report(&out, "prog", err)
			if got := strings.TrimSuffix(out.String(), "\n"); got != tc.want {
				t.Errorf("Exit prints %q, want %q", got, tc.want)
			}
			if tc.want != "" && code != ExitUsage {
				t.Errorf("exit status %d, want %d", code, ExitUsage)
			}
		})
	}
}

func TestHelpAndVersionOnStdout(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help", "-version", "--version", "-version=true"} {
		t.Run(arg, func(t *testing.T) {
			tf := newTestFlags()
			err := Parse(tf.fs, []string{arg, "-device", "x"})
			var out bytes.Buffer
			if code := report(&out, "prog", err); code != 0 || out.Len() > 0 {
				t.Errorf("exit status %d, Exit prints %q; want 0 and nothing", code, out.String())
			}
			if tf.stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", tf.stderr)
			}
			want := "Usage: prog -device PORT"
			if strings.Contains(arg, "version") {
				want = "prog devel ("
			}
			if !strings.HasPrefix(tf.stdout.String(), want) {
				t.Errorf("stdout %q, want it to start with %q", tf.stdout, want)
			}
		})
	}
	t.Run("-version=false", func(t *testing.T) {
		tf := newTestFlags()
		if err := Parse(tf.fs, []string{"-version=false"}); err != nil || tf.stdout.Len() > 0 {
			t.Errorf("error %v, stdout %q", err, tf.stdout)
		}
	})
}

func TestUsageShowsEnvironment(t *testing.T) {
	tf := newTestFlags()
	if err := Parse(tf.fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	usage := tf.stdout.String()
	for _, want := range []string{
		"  -device port   $SMARTY_DEVICE\n",
		"  -key key   $SMARTY_KEY\n",
		"  -timeout duration   $SMARTY_TIMEOUT\n", // `long` in the help text
		"  -mqttRetain   $SMARTY_MQTT_RETAIN\n",
		"  -list\n",
		"  -version\n",
		"  -v level   $SMARTY_V\n",
		"  -log_dir directory   $SMARTY_LOG_DIR\n",
		"(-mqttBroker: SMARTY_MQTT_BROKER). The command line wins.",
	} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	for _, line := range strings.Split(usage, "\n") {
		if strings.HasPrefix(line, "  -") && strings.Contains(line, " long") {
			t.Errorf("usage has the placeholder long: %q", line)
		}
	}
}

func TestVersionLine(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "1.2.3", "0123456789abcdef0123", "2026-01-02T03:04:05Z"
	got := VersionLine("MQTTPublisher")
	if !strings.HasPrefix(got, "MQTTPublisher 1.2.3 (commit 0123456789ab, built 2026-01-02T03:04:05Z, go1.") {
		t.Errorf("VersionLine = %q", got)
	}
}
