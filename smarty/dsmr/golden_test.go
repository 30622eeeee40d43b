package dsmr

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// corpusFile is one telegram of the test corpus.
type corpusFile struct {
	name string // golden file name, without .json
	path string
}

// corpus lists the telegrams of the test corpus: the two real ones of the
// project (../../testdata) and those of testdata/corpus (see its README).
func corpus(tb testing.TB) []corpusFile {
	tb.Helper()
	files := []corpusFile{
		{"smarty-2018", "../../testdata/smarty-2018.txt"},
		{"lux-spec-example", "../../testdata/lux-spec-example.txt"},
	}
	paths, err := filepath.Glob("testdata/corpus/*.txt")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no corpus in testdata/corpus: %v", err)
	}
	for _, p := range paths {
		files = append(files, corpusFile{strings.TrimSuffix(filepath.Base(p), ".txt"), p})
	}
	return files
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// The dump of a parse: everything the API tells about a telegram, in a
// stable JSON form, for the golden files.
type (
	dumpValue struct {
		Raw         string  `json:"raw"`
		Kind        string  `json:"kind"`
		Decimal     string  `json:"decimal,omitempty"`
		Unit        string  `json:"unit,omitempty"`
		Float       float64 `json:"float,omitempty"`
		Time        string  `json:"time,omitempty"`
		Placeholder bool    `json:"placeholder,omitempty"`
		OBIS        string  `json:"obis,omitempty"`
		Text        *string `json:"text,omitempty"`
	}
	dumpObject struct {
		OBIS    string      `json:"obis"`
		Name    string      `json:"name,omitempty"`
		ID      string      `json:"id,omitempty"`
		IsText  bool        `json:"is_text,omitempty"`
		Decimal string      `json:"decimal,omitempty"` // Object.Decimal
		Unit    string      `json:"unit,omitempty"`
		Values  []dumpValue `json:"values"`
	}
	dumpMBus struct {
		Channel    int    `json:"channel"`
		Type       int    `json:"type"`
		ID         string `json:"id,omitempty"`
		Reading    string `json:"reading,omitempty"`
		Unit       string `json:"unit,omitempty"`
		HasReading bool   `json:"has_reading"`
		Time       string `json:"time,omitempty"`
		Valve      int    `json:"valve"`
		Breaker    int    `json:"breaker"`
	}
	dumpFailure struct {
		End      string `json:"end"`
		Duration string `json:"duration"`
	}
	dumpSummary struct {
		Version          string        `json:"version,omitempty"`
		MeterID          string        `json:"meter_id,omitempty"`
		Time             string        `json:"time,omitempty"`
		EnergyImport     *float64      `json:"energy_import,omitempty"`
		EnergyExport     *float64      `json:"energy_export,omitempty"`
		PowerImport      *float64      `json:"power_import,omitempty"`
		PowerExport      *float64      `json:"power_export,omitempty"`
		Voltage          []*float64    `json:"voltage"`
		Current          []*float64    `json:"current"`
		PhasePowerImport []*float64    `json:"phase_power_import"`
		PhasePowerExport []*float64    `json:"phase_power_export"`
		MBus             []dumpMBus    `json:"mbus,omitempty"`
		PowerFailures    []dumpFailure `json:"power_failures,omitempty"`
	}
	dump struct {
		Error   string       `json:"error,omitempty"`
		Header  string       `json:"header"`
		CRC     string       `json:"crc"`
		Size    int          `json:"size"`
		Objects []dumpObject `json:"objects"`
		Summary dumpSummary  `json:"summary"`
	}
)

const timeLayout = "2006-01-02 15:04:05 -07:00 MST"

func opt(f float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &f
}

