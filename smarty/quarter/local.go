package quarter

import (
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// luxembourg is dsmr.DefaultZone, built in: no time zone database needed.
var luxembourg, _ = dsmr.LoadLocation(dsmr.DefaultZone)

// zone returns the time zone of the quarters: Ledger.Location, else that
// of the telegrams, else Luxembourg's.
func (l *Ledger) zone() *time.Location {
	switch {
	case l.Location != nil:
		return l.Location
	case l.telegramZone != nil:
		return l.telegramZone
	}
	return luxembourg
}

// local returns t in the quarters' time zone.
func (l *Ledger) local(t time.Time) time.Time { return t.In(l.zone()) }

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
