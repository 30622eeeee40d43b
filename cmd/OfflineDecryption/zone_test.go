package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// TestZone: -zone sets the zone the telegrams' times are read in, and an
// unknown zone is a usage error that names the flag.
func TestZone(t *testing.T) {
	body := "/ISk5\\2MIE5T-200\r\n\r\n0-0:1.0.0(230202132747S)\r\n1-0:1.8.1(000010.181*kWh)\r\n!" // a winter day
	ie := filepath.Join(t.TempDir(), "ie.txt")
	if err := os.WriteFile(ie, []byte(body+fmt.Sprintf("%04X\r\n", dsmr.Checksum([]byte(body)))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "2023-02-02T13:27:47+01:00"},
		{[]string{"-zone", "Europe/Dublin"}, "2023-02-02T13:27:47Z"},
	} {
		r := runCmd(t, nil, append(append([]string{"-format", "json"}, tc.args...), ie)...)
		var v struct {
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("%v: %v\n%s%s", tc.args, err, r.stdout, r.stderr)
		}
		if v.Timestamp != tc.want {
			t.Errorf("%v: timestamp %s, want %s", tc.args, v.Timestamp, tc.want)
		}
	}
	r := runCmd(t, nil, "-zone", "Europe/Nowhere", ie)
	if r.status != 2 || !strings.Contains(r.stderr, "-zone") || strings.Contains(r.stderr, "dsmr:") {
		t.Errorf("unknown zone: status %d, %q", r.status, r.stderr)
	}
}