func dumpTelegram(t *Telegram, err error) dump {
	d := dump{Header: t.Header(), CRC: "none", Size: len(t.Bytes()), Objects: []dumpObject{}}
	if err != nil {
		d.Error = err.Error()
	}
	if crc, ok := t.CRC(); ok {
		d.CRC = hex4(crc)
	}
	for k := range t.Objects() {
		o := &t.Objects()[k]
		info, _ := Lookup(o.OBIS)
		do := dumpObject{OBIS: o.OBIS.String(), Name: info.Name, ID: info.ID, IsText: info.Text, Values: []dumpValue{}}
		if dec, unit, ok := o.Decimal(); ok {
			do.Decimal, do.Unit = dec.String(), unit
		}
		for _, v := range o.Values {
			dv := dumpValue{Raw: v.String(), Kind: v.Kind().String()}
			if dec, unit, ok := v.Decimal(); ok {
				dv.Decimal, dv.Unit = dec.String(), unit
				if d, _, ok := v.Decimal(); ok {
					dv.Float = d.Float64()
				}
			}
			if tm, ok := v.Time(nil); ok {
				dv.Time = tm.Format(timeLayout)
			}
			dv.Placeholder = v.IsPlaceholder()
			if c, ok := v.obis(); ok {
				dv.OBIS = c.String()
			}
			if info.Text || v.Kind() == KindString {
				if s, ok := v.Text(); ok {
					dv.Text = &s
				}
			}
			do.Values = append(do.Values, dv)
		}
		d.Objects = append(d.Objects, do)
	}
	s := &d.Summary
	s.Version = t.Version()
	s.MeterID = t.MeterID()
	if tm, ok := t.Time(); ok {
		s.Time = tm.Format(timeLayout)
	}
	s.EnergyImport = opt(t.EnergyImport())
	s.EnergyExport = opt(t.EnergyExport())
	s.PowerImport = opt(t.PowerImport())
	s.PowerExport = opt(t.PowerExport())
	for p := 1; p <= 3; p++ {
		s.Voltage = append(s.Voltage, opt(t.Voltage(p)))
		s.Current = append(s.Current, opt(t.Current(p)))
		s.PhasePowerImport = append(s.PhasePowerImport, opt(t.PhasePowerImport(p)))
		s.PhasePowerExport = append(s.PhasePowerExport, opt(t.PhasePowerExport(p)))
	}
	for _, m := range t.MBus() {
		dm := dumpMBus{Channel: m.Channel, Type: m.Type, ID: m.ID, Unit: m.Unit,
			HasReading: m.HasReading, Valve: m.Valve, Breaker: m.Breaker}
		if m.HasReading {
			dm.Reading = m.Reading.String()
		}
		if !m.Time.IsZero() {
			dm.Time = m.Time.Format(timeLayout)
		}
		s.MBus = append(s.MBus, dm)
	}
	if log, ok := t.PowerFailures(); ok {
		s.PowerFailures = []dumpFailure{}
		for _, f := range log {
			end := ""
			if !f.End.IsZero() {
				end = f.End.Format(timeLayout)
			}
			s.PowerFailures = append(s.PowerFailures, dumpFailure{end, f.Duration.String()})
		}
	}
	return d
}

func hex4(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

// TestGolden parses every telegram of the corpus and compares a dump of
// the result with testdata/golden/<name>.json. go test -update rewrites the
// golden files; review the diff before committing them.
func TestGolden(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(f.name, func(t *testing.T) {
			data := readFile(t, f.path)
			tg, err := Parse(data)
			got, jerr := json.MarshalIndent(dumpTelegram(tg, err), "", "  ")
			if jerr != nil {
				t.Fatal(jerr)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", f.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test -update to create it)", rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dump differs from %s (go test -update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
			}
			// The bad telegrams of the corpus are named bad-*; all
			// others parse, with a good CRC or none.
			if bad := strings.HasPrefix(f.name, "bad-"); bad != (err != nil) {
				t.Errorf("Parse error = %v, want an error: %v", err, bad)
			}
			if err != nil && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrCRC) {
				t.Errorf("error %v wraps neither ErrSyntax nor ErrCRC", err)
			}
		})
	}
}

// lineDiff shows the first lines where a and b differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	shown := 0
	for i := 0; i < max(len(al), len(bl)) && shown < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out.WriteString("line " + itoa(i+1) + ":\n- " + x + "\n+ " + y + "\n")
			shown++
		}
	}
	return out.String()
}

func itoa(n int) string { return Decimal{Coef: int64(n)}.String() }
