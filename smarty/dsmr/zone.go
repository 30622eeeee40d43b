package dsmr

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// DefaultZone is the name of the time zone a [Telegram] reads its times
// in unless told otherwise: that of Luxembourg, whose rules (CET, and CEST
// from the last Sunday of March to the last Sunday of October) are also
// those of Belgium and the Netherlands.
const DefaultZone = "Europe/Luxembourg"

// luxembourg is DefaultZone built from its rule, so that the default needs
// no time zone database (Windows and minimal containers have none).
var luxembourg = euRule(DefaultZone)

// euRule returns a Location named name that follows the European rule
// since 1996: CET, and CEST from 01:00 UTC on the last Sunday of March to
// 01:00 UTC on the last Sunday of October. It is a TZif file without
// transitions whose footer, the POSIX TZ string, covers all time.
func euRule(name string) *time.Location {
	const tz = "CET-1CEST,M3.5.0,M10.5.0/3"
	block := func(version byte) []byte {
		b := []byte("TZif")
		b = append(b, version)
		b = append(b, make([]byte, 15)...)
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, 4} {
			b = binary.BigEndian.AppendUint32(b, n)
		}
		b = binary.BigEndian.AppendUint32(b, 3600) // the one type: UTC+1
		b = append(b, 0, 0)                        // not DST, name at 0
		return append(b, "CET\x00"...)
	}
	data := append(block('2'), block('2')...)
	data = append(data, "\n"+tz+"\n"...)
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		panic("dsmr: the built-in rule of " + name + " does not load: " + err.Error())
	}
	return loc
}

// LoadLocation returns the time zone with the given IANA name, such as
// "Europe/Dublin" or "Europe/Stockholm", for [Telegram.Location]. The
// default, [DefaultZone] (also for ""), is built in and needs no time zone
// database; any other name is looked up with [time.LoadLocation], which
// needs the system's database or a program that imports time/tzdata.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == DefaultZone {
		return luxembourg, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("dsmr: time zone %q: give the meter's zone by name, such as Europe/Dublin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("dsmr: unknown time zone %q: give an IANA name such as Europe/Dublin (%v)", name, err)
	}
	return loc, nil
}

// wallTime returns the instant the meter's clock shows: the date and time
// in loc's calendar. The S/W letter (0 when absent) only settles the hour
// that occurs twice when the clocks go back: S, or no letter, for its first
// pass, W for its second. A time in the hour skipped when the clocks go
// forward is read with the offset in force before it.
func wallTime(year int, month time.Month, day, hour, min, sec int, letter byte, loc *time.Location) time.Time {
	naive := time.Date(year, month, day, hour, min, sec, 0, time.UTC)
	// The offsets in force a day before and a day after: the clocks
	// change at most once in between.
	_, before := naive.Add(-24 * time.Hour).In(loc).Zone()
	_, after := naive.Add(24 * time.Hour).In(loc).Zone()
	at := func(off int) (time.Time, bool) {
		t := naive.Add(-time.Duration(off) * time.Second)
		_, o := t.In(loc).Zone()
		return t, o == off
	}
	tb, okBefore := at(before)
	if before == after {
		return tb.In(loc)
	}
	ta, okAfter := at(after)
	switch {
	case okBefore && okAfter: // the repeated hour
		first, second := tb, ta
		if second.Before(first) {
			first, second = second, first
		}
		if letter == 'W' {
			return second.In(loc)
		}
		return first.In(loc)
	case okAfter:
		return ta.In(loc)
	}
	return tb.In(loc) // the offset before: also for the skipped hour
}
