package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/gcmbaseline"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// realEnvelope is the envelope of the real 2018 capture.
var realEnvelope = &Envelope{
	SystemTitle:  [8]byte{0x53, 0x41, 0x47, 0x67, 0x70, 0x01, 0xBD, 0x54},
	FrameCounter: 0x0005A8E3,
}

func parse(t testing.TB, name string) *dsmr.Telegram {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := dsmr.Parse(data)
	if err != nil && !errors.Is(err, dsmr.ErrCRC) {
		t.Fatalf("%s: %v", name, err)
	}
	return tg
}

var goldenCases = []struct {
	name string // telegram in testdata/, golden file is name + ".json"
	env  *Envelope
}{
	{"smarty-2018.txt", realEnvelope},
	{"lux-spec-example.txt", nil},
	{"dsmr5.txt", nil},
	{"nocrc.txt", nil},
	{"badcrc.txt", realEnvelope},
	{"utf8.txt", nil},
}

func TestAppendJSONGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendJSON(nil, parse(t, tc.name), tc.env)
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON:\n%s", got)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.name, ".txt")+".json")
			// The golden file is indented for people to read; the
			// output is one line.
			var indented bytes.Buffer
			if err := json.Indent(&indented, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			indented.WriteByte('\n')
			if *update {
				if err := os.WriteFile(golden, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(indented.Bytes(), want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, indented.Bytes())
			}
			if bytes.ContainsAny(got, "\n\r") {
				t.Error("JSON output spans more than one line")
			}
		})
	}
}

// jsonTelegram is the schema of the output, decoded with exact numbers.
type jsonTelegram struct {
	SystemTitle  *string      `json:"system_title"`
	FrameCounter *json.Number `json:"frame_counter"`
	Header       string       `json:"header"`
	Timestamp    *string      `json:"timestamp"`
	EquipmentID  *string      `json:"equipment_id"`
	CRC          *string      `json:"crc"`
	CRCOK        *bool        `json:"crc_ok"`
	Objects      []struct {
		OBIS   string  `json:"obis"`
		Name   *string `json:"name"`
		Values []struct {
			Raw    string          `json:"raw"`
			Number *json.Number    `json:"number"`
			Unit   *string         `json:"unit"`
			Time   json.RawMessage `json:"time"` // nil when absent
			Text   *string         `json:"text"`
		} `json:"values"`
	} `json:"objects"`
	Errors []struct {
		Line  int    `json:"line"`
		Text  string `json:"text"`
		Error string `json:"error"`
	} `json:"errors"`
}

