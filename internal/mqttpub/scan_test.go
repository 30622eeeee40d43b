package mqttpub

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// corpus returns the telegrams of testdata that parse, the Luxembourg
// example first.
func corpus(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob("../../testdata/meters/*.txt")
	files = append([]string{"../../testdata/lux-spec-example.txt"}, files...)
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := dsmr.Parse(data); err == nil {
			out = append(out, data)
		}
	}
	if len(out) < 40 {
		tb.Fatalf("%d telegrams parse in testdata, want the corpus", len(out))
	}
	return out
}

// plainSensor is a sensor with its payload as text, for comparisons.
type plainSensor struct {
	Code            string
	Group, MBusType int
	Unit, Payload   string
	Scale           int
	DeviceType      int // t.DeviceType of the sensor's channel, -1 for the meter's own
}

func plain(t *dsmr.Telegram, ss []sensor) []plainSensor {
	out := make([]plainSensor, len(ss))
	for k, s := range ss {
		out[k] = plainSensor{Code: s.obis.String(), Group: s.group, MBusType: s.mbusType,
			Unit: s.unit, Payload: string(s.payload), Scale: int(s.scale), DeviceType: -1}
		if s.obis.A == 0 && s.obis.B >= 1 && s.obis.B <= 4 {
			out[k].DeviceType = t.DeviceType(int(s.obis.B))
		}
	}
	return out
}

// checkScan scans the telegrams in turn with one memory, as the builder
// does, and each alone without it: the sensors must be the same, the
// memory only saves work. An M-Bus sensor's device type must be the one
// dsmr.Telegram.DeviceType gives, and a payload the text of the value's
// dsmr.Decimal.
func checkScan(t *testing.T, texts [][]byte) {
	t.Helper()
	var (
		scan   scanMemo
		out    []sensor
		values []byte
	)
	for i, text := range texts {
		tel, err := dsmr.Parse(text)
		if err != nil {
			continue
		}
		out, values = scan.scan(values[:0], tel)
		got := plain(tel, out)
		want := plain(tel, sensorsOf(tel))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("telegram %d of the sequence, scanned after the others (-alone +in turn):\n%s", i, diff)
		}
		for _, s := range got {
			if s.MBusType != -1 && s.MBusType != s.DeviceType {
				t.Errorf("telegram %d: %s has device type %d, dsmr says %d", i, s.Code, s.MBusType, s.DeviceType)
			}
		}
	}
}

func TestScanMemo(t *testing.T) {
	c := corpus(t)
	// Each telegram after itself (the steady state) and after each
	// other one (a layout that changes).
	for i := range c {
		checkScan(t, [][]byte{c[i], c[i], c[(i+1)%len(c)], c[i], c[(i+7)%len(c)]})
	}
}

// FuzzScanMemo holds the scan's memory to its promise on any two
// telegrams in turn: the fuzzer changes their text up to the '!', and the
// checksum is made to match.
func FuzzScanMemo(f *testing.F) {
	c := corpus(f)
	for i := range c {
		f.Add(body(c[i]), body(c[(i+1)%len(c)]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		checkScan(t, [][]byte{seal(a), seal(b), seal(a), seal(b)})
	})
}

// body returns a telegram up to its '!'.
func body(text []byte) []byte {
	return text[:bytes.LastIndexByte(text, '!')]
}

// seal makes a telegram of body with a valid checksum.
func seal(body []byte) []byte {
	text := append(slices.Clip(body), '!')
	return fmt.Appendf(text, "%04X\r\n", dsmr.Checksum(text))
}
