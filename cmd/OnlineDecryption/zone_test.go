package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// TestZone: -zone reaches the telegrams of the live path (p1.Stream): a
// plain telegram read from a file device is printed with the offset of the
// zone's calendar.
func TestZone(t *testing.T) {
	body := "/ISk5\\2MIE5T-200\r\n\r\n0-0:1.0.0(240715120000S)\r\n1-0:1.8.1(000010.181*kWh)\r\n!"
	file := filepath.Join(t.TempDir(), "ie.txt")
	if err := os.WriteFile(file, []byte(body+fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(body)))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ zone, want string }{
		{"", "2024-07-15T12:00:00+02:00"},
		{"Europe/Dublin", "2024-07-15T12:00:00+01:00"},
	} {
		args := []string{"-device", file, "-format", "json", "-count", "1"}
		if tc.zone != "" {
			args = append(args, "-zone", tc.zone)
		}
		r := runOnline(t, context.Background(), args...)
		var v struct {
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &v); err != nil || v.Timestamp != tc.want {
			t.Errorf("-zone %q: %v, timestamp %q, want %q\n%s%s", tc.zone, err, v.Timestamp, tc.want, r.stdout, r.stderr)
		}
	}
}