func decode(t *testing.T, b []byte) jsonTelegram {
	t.Helper()
	var v jsonTelegram
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return v
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// TestAppendJSONFields checks the fields a consumer relies on, independently
// of the golden files.
func TestAppendJSONFields(t *testing.T) {
	real := decode(t, AppendJSON(nil, parse(t, "smarty-2018.txt"), realEnvelope))
	plain := decode(t, AppendJSON(nil, parse(t, "lux-spec-example.txt"), nil))
	dsmr5 := decode(t, AppendJSON(nil, parse(t, "dsmr5.txt"), nil))
	nocrc := decode(t, AppendJSON(nil, parse(t, "nocrc.txt"), nil))
	bad := decode(t, AppendJSON(nil, parse(t, "badcrc.txt"), nil))
	utf8 := decode(t, AppendJSON(nil, parse(t, "utf8.txt"), nil))

	value := func(v jsonTelegram, obis string, k int) string {
		for _, o := range v.Objects {
			if o.OBIS == obis {
				x := o.Values[k]
				s := "raw=" + x.Raw
				if x.Number != nil {
					s += " number=" + x.Number.String()
				}
				if x.Unit != nil {
					s += " unit=" + *x.Unit
				}
				if x.Time != nil {
					s += " time=" + strings.Trim(string(x.Time), `"`)
				}
				if x.Text != nil {
					s += " text=" + *x.Text
				}
				return s
			}
		}
		return "<absent>"
	}
	tests := []struct{ name, got, want string }{
		{"system_title", str(real.SystemTitle), "534147677001BD54"},
		{"frame_counter", real.FrameCounter.String(), "370915"},
		{"plain has no system_title", str(plain.SystemTitle), "<null>"},
		{"header", real.Header, `Lux5\253663629_D`},
		{"timestamp winter", str(real.Timestamp), "2018-01-30T10:21:22+01:00"},
		{"timestamp summer", str(plain.Timestamp), "2020-07-06T10:41:57+02:00"},
		{"timestamp placeholder", str(nocrc.Timestamp), "<null>"},
		{"equipment_id", str(real.EquipmentID), "SAG1030700114004"},
		{"equipment_id dutch", str(dsmr5.EquipmentID), "E0044007131650617"},
		{"equipment_id absent", str(nocrc.EquipmentID), "<null>"},
		{"crc", str(real.CRC), "CFDE"},
		{"crc_ok", boolStr(real.CRCOK), "true"},
		{"crc_ok mismatch", boolStr(bad.CRCOK), "false"},
		{"crc absent", str(nocrc.CRC), "<null>"},
		{"crc_ok absent", boolStr(nocrc.CRCOK), "<null>"},
		{"energy keeps decimals", value(real, "1-0:1.8.0", 0), "raw=000006.695*kWh number=6.695 unit=kWh"},
		{"zero keeps decimals", value(real, "1-0:1.7.0", 0), "raw=00.000*kW number=0.000 unit=kW"},
		{"unit from catalogue", value(real, "1-0:4.7.0", 0), "raw=00.007 number=0.007 unit=kvar"},
		{"count has no unit", value(real, "0-0:96.7.21", 0), "raw=00069 number=69"},
		{"negative", value(plain, "1-1:31.4.0", 1), "raw=-063*A number=-63 unit=A"},
		{"empty", value(real, "0-0:96.13.0", 0), "raw="},
		{"meter id text", value(real, "0-0:42.0.0", 0), "raw=53414731303330373030313134303034 text=SAG1030700114004"},
		{"mbus time", value(plain, "0-1:24.2.1", 0), "raw=200706103140S time=2020-07-06T10:31:40+02:00"},
		{"mbus reading", value(plain, "0-1:24.2.1", 1), "raw=00000.006*m3 number=0.006 unit=m3"},
		{"mbus placeholder", value(plain, "0-2:24.2.1", 0), "raw=632525252525S time=null"},
		{"mbus device type", value(plain, "0-4:24.1.0", 0), "raw=003 number=3"},
		{"mbus id", value(plain, "0-4:96.1.0", 0), "raw=454C53333533353839393830333030 text=ELS353589980300"},
		{"text with quotes", value(dsmr5, "0-0:96.13.0", 0), `raw=48656C6C6F2C20227769646522207C20776F726C645C text=Hello, "wide" | world\`},
		{"unknown code", value(dsmr5, "9-9:9.9.9", 0), `raw=hello "there"`},
		{"utf-8 text", value(utf8, "0-0:96.13.0", 0), "raw=436F75707572652070726F6772616D6DC3A965206C6520332F3620C3A0203968 text=Coupure programmée le 3/6 à 9h"},
		{"utf-8 text with quotes and lines", value(utf8, "0-0:96.13.3", 0), "raw=5072C3A97675203A20226D61696E74656E616E6365220D0AC3897461706520325C33 text=Prévu : \"maintenance\"\r\nÉtape 2\\3"},
		{"latin-1 is not text", value(utf8, "0-0:96.13.2", 0), "raw=436F7570757265E9"},
		{"mbus 2 id", value(utf8, "0-2:96.1.0", 0), "raw=4761737AC3A4686C65722037 text=Gaszähler 7"},
		{"unknown per-channel code", value(utf8, "0-3:24.9.9", 0), "raw=696E636F6E6E75"},
		{"obis value", value(dsmr5, "1-0:99.97.0", 1), "raw=0-0:96.7.19"},
		{"duration", value(dsmr5, "1-0:99.97.0", 3), "raw=0000000236*s number=236 unit=s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	t.Run("objects in telegram order", func(t *testing.T) {
		tg := parse(t, "lux-spec-example.txt")
		if len(plain.Objects) != len(tg.Objects()) {
			t.Fatalf("%d objects, want %d", len(plain.Objects), len(tg.Objects()))
		}
		for k, o := range tg.Objects() {
			if plain.Objects[k].OBIS != o.OBIS.String() {
				t.Errorf("object %d is %s, want %s", k, plain.Objects[k].OBIS, o.OBIS)
			}
			info, _ := dsmr.Lookup(o.OBIS)
			if got, want := str(plain.Objects[k].Name), info.Name; want != "" && got != want {
				t.Errorf("%s: name %q, want %q", o.OBIS, got, want)
			}
		}
	})
	t.Run("unknown name is null", func(t *testing.T) {
		for _, o := range dsmr5.Objects {
			if o.OBIS == "9-9:9.9.9" && o.Name != nil {
				t.Errorf("name %q, want null", *o.Name)
			}
		}
	})
}

func boolStr(b *bool) string {
	if b == nil {
		return "<null>"
	}
	if *b {
		return "true"
	}
	return "false"
}

// TestAppendString puts every byte at every place of a string longer than
// the eight bytes appendString checks at once, beside a byte-by-byte
// reference.
func TestAppendString(t *testing.T) {
	ref := func(s []byte) []byte {
		out := []byte{'"'}
		for _, c := range s {
			out = appendStringByte(out, c)
		}
		return append(out, '"')
	}
	base := []byte("Active energy import, tariff 1")
	for c := range 256 {
		for at := range len(base) {
			s := bytes.Clone(base)
			s[at] = byte(c)
			if at+9 < len(s) {
				s[at+9] = byte(255 - c)
			}
			got, want := appendString([]byte("x"), s), append([]byte("x"), ref(s)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
			}
			if got := appendString([]byte("x"), string(s)); !bytes.Equal(got, want) {
				t.Fatalf("appendString(string %q) = %s, want %s", s, got, want)
			}
		}
	}
}

func TestWriter(t *testing.T) {
	tg := parse(t, "smarty-2018.txt")
	tests := []struct {
		kind Kind
		want string
	}{
		{Text, string(tg.Bytes())},
		{JSON, string(AppendJSON(nil, tg, realEnvelope)) + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, tc.kind)
			for range 2 {
				if err := w.Write(tg, realEnvelope); err != nil {
					t.Fatal(err)
				}
			}
			if got := out.String(); got != tc.want+tc.want {
				t.Errorf("got\n%q\nwant twice\n%q", got, tc.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr bool
	}{
		{"text", Text, false},
		{"json", JSON, false},
		{"JSON", JSON, false},
		{"xml", Text, true},
		{"", Text, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var k Kind
			err := k.Set(tc.in)
			if (err != nil) != tc.wantErr || k != tc.want {
				t.Errorf("Set(%q) = %v, kind %v; want kind %v, error %v", tc.in, err, k, tc.want, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrKind) {
				t.Errorf("error %v does not wrap ErrKind", err)
			}
		})
	}
}

// TestAppendJSONText: a value has "text" exactly when dsmr's Object.IsText
// and Value.Text say it is text, and then the same text: the JSON and the
// library never disagree.
func TestAppendJSONText(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			tg := parse(t, tc.name)
			checkText(t, tg, decode(t, AppendJSON(nil, tg, tc.env)))
		})
	}
}

// checkText compares the text fields and equipment_id of v, the JSON of
// tg, with what dsmr decodes.
func checkText(t *testing.T, tg *dsmr.Telegram, v jsonTelegram) {
	t.Helper()
	objects := tg.Objects()
	if len(v.Objects) != len(objects) {
		t.Fatalf("%d objects in JSON, %d in the telegram", len(v.Objects), len(objects))
	}
	for k, o := range objects {
		for i, val := range o.Values {
			want, ok := val.Text()
			info, _ := dsmr.Lookup(o.OBIS)
			ok = ok && info.Text
			got := v.Objects[k].Values[i].Text
			if (got != nil) != ok || ok && *got != want {
				t.Errorf("%s value %d (%q): text %q, want %q, %v", o.OBIS, i, val.Bytes(), str(got), want, ok)
			}
		}
	}
	for _, code := range []dsmr.OBIS{dsmr.CodeMeterID, dsmr.CodeEquipmentID} {
		if o := tg.Find(code); o != nil && len(o.Values) > 0 {
			if want, ok := o.Values[0].Text(); ok && str(v.EquipmentID) != want {
				t.Errorf("equipment_id %q, want %q as MeterID", str(v.EquipmentID), want)
			}
			break
		}
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	for _, name := range []string{"smarty-2018.txt", "lux-spec-example.txt", "dsmr5.txt", "utf8.txt"} {
		t.Run(name, func(t *testing.T) {
			tg := parse(t, name)
			buf := make([]byte, 0, 64<<10)
			allocs := testing.AllocsPerRun(100, func() {
				buf = AppendJSON(buf[:0], tg, realEnvelope)
			})
			if allocs != 0 {
				t.Errorf("AppendJSON allocates %v times per telegram, want 0", allocs)
			}
		})
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, tc := range goldenCases {
		data, err := os.ReadFile(filepath.Join("testdata", tc.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("/X\r\n\r\n0-0:96.13.0(0A0D09225C)\r\n1-0:1.8.0(-0.5*\"\")\r\n!\r\n"))
	f.Add([]byte("/X\r\n\r\n0-0:96.1.1(C3A9225C)\r\n0-0:96.13.0(E9)\r\n0-0:96.13.1(C2A0E2808F)\r\n!\r\n"))
	var tg dsmr.Telegram
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := tg.UnmarshalText(data); err != nil && !errors.Is(err, dsmr.ErrCRC) {
			return
		}
		out := AppendJSON(nil, &tg, &Envelope{FrameCounter: 1})
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q:\n%s", data, out)
		}
		var v jsonTelegram
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		checkText(t, &tg, v)
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, name := range []string{"smarty-2018.txt", "lux-spec-example.txt"} {
		tg := parse(b, name)
		data := tg.Bytes()
		// Baseline: parsing the same telegram.
		b.Run("parse/"+name, func(b *testing.B) {
			var t dsmr.Telegram
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := t.UnmarshalText(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("json/"+name, func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendJSON(buf[:0], tg, realEnvelope)
			}
		})
	}
}

// BenchmarkJSONOutput is -format json on the real capture: the 647-byte
// frame read by a smarty.Reader (framing, decryption, parse) and written as
// a JSON line by a Writer, beside the bare cipher.AEAD.Open of the same
// frame, the baseline, and the Reader alone.
//
//	go test -run '^$' -bench JSONOutput -count 6 ./internal/format
func BenchmarkJSONOutput(b *testing.B) {
	frame, err := os.ReadFile("../../testdata/smarty-2018.bin")
	if err != nil {
		b.Fatal(err)
	}
	keyText, err := os.ReadFile("../../testdata/smarty-2018.key")
	if err != nil {
		b.Fatal(err)
	}
	key, err := smarty.ParseKey(string(keyText))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-gcm-open", func(b *testing.B) { gcmbaseline.Benchmark(b, "../../testdata") })
	for _, out := range []string{"reader", "reader+json"} {
		b.Run(out, func(b *testing.B) {
			r := smarty.NewReader(&repeatReader{data: frame}, smarty.NewCipher(key, smarty.LuxembourgAuthKey))
			w := NewWriter(io.Discard, JSON)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				if out == "reader+json" {
					if err := w.WriteMessage(m); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// repeatReader reads data over and over, as a meter sends frame after
// frame.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// TestAppendMessage decrypts the real capture with the smarty library and
// checks that the envelope reaches the JSON.
func TestAppendMessage(t *testing.T) {
	frame, err := os.ReadFile("../../testdata/smarty-2018.bin")
	if err != nil {
		t.Fatal(err)
	}
	keyText, err := os.ReadFile("../../testdata/smarty-2018.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := smarty.ParseKey(string(keyText))
	if err != nil {
		t.Fatal(err)
	}
	r := smarty.NewReader(bytes.NewReader(frame), smarty.NewCipher(key, smarty.LuxembourgAuthKey))
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := AppendJSON(nil, parse(t, "smarty-2018.txt"), realEnvelope)
	if got := AppendMessage(nil, m); !bytes.Equal(got, want) {
		t.Errorf("AppendMessage:\n%s\nwant\n%s", got, want)
	}
	var out bytes.Buffer
	if err := NewWriter(&out, JSON).WriteMessage(m); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want)+"\n" {
		t.Errorf("WriteMessage:\n%s\nwant\n%s", got, want)
	}
	if got := EnvelopeOf(m); got == nil || *got != *realEnvelope {
		t.Errorf("EnvelopeOf = %+v, want %+v", got, realEnvelope)
	}
}

// TestHeadUnit holds the unit objectHead keeps for a code to dsmr's
// Telegram.DefaultUnit, for every one-value object of the meter corpus and
// the golden telegrams.
func TestHeadUnit(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/meters/*.txt")
	more, _ := filepath.Glob("testdata/*.txt")
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tg, err := dsmr.Parse(data)
		if err != nil && !errors.Is(err, dsmr.ErrCRC) {
			continue
		}
		for _, o := range tg.Objects() {
			if h := headOf(&o.OBIS); h != nil && h.fixed && len(o.Values) == 1 {
				if want := tg.DefaultUnit(&o); h.unit != want {
					t.Errorf("%s: %v: kept unit %q, DefaultUnit %q", f, o.OBIS, h.unit, want)
				}
			}
		}
	}
}
