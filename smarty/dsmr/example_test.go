package dsmr_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// A telegram as a Smarty meter sends it (shortened), with its checksum.
const telegram = "/Lux5\\253663629_D\r\n" +
	"\r\n" +
	"1-3:0.2.8(42)\r\n" +
	"0-0:1.0.0(180130102122W)\r\n" +
	"0-0:42.0.0(53414731303330373030313134303034)\r\n" +
	"1-0:1.8.0(000006.695*kWh)\r\n" +
	"1-0:1.7.0(00.230*kW)\r\n" +
	"1-0:3.7.0(00.000)\r\n" +
	"1-1:31.4.0(100*A)(-063*A)\r\n" +
	"1-0:32.7.0(233.0*V)\r\n" +
	"!1318\r\n"

func ExampleParse() {
	t, err := dsmr.Parse([]byte(telegram))
	if err != nil {
		log.Fatal(err)
	}
	when, _ := t.Time()
	fmt.Println("meter", t.MeterID(), "at", when)
	kWh, _ := t.EnergyImport()
	kW, _ := t.PowerImport()
	volts, _ := t.Voltage(1)
	fmt.Println(kWh, "kWh,", kW, "kW,", volts, "V")
	for _, o := range t.Objects() {
		d, unit, ok := o.Decimal()
		if !ok {
			continue
		}
		info, _ := dsmr.Lookup(o.OBIS)
		fmt.Printf("%-11s %-22s %s\n", o.OBIS, info.Name, strings.TrimSpace(d.String()+" "+unit))
	}
	// Output:
	// meter SAG1030700114004 at 2018-01-30 10:21:22 +0100 CET
	// 6.695 kWh, 0.23 kW, 233 V
	// 1-3:0.2.8   P1 version             42
	// 1-0:1.8.0   Active energy import   6.695 kWh
	// 1-0:1.7.0   Active power import    0.230 kW
	// 1-0:3.7.0   Reactive power import  0.000 kvar
	// 1-1:31.4.0  Current thresholds     -63 A
	// 1-0:32.7.0  Voltage L1             233.0 V
}

// A program that reads telegram after telegram parses into one Telegram,
// which then allocates nothing, and tells a damaged telegram from a
// malformed one.
func ExampleTelegram_UnmarshalText() {
	var t dsmr.Telegram
	damaged := []byte(strings.Replace(telegram, "6.695", "7.695", 1)) // a bit flipped on the line
	cut := []byte(telegram[:100])
	for _, data := range [][]byte{[]byte(telegram), damaged, cut} {
		err := t.UnmarshalText(data)
		var se *dsmr.SyntaxError
		switch {
		case errors.Is(err, dsmr.ErrCRC):
			fmt.Println("damaged:", err)
		case errors.As(err, &se):
			fmt.Printf("malformed at byte %d, line %d: %s\n", se.Offset, se.Line, se.Msg)
		case err != nil:
			log.Fatal(err)
		default:
			kWh, _ := t.EnergyImport()
			fmt.Println("good:", kWh, "kWh")
		}
	}
	// Output:
	// good: 6.695 kWh
	// damaged: dsmr: CRC mismatch: the telegram says 1318 but its content gives BD74; it was damaged on the way, or decrypted with a wrong key
	// malformed at byte 72, line 5: unbalanced '(': the telegram ends inside this value, without ')' and the final '!' line
}

func ExampleTelegram_MBus() {
	data, err := os.ReadFile("../../testdata/lux-spec-example.txt")
	if err != nil {
		log.Fatal(err)
	}
	t, err := dsmr.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	kinds := map[int]string{dsmr.DeviceGas: "gas", dsmr.DeviceWater: "water", dsmr.DeviceHeat: "heat"}
	for _, d := range t.MBus() {
		fmt.Printf("channel %d: %-5s %q %s %s", d.Channel, kinds[d.Type], d.ID, d.Reading, d.Unit)
		if d.Time.IsZero() {
			fmt.Println(", no time")
		} else {
			fmt.Println(", read at", d.Time.Format("15:04:05 MST"))
		}
	}
	// Output:
	// channel 1: gas   "FLO189900060355" 0.006 m3, read at 10:31:40 CEST
	// channel 2: water "" 0.000 m3, no time
	// channel 3: water "" 0.000 m3, no time
	// channel 4: gas   "ELS353589980300" 28.103 m3, read at 10:29:00 CEST
}

