package dsmr

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
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

// wallUnix returns the instant the meter's clock shows, as Unix seconds,
// with the offset from UTC in force at that instant: the date and time
// in loc's calendar. The S/W letter (0 when absent) only settles the hour
// that occurs twice when the clocks go back: S, or no letter, for its first
// pass, W for its second. A time in the hour skipped when the clocks go
// forward is read with the offset in force before it. It asks loc nothing
// in the steady state: the offsets of the year come from zoneOf's cache.
func wallUnix(year int, month time.Month, day, hour, min, sec int, letter byte, loc *time.Location) (unix int64, offset int) {
	naive := time.Date(year, month, day, hour, min, sec, 0, time.UTC).Unix()
	return wallUnixOf(naive, year, letter, loc)
}

// civilUnix is time.Date(year, month, day, hour, min, sec, 0,
// time.UTC).Unix() for a valid date of a year from 1 on, without the
// time package's normalisation of fields out of range: the days since
// 1 March of year 0 (a year that starts in March ends with its leap day),
// less those before 1970-01-01.
func civilUnix(year, month, day, hour, min, sec int) int64 {
	if month <= 2 {
		year--
		month += 12
	}
	// 153 days in each five months from March: 31 30 31 30 31.
	days := 365*year + year/4 - year/100 + year/400 + (153*(month-3)+2)/5 + day - 1 - 719468
	return int64(days)*86400 + int64(hour*3600+min*60+sec)
}

// wallUnixOf is wallUnix of the time whose fields, read as UTC, make the
// Unix time naive.
func wallUnixOf(naive int64, year int, letter byte, loc *time.Location) (unix int64, offset int) {
	z := zoneOf(loc, year)
	// The offsets in force a day before and a day after: the clocks
	// change at most once in between.
	before := z.offsetAt(naive - 86400)
	after := z.offsetAt(naive + 86400)
	tb := naive - int64(before)
	if before == after {
		return tb, before
	}
	ta := naive - int64(after)
	okBefore := z.offsetAt(tb) == before
	okAfter := z.offsetAt(ta) == after
	switch {
	case okBefore && okAfter: // the repeated hour
		first, second, offFirst, offSecond := tb, ta, before, after
		if second < first {
			first, second, offFirst, offSecond = second, first, offSecond, offFirst
		}
		if letter == 'W' {
			return second, offSecond
		}
		return first, offFirst
	case okAfter:
		return ta, after
	}
	return tb, z.offsetAt(tb) // the offset before: also for the skipped hour
}

// zoneYear is what wallUnix needs of a zone for one year: the offsets in
// force from a few days before the year to a few days after it, as
// periods in order. A zone without a transition table (the built-in
// DefaultZone is one) makes the time package parse its rule at every
// question; a zoneYear asks it a few times per year and zone, once.
type zoneYear struct {
	loc     *time.Location
	year    int
	from    int64   // Unix seconds: the start of the span covered
	to      int64   // its end
	starts  []int64 // of each period; starts[0] == from
	offsets []int   // in force in each period, seconds east of UTC
}

// spanMargin is how far before and after its year a zoneYear reaches:
// more than a day and the largest offset.
const spanMargin = 3 * 86400

func newZoneYear(loc *time.Location, year int) *zoneYear {
	z := &zoneYear{loc: loc, year: year,
		from: time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - spanMargin,
		to:   time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + spanMargin}
	offsetOf := func(u int64) int {
		_, off := time.Unix(u, 0).In(loc).Zone()
		return off
	}
	// A day at a time, and to the second where the offset changed in
	// between: no zone changes its clocks twice in a day. (The time
	// package's ZoneBounds would say where a period ends, but not
	// reliably at the end of a year for a zone given by a rule.)
	cur := offsetOf(z.from)
	z.starts, z.offsets = append(z.starts, z.from), append(z.offsets, cur)
	for prev := z.from; prev < z.to; {
		next := min(prev+86400, z.to)
		if off := offsetOf(next); off != cur {
			lo, hi := prev, next // cur at lo, off at hi
			for hi-lo > 1 {
				if mid := lo + (hi-lo)/2; offsetOf(mid) == cur {
					lo = mid
				} else {
					hi = mid
				}
			}
			cur = offsetOf(hi)
			z.starts, z.offsets = append(z.starts, hi), append(z.offsets, cur)
		}
		prev = next
	}
	return z
}

// offsetAt returns the offset in force at the Unix time u.
func (z *zoneYear) offsetAt(u int64) int {
	if u < z.from || u >= z.to {
		_, off := time.Unix(u, 0).In(z.loc).Zone() // not reached from wallUnix
		return off
	}
	k := len(z.starts) - 1
	for k > 0 && z.starts[k] > u {
		k--
	}
	return z.offsets[k]
}

// zoneCache holds the zoneYears last used, one slot per year modulo its
// size, so that a program that reads one meter asks its zone nothing in
// the steady state, from any number of goroutines.
var zoneCache [4]atomic.Pointer[zoneYear]

// zoneOf returns the zoneYear of loc and year.
func zoneOf(loc *time.Location, year int) *zoneYear {
	slot := &zoneCache[uint(year)%uint(len(zoneCache))]
	if z := slot.Load(); z != nil && z.loc == loc && z.year == year {
		return z
	}
	z := newZoneYear(loc, year)
	slot.Store(z)
	return z
}

// appendRFC3339 appends the Unix time u at the offset off as
// [time.Time.AppendFormat] with [time.RFC3339] writes it, for years 0 to
// 9999.
func appendRFC3339(b []byte, u int64, off int) []byte {
	t := time.Unix(u+int64(off), 0).UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(b, byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':', byte('0'+sec/10), byte('0'+sec%10))
	return appendOffset(b, off)
}

// appendOffset writes off, seconds east of UTC, as RFC 3339 does: Z for
// 0, else +hh:mm or -hh:mm.
func appendOffset(b []byte, off int) []byte {
	if off == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m := off/3600, off/60%60
	return append(b, sign, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}
