package quarter

import "time"

var (
	cet  = time.FixedZone("CET", 1*60*60)
	cest = time.FixedZone("CEST", 2*60*60)
)

// local returns t in Luxembourg's local time, in a fixed zone named CET
// or CEST: summer time runs from 01:00 UTC on the last Sunday of March to
// 01:00 UTC on the last Sunday of October. No time zone database is
// needed.
func local(t time.Time) time.Time {
	var z zone
	return z.local(t)
}

// zone is local with the summer time of the last year it was asked about.
type zone struct {
	year       int
	start, end time.Time // of summer time
}

func (z *zone) local(t time.Time) time.Time {
	u := t.UTC()
	if y := u.Year(); y != z.year || z.start.IsZero() {
		z.year = y
		z.start = lastSunday(y, time.March).Add(time.Hour)
		z.end = lastSunday(y, time.October).Add(time.Hour)
	}
	if !u.Before(z.start) && u.Before(z.end) {
		return u.In(cest)
	}
	return u.In(cet)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC) // last day of month
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// day identifies a local calendar day, or a month when d is 0.
type day struct {
	y    int
	m    time.Month
	d    int
	some bool
}

func dayOf(t time.Time) day {
	y, m, d := t.Date()
	return day{y, m, d, true}
}

func (d day) month() day { return day{d.y, d.m, 0, d.some} }