func ExampleValue_Time() {
	t, err := dsmr.Parse([]byte("/ISK5\\2M550E-1012\r\n\r\n" +
		"0-0:1.0.0(231029023015S)\r\n" + // the first 02:30 of the night
		"0-1:24.2.1(231029023000W)(01234.567*m3)\r\n" + // the second one
		"1-0:1.6.0(200301000000S)(02.589*kW)\r\n" + // S in winter: the calendar wins
		"0-2:24.2.1(632525252525S)(00000.000*m3)\r\n" + // "no time"
		"!\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	dublin, err := dsmr.LoadLocation("Europe/Dublin")
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range t.Objects() {
		v := o.Values[0]
		if when, ok := v.Time(nil); ok { // nil: Europe/Luxembourg
			fmt.Println(o.OBIS, when, "=", when.UTC().Format("15:04 MST"))
		} else if v.IsPlaceholder() {
			fmt.Println(o.OBIS, "no time")
		}
	}
	// The same clock reading of a meter in Ireland.
	when, _ := t.Objects()[0].Values[0].Time(dublin)
	fmt.Println("in Dublin:", when)
	// Output:
	// 0-0:1.0.0 2023-10-29 02:30:15 +0200 CEST = 00:30 UTC
	// 0-1:24.2.1 2023-10-29 02:30:00 +0100 CET = 01:30 UTC
	// 1-0:1.6.0 2020-03-01 00:00:00 +0100 CET = 23:00 UTC
	// 0-2:24.2.1 no time
	// in Dublin: 2023-10-29 02:30:15 +0000 GMT
}

func ExampleValue_Decimal() {
	t, err := dsmr.Parse([]byte(telegram))
	if err != nil {
		log.Fatal(err)
	}
	o := t.Find(dsmr.MustParseOBIS("1-1:31.4.0"))
	for _, v := range o.Values {
		d, unit, _ := v.Decimal()
		fmt.Printf("%q: %v %s, %#v, %v\n", v, d, unit, d, d.Float64())
	}
	// Output:
	// "100*A": 100 A, dsmr.Decimal{Coef:100, Scale:0x0}, 100
	// "-063*A": -63 A, dsmr.Decimal{Coef:-63, Scale:0x0}, -63
}

func ExampleValue_Text() {
	t, err := dsmr.Parse([]byte(telegram))
	if err != nil {
		log.Fatal(err)
	}
	v := t.Find(dsmr.CodeMeterID).Values[0]
	s, ok := v.Text()
	fmt.Println(v, "->", s, ok)
	// Output:
	// 53414731303330373030313134303034 -> SAG1030700114004 true
}

func ExampleDecimal_String() {
	for _, d := range []dsmr.Decimal{{Coef: 6695, Scale: 3}, {Coef: -63}, {Coef: 0, Scale: 3}, {Coef: 7, Scale: 3}} {
		fmt.Println(d, d.Float64())
	}
	// Output:
	// 6.695 6.695
	// -63 -63
	// 0.000 0
	// 0.007 0.007
}

func ExampleLookup() {
	for _, s := range []string{"1-0:1.8.0", "0-2:24.2.1", "0-0:96.13.0", "1-0:0.0.0"} {
		info, ok := dsmr.Lookup(dsmr.MustParseOBIS(s))
		fmt.Printf("%s %v %q %q %q text=%v\n", s, ok, info.Name, info.ID, info.Unit, info.Text)
	}
	// Output:
	// 1-0:1.8.0 true "Active energy import" "energy_import" "kWh" text=false
	// 0-2:24.2.1 true "M-Bus reading" "mbus2_reading" "" text=false
	// 0-0:96.13.0 true "Message" "message" "" text=true
	// 1-0:0.0.0 false "" "" "" text=false
}

func ExampleChecksum() {
	// The checksum covers the telegram from '/' through '!'.
	body := telegram[:len(telegram)-len("1318\r\n")]
	fmt.Printf("%04X\n", dsmr.Checksum([]byte(body)))
	// Output:
	// 1318
}

func ExampleTelegram_PowerFailures() {
	t, err := dsmr.Parse([]byte("/ISK5\\2M550E-1012\r\n\r\n" +
		"1-0:99.97.0(2)(0-0:96.7.19)(211012083412S)(0000000236*s)(230115174530W)(0000002936*s)\r\n" +
		"!\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	failures, _ := t.PowerFailures()
	for _, f := range failures {
		fmt.Println("off for", f.Duration, "until", f.End)
	}
	// Output:
	// off for 3m56s until 2021-10-12 08:34:12 +0200 CEST
	// off for 48m56s until 2023-01-15 17:45:30 +0100 CET
}

func ExampleParseOBIS() {
	o, err := dsmr.ParseOBIS("0-1:24.2.1")
	fmt.Println(o, err, o.B)
	_, err = dsmr.ParseOBIS("1-0:1.8")
	fmt.Println(err)
	// Output:
	// 0-1:24.2.1 <nil> 1
	// dsmr: "1-0:1.8" is not an OBIS code of the form A-B:C.D.E
}
