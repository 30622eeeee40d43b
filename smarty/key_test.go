package smarty

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	want := Key{0xD4, 0x91, 0x47, 0x0F, 0x47, 0x12, 0x63, 0x32, 0xB0, 0x7D, 0x19, 0x23, 0xB3, 0x50, 0x41, 0x88}
	tests := []struct {
		name, in string
		wantErr  string // substring; "" means success
	}{
		{"upper case", "D491470F47126332B07D1923B3504188", ""},
		{"lower case", "d491470f47126332b07d1923b3504188", ""},
		{"spaces as in a letter", "D4 91 47 0F 47 12 63 32 B0 7D 19 23 B3 50 41 88", ""},
		{"colons", "D4:91:47:0F:47:12:63:32:B0:7D:19:23:B3:50:41:88", ""},
		{"trailing newline from a key file", "D491470F47126332B07D1923B3504188\n", ""},
		{"empty", "", "empty"},
		{"too short", "D491470F47126332B07D1923B35041", "this one has 30"},
		{"too long", "D491470F47126332B07D1923B3504188AA", "this one has 34"},
		{"not hex", "D491470F47126332B07D1923B350418G", "character 32 is not a hex digit"},
		{"0x prefix", "0xD491470F47126332B07D1923B3504188", "character 2 is not a hex digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if k != want {
					t.Fatalf("ParseKey gave a different key")
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey(%q) succeeded, want an error", tt.in)
			}
			if ke := (*KeyError)(nil); !errors.As(err, &ke) || ke.Reason == "" {
				t.Errorf("error %v is not a *KeyError with a reason", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
			// The error must not repeat the key, or any long part of it.
			if len(tt.in) >= 8 && strings.Contains(err.Error(), tt.in[:8]) {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
}

func TestKeyNeverPrints(t *testing.T) {
	k, err := ParseKey("D491470F47126332B07D1923B3504188")
	if err != nil {
		t.Fatal(err)
	}
	type wrapper struct{ K Key }
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%08b"} {
		for _, arg := range []any{k, &k, wrapper{k}, []Key{k}} {
			out := fmt.Sprintf(format, arg)
			for _, leak := range []string{"d4", "D4", "91", "212", "0x", "[212"} {
				if strings.Contains(out, leak) {
					t.Errorf("Sprintf(%q, %T) = %q: looks like key material", format, arg, out)
				}
			}
			if !strings.Contains(out, "redacted") && !strings.HasPrefix(out, "0x") && !strings.HasPrefix(out, "&") {
				t.Errorf("Sprintf(%q, %T) = %q, want it to say redacted", format, arg, out)
			}
		}
	}
}
