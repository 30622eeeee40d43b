package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

const (
	realKeyHex = "D491470F47126332B07D1923B3504188" // testdata/smarty-2018.key
	otherHex   = "000102030405060708090a0b0c0d0e0f"
)

func TestKeyLoad(t *testing.T) {
	dir := t.TempDir()
	goodFile := filepath.Join(dir, "good.key")
	os.WriteFile(goodFile, []byte(otherHex+"\n"), 0o600)
	badFile := filepath.Join(dir, "bad.key")
	os.WriteFile(badFile, []byte("D491470F47126332B07D1923B350418\n"), 0o600)
	bigFile := filepath.Join(dir, "big.bin")
	os.WriteFile(bigFile, bytes.Repeat([]byte{0xDB}, 5000), 0o600)
	unreadable := filepath.Join(dir, "unreadable.key")
	os.WriteFile(unreadable, []byte(otherHex), 0o000)

	real, _ := smarty.ParseKey(realKeyHex)
	other, _ := smarty.ParseKey(otherHex)
	tests := []struct {
		name       string
		flags      KeyFlags
		env        string
		want       smarty.Key
		wantSource string
		wantOK     bool
		wantErr    string // substring; "" for no error
	}{
		{name: "none"},
		{name: "flag", flags: KeyFlags{Key: realKeyHex}, want: real, wantSource: "-key", wantOK: true},
		{name: "file", flags: KeyFlags{KeyFile: goodFile}, want: other, wantSource: "-keyFile " + goodFile, wantOK: true},
		{name: "env", env: realKeyHex, want: real, wantSource: "$SMARTY_KEY", wantOK: true},
		{name: "flag before file", flags: KeyFlags{Key: realKeyHex, KeyFile: goodFile}, env: otherHex, want: real, wantSource: "-key", wantOK: true},
		{name: "file before env", flags: KeyFlags{KeyFile: goodFile}, env: realKeyHex, want: other, wantSource: "-keyFile " + goodFile, wantOK: true},
		{name: "short key", flags: KeyFlags{Key: "D491470F47126332B07D1923B350418"}, wantErr: "-key: invalid key: a key is 32 hex digits (16 bytes), this one has 31"},
		{name: "bad env", env: "xyz", wantErr: "$SMARTY_KEY: invalid key"},
		{name: "bad file", flags: KeyFlags{KeyFile: badFile}, wantErr: "has 31"},
		{name: "missing file", flags: KeyFlags{KeyFile: filepath.Join(dir, "nope")}, wantErr: "nope: no such file"},
		{name: "big file", flags: KeyFlags{KeyFile: bigFile}, wantErr: "not a key file"},
	}
	if os.Getuid() != 0 { // root reads anything
		tests = append(tests, struct {
			name       string
			flags      KeyFlags
			env        string
			want       smarty.Key
			wantSource string
			wantOK     bool
			wantErr    string
		}{name: "unreadable file", flags: KeyFlags{KeyFile: unreadable}, wantErr: "permission denied"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(KeyEnv, tc.env)
			key, source, ok, err := tc.flags.Load()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				var u *UsageError
				if !errors.As(err, &u) {
					t.Errorf("error %v is not a *UsageError", err)
				}
				for _, secret := range []string{realKeyHex[:8], realKeyHex[20:], otherHex[:8]} {
					if strings.Contains(strings.ToUpper(err.Error()), strings.ToUpper(secret)) {
						t.Errorf("error %q shows the key", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tc.want || source != tc.wantSource || ok != tc.wantOK {
				t.Errorf("got source %q ok %v (key equal: %v), want source %q ok %v", source, ok, key == tc.want, tc.wantSource, tc.wantOK)
			}
		})
	}
}

func TestCipher(t *testing.T) {
	t.Setenv(KeyEnv, "")
	frame, err := os.ReadFile("../../testdata/smarty-2018.bin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flags   KeyFlags
		nilOK   bool
		wantErr string
		opens   bool
	}{
		{name: "no key", nilOK: true},
		{name: "right key", flags: KeyFlags{Key: realKeyHex}, opens: true},
		{name: "right key, explicit Luxembourg AK", flags: KeyFlags{Key: realKeyHex, AuthKey: "00112233445566778899AABBCCDDEEFF"}, opens: true},
		{name: "right key, other AK", flags: KeyFlags{Key: realKeyHex, AuthKey: otherHex}},
		{name: "bad AK", flags: KeyFlags{Key: realKeyHex, AuthKey: "0011"}, wantErr: "-authKey: invalid key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.flags.Cipher()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.nilOK {
				if c != nil {
					t.Fatal("a cipher without a key")
				}
				return
			}
			_, err = smarty.NewReader(bytes.NewReader(frame), c).Next()
			if opened := err == nil; opened != tc.opens {
				t.Errorf("Next: %v, want success %v", err, tc.opens)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  error
		wantCode int
		wantMsg  string // what Exit prints
	}{
		{"ok", []string{"-key", realKeyHex}, nil, 0, ""},
		{"help", []string{"-h"}, flag.ErrHelp, 0, ""},
		{"unknown flag", []string{"-kye", "x"}, nil, ExitUsage, "prog: flag provided but not defined: -kye (see -h)\n"},
		{"bad format", []string{"-format", "xml"}, nil, ExitUsage, "prog: invalid value \"xml\" for flag -format: format: unknown format \"xml\": use text or json (see -h)\n"},
		{"bad int", []string{"-count", "x"}, nil, ExitUsage, "prog: invalid value \"x\" for flag -count: parse error (see -h)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			fs := NewFlagSet("prog", "-key KEY", &stderr, &stderr)
			AddKeyFlags(fs, true)
			AddDeviceFlags(fs)
			AddFormatFlag(fs)
			AddCountFlag(fs, "stop after `n` telegrams")
			err := Parse(fs, tc.args)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if tc.name == "help" {
				for _, want := range []string{"Usage: prog -key KEY", "-keyFile file", "-format format", "-stderrthreshold", "-log_dir"} {
					if !strings.Contains(stderr.String(), want) {
						t.Errorf("usage lacks %q:\n%s", want, stderr.String())
					}
				}
			} else if stderr.Len() > 0 {
				t.Errorf("Parse printed %q; errors are for Exit to print", stderr.String())
			}
			var out bytes.Buffer
			if code := report(&out, "prog", err); code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			if out.String() != tc.wantMsg {
				t.Errorf("Exit printed %q, want %q", out.String(), tc.wantMsg)
			}
		})
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		err      error
		wantCode int
		wantMsg  string
	}{
		{nil, 0, ""},
		{errors.New("boom"), 1, "prog: boom\n"},
		{errors.New("two\nlines\r\n"), 1, "prog: two; lines\n"},
		{Usagef("-device: %w", errors.New("missing")), 2, "prog: -device: missing\n"},
		{fmt.Errorf("summary: %w", ErrReported), 1, ""},
		{&UsageError{Err: ErrReported}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			var out bytes.Buffer
			if code := report(&out, "prog", tc.err); code != tc.wantCode || out.String() != tc.wantMsg {
				t.Errorf("report = %d, %q; want %d, %q", code, out.String(), tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// TestLogging checks that logs go to stderr unless the command line asks
// for files. glog's flags are global, so the cases run in order.
func TestLogging(t *testing.T) {
	tostderr := flag.CommandLine.Lookup("logtostderr").Value
	defer tostderr.Set("true")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "true"},
		{[]string{"-v", "2"}, "true"},
		{[]string{"-stderrthreshold", "INFO"}, "true"},
		{[]string{"-log_dir", t.TempDir()}, "false"},
		{[]string{"-logtostderr=false"}, "false"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			tostderr.Set("false")
			fs := NewFlagSet("prog", "", new(bytes.Buffer), new(bytes.Buffer))
			if err := Parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if got := tostderr.String(); got != tc.want {
				t.Errorf("logtostderr = %s, want %s", got, tc.want)
			}
		})
	}
	flag.CommandLine.Lookup("log_dir").Value.Set("")
	flag.CommandLine.Lookup("v").Value.Set("0")
	flag.CommandLine.Lookup("stderrthreshold").Value.Set("ERROR")
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a":            "a",
		"a\nb":         "a; b",
		"  a \r\n b\n": "a; b",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
