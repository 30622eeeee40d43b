package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones of the corpus, also where the system has none

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// metersDir holds the corpus of real telegrams (see its README.md).
const metersDir = "../../testdata/meters"

// meter is one line of the corpus index.
type meter struct {
	name, zone, country, model, crc string
}

func readMeters(tb testing.TB) []meter {
	tb.Helper()
	f, err := os.Open(filepath.Join(metersDir, "index.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var ms []meter
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 5 {
			tb.Fatalf("index.tsv: %q has %d fields, want 5", sc.Text(), len(p))
		}
		ms = append(ms, meter{p[0], p[1], p[2], p[3], p[4]})
	}
	if err := sc.Err(); err != nil || len(ms) < 60 {
		tb.Fatalf("index.tsv: %v, %d telegrams", err, len(ms))
	}
	return ms
}

// meterSummary is what the accessors read from a telegram, beside the JSON.
type meterSummary struct {
	Zone          string           `json:"zone"`
	Error         string           `json:"error,omitempty"`
	MeterID       string           `json:"meter_id,omitempty"`
	Time          string           `json:"time,omitempty"`
	EnergyImport  *float64         `json:"energy_import_kwh,omitempty"`
	EnergyExport  *float64         `json:"energy_export_kwh,omitempty"`
	PowerImport   *float64         `json:"power_import_kw,omitempty"`
	PowerExport   *float64         `json:"power_export_kw,omitempty"`
	NetPower      *float64         `json:"net_power_kw,omitempty"`
	Voltage       []*float64       `json:"voltage_v,omitempty"`
	Current       []*float64       `json:"current_a,omitempty"`
	MBus          []mbusSummary    `json:"mbus,omitempty"`
	PowerFailures []string         `json:"power_failures,omitempty"`
	LineErrors    []dsmr.LineError `json:"line_errors,omitempty"`
}

type mbusSummary struct {
	Channel int    `json:"channel"`
	Type    int    `json:"type"`
	ID      string `json:"id,omitempty"`
	Reading string `json:"reading,omitempty"`
	Unit    string `json:"unit,omitempty"`
	Time    string `json:"time,omitempty"`
}

func optional(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func summarize(tg *dsmr.Telegram, err error) meterSummary {
	s := meterSummary{Zone: tg.Location.String()}
	if err != nil {
		s.Error = err.Error()
	}
	s.MeterID = tg.MeterID()
	if tm, ok := tg.Time(); ok {
		s.Time = tm.Format(time.RFC3339)
	}
	s.EnergyImport = optional(tg.EnergyImport())
	s.EnergyExport = optional(tg.EnergyExport())
	s.PowerImport = optional(tg.PowerImport())
	s.PowerExport = optional(tg.PowerExport())
	s.NetPower = optional(tg.NetPower())
	for ph := 1; ph <= 3; ph++ {
		if v, ok := tg.Voltage(ph); ok {
			s.Voltage = append(s.Voltage, &v)
		}
		if a, ok := tg.Current(ph); ok {
			s.Current = append(s.Current, &a)
		}
	}
	for _, d := range tg.MBus() {
		m := mbusSummary{Channel: d.Channel, Type: d.Type, ID: d.ID, Unit: d.Unit}
		if d.HasReading {
			m.Reading = d.Reading.String()
		}
		if !d.Time.IsZero() {
			m.Time = d.Time.Format(time.RFC3339)
		}
		s.MBus = append(s.MBus, m)
	}
	if log, ok := tg.PowerFailures(); ok {
		for _, f := range log {
			end := "no time"
			if !f.End.IsZero() {
				end = f.End.Format(time.RFC3339)
			}
			s.PowerFailures = append(s.PowerFailures, end+" after "+f.Duration.String())
		}
	}
	s.LineErrors = tg.LineErrors()
	return s
}

// TestMeters reads every telegram of the corpus in its meter's zone and
// compares the JSON and what the accessors say with the golden file
// testdata/meters/<name>.json (go test -update rewrites them). The golden
// files were compared with dsmr_parser and, for 39 telegrams, checked by
// hand against the standards: see the README.
func TestMeters(t *testing.T) {
	for _, m := range readMeters(t) {
		t.Run(m.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(metersDir, m.name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			loc, err := dsmr.LoadLocation(m.zone)
			if err != nil {
				t.Fatal(err)
			}
			tg := &dsmr.Telegram{Location: loc}
			perr := tg.UnmarshalText(raw)
			switch {
			case m.crc == "verifies" && perr != nil:
				t.Errorf("a telegram whose CRC verifies gives %v", perr)
			case m.crc == "does not verify" && !errors.Is(perr, dsmr.ErrCRC) && !errors.Is(perr, dsmr.ErrSyntax):
				t.Errorf("a telegram whose CRC does not verify gives %v", perr)
			}
			var out struct {
				JSON    json.RawMessage `json:"json,omitempty"`
				Summary meterSummary    `json:"summary"`
			}
			if perr == nil || errors.Is(perr, dsmr.ErrCRC) {
				out.JSON = AppendJSON(nil, tg, nil)
			}
			out.Summary = summarize(tg, perr)
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatalf("%v", err)
			}
			got = append(got, '\n')
			golden := filepath.Join(metersDir, m.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// sourceRow matches a row of the README's table of telegrams: its name,
// its CRC status, and a source given as a repository, a path and a commit.
var sourceRow = regexp.MustCompile("^\\| `([^`]+)` \\|[^|]*\\|[^|]*\\| ([a-z ]+) \\| [A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+ `[^`]+` @ [0-9a-f]{12} \\|")

// TestMetersProvenance checks that the README gives every telegram of the
// corpus a source (repository, path, commit) and the CRC status index.tsv
// gives it, so that a telegram cannot be added without saying where it
// comes from.
func TestMetersProvenance(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(metersDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if m := sourceRow.FindStringSubmatch(line); m != nil {
			rows[m[1]] = m[2]
		} else if strings.HasPrefix(line, "| `") {
			t.Errorf("README row without a repository, path and commit: %.80s", line)
		}
	}
	ms := readMeters(t)
	for _, m := range ms {
		crc, ok := rows[m.name]
		switch {
		case !ok:
			t.Errorf("%s: no row in the README", m.name)
		case crc != m.crc:
			t.Errorf("%s: the README says the CRC %s, index.tsv %s", m.name, crc, m.crc)
		}
	}
	if len(rows) != len(ms) {
		t.Errorf("the README has %d rows, index.tsv %d telegrams", len(rows), len(ms))
	}
}
