package quarter

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// Length is the length of a quarter: the operator's billing period.
const Length = 15 * time.Minute

// The rules of the package comment.
const (
	okGap        = time.Minute      // readings this close around a boundary make it OK
	estimatedGap = 15 * time.Minute // ... this close Estimated, farther Broken
	clockSlack   = time.Minute      // meter clock against process clock between two telegrams
	maxSkip      = 24 * time.Hour   // quarters wholly inside a longer gap are left out
)

// Quality says how far a quarter's energy can be trusted. The package
// comment gives the rules.
type Quality uint8

// The qualities, from best to worst.
const (
	OK        Quality = iota // measured: the readings around both boundaries are at most a minute apart
	Estimated                // interpolated over a gap of up to 15 minutes at one boundary
	Broken                   // unknown: a longer gap, a meter change, a register reset or a clock jump
)

var qualityNames = [...]string{OK: "ok", Estimated: "estimated", Broken: "broken"}

// String returns "ok", "estimated" or "broken".
func (q Quality) String() string {
	if int(q) < len(qualityNames) {
		return qualityNames[q]
	}
	return fmt.Sprintf("Quality(%d)", uint8(q))
}

// Sample is what a Ledger needs of one telegram.
type Sample struct {
	// Time is the meter's clock (0-0:1.0.0). A sample with a zero Time is
	// ignored.
	Time time.Time
	// Received is the process clock when the telegram was read, zero for
	// captures. When two samples in a row have it, it tells a jump of the
	// meter's clock from a gap in the telegrams.
	Received time.Time
	// MeterID is the meter's identity; a change breaks the quarter.
	MeterID string
	// Import and Export are the registers 1-0:1.8.0 and 1-0:2.8.0 in kWh.
	Import, Export float64
	// Power is the net power now in kW, imported minus exported
	// (1-0:1.7.0 - 1-0:2.7.0), for the live projection; HasPower is false
	// when the telegram has neither, and the quarter's average power so
	// far stands in for it.
	Power    float64
	HasPower bool
}

// Quarter is one quarter-hour of the meter's registers.
type Quarter struct {
	// Start and End are the quarter's boundaries, End = Start + Length,
	// in the Ledger's time zone (Luxembourg's by default), so that
	// formatting them gives the local offset. Across the change to winter
	// time a quarter may start at 02:45+02:00 and end at 02:00+01:00.
	Start, End time.Time
	// Import and Export are the energies in kWh that the registers
	// 1-0:1.8.0 and 1-0:2.8.0 counted in the quarter, rounded to 1e-6
	// kWh; zero when the quarter is Broken.
	Import, Export float64
	Quality        Quality
}

// Average returns the quarter's average imported power in kW, the figure
// the operator compares with the reference power: Import / 0.25 h. It is
// zero for a Broken quarter.
func (q Quarter) Average() float64 { return round(q.Import / Length.Hours()) }

// Excess returns the energy in kWh imported above the reference power
// refPower (kW): max(0, Import - refPower × 0.25 h). It is zero when
// refPower is 0 or less and for a Broken quarter.
func (q Quarter) Excess(refPower float64) float64 {
	if refPower <= 0 || q.Quality == Broken {
		return 0
	}
	return round(max(0, q.Import-refPower*Length.Hours()))
}

// round rounds kWh to 1e-6 kWh, so that a difference of registers such as
// 12.345 - 12.000 is 0.345 and not 0.34500000000000064.
func round(kWh float64) float64 { return math.Round(kWh*1e6) / 1e6 }

// reading is an accepted sample, with its time in UTC.
type reading struct {
	t, recv  time.Time
	imp, exp float64
	power    float64
	hasPower bool
	meter    string
}

// boundary is a register value at a quarter boundary; a Broken one has no
// value. Values of different segments do not subtract.
type boundary struct {
	at       time.Time
	imp, exp float64
	quality  Quality
	seg      uint64
}

// Ledger turns the readings of a meter, one telegram after another, into
// quarters, and keeps the live figures of the current quarter. The zero
// Ledger is ready to use; set RefPower (and Price) before the first
// reading for the live figures. A Ledger is not safe for concurrent use.
//
// Its memory is bounded whatever the readings: it keeps the last reading,
// one held reading, and the quarters of one call.
type Ledger struct {
	// RefPower is the reference power in kW; 0 means none: no excess
	// and no warning.
	RefPower float64
	// Price is the price of the excess in EUR per kWh, for the costs in
	// Status; 0 means none. There is no default: it changes every year
	// (0.1139 EUR/kWh in 2025).
	Price float64
	// Location is the time zone the quarters' Start and End, and the days
	// and months of the excess, are given in. nil means that of the
	// telegrams (dsmr.Telegram.Location) with AddTelegram, and
	// Luxembourg's (dsmr.DefaultZone) otherwise. Quarters start at :00,
	// :15, :30 and :45 in any zone whose offset is a multiple of 15
	// minutes, which all are today.
	Location *time.Location

	started    bool
	last       reading // the last accepted reading
	pending    reading // a reading that jumped, until the next decides
	hasPending bool
	seg        uint64  // the current segment: readings that subtract
	segStart   reading // its first reading
	start      boundary
	hasStart   bool
	next       time.Time // the next boundary to settle, after last.t
	ignored    int64
	out        []Quarter

	meterRaw []byte // the meter id as sent, to decode it only on change
	meterID  string
	hasMeter bool

	telegramZone           *time.Location // of the last telegram, for zone
	status                 Status
	hasStatus              bool
	dayKey, monthKey       day
	excessDay, excessMonth float64 // of the quarters closed in dayKey, monthKey
	warnQuarter            time.Time
	warning, warned        bool
}

// AddTelegram adds the reading of a telegram received at the given process
// time (zero for a capture) and returns the quarters it completed, usually
// none, in order. The slice is valid until the next call. A telegram
// without a valid time (0-0:1.0.0) or without an import register
// (1-0:1.8.0, or the tariff registers 1-0:1.8.1 and 1-0:1.8.2) is
// ignored; a missing export register counts as 0. AddTelegram allocates
// nothing while the meter id stays the same.
func (l *Ledger) AddTelegram(t *dsmr.Telegram, received time.Time) []Quarter {
	tm, ok := t.Time()
	if !ok {
		l.ignored++
		return nil
	}
	imp, ok := t.EnergyImport()
	if !ok {
		l.ignored++
		return nil
	}
	exp, _ := t.EnergyExport()
	l.telegramZone = t.Location
	s := Sample{Time: tm, Received: received, Import: imp, Export: exp}
	pi, okI := t.PowerImport()
	pe, okE := t.PowerExport()
	if okI || okE {
		s.Power, s.HasPower = pi-pe, true
	}
	if raw := meterIDValue(t); !l.hasMeter || !bytes.Equal(raw, l.meterRaw) {
		l.meterRaw = append(l.meterRaw[:0], raw...)
		l.meterID, l.hasMeter = t.MeterID(), true
	}
	s.MeterID = l.meterID
	return l.Add(s)
}

// meterIDValue returns the raw value dsmr.Telegram.MeterID decodes, nil
// when the telegram has none.
func meterIDValue(t *dsmr.Telegram) []byte {
	for _, c := range [...]dsmr.OBIS{dsmr.CodeMeterID, dsmr.CodeEquipmentID} {
		if o := t.Find(c); o != nil && len(o.Values) > 0 {
			return o.Values[0].Bytes()
		}
	}
	return nil
}

// Add adds a reading and returns the quarters it completed, usually none,
// in order; see the package comment for the rules. The slice is valid
// until the next call. Readings must come in the order the meter sent
// them; one that jumps is held until the next reading decides, so a call
// may complete quarters of the reading before.
func (l *Ledger) Add(s Sample) []Quarter {
	l.out = l.out[:0]
	l.status.Warn = false
	if s.Time.IsZero() {
		l.ignored++
		return nil
	}
	cur := reading{t: s.Time.UTC(), recv: s.Received, imp: s.Import, exp: s.Export,
		power: s.Power, hasPower: s.HasPower, meter: s.MeterID}
	if !l.started {
		l.begin(cur)
		l.live()
		return l.out
	}
	if l.hasPending {
		p := l.pending
		l.hasPending = false
		dt := cur.t.Sub(p.t)
		if classify(l.last, cur) == stepJump && dt > 0 && dt <= estimatedGap {
			l.breakTo(p) // the clock did jump: cur follows p
		} else {
			l.ignored++ // p was a glitch, or cur jumps too
		}
	}
	switch classify(l.last, cur) {
	case stepNear:
		if cur.meter != l.last.meter || cur.imp < l.last.imp || cur.exp < l.last.exp {
			l.breakTo(cur)
		} else {
			l.advance(cur)
		}
	case stepClock:
		l.breakTo(cur)
	case stepJump:
		if cur.t.Equal(l.last.t) {
			l.ignored++ // a repeat
		} else {
			l.pending, l.hasPending = cur, true
		}
		return l.out
	}
	l.live()
	return l.out
}

// Ignored returns the number of readings the Ledger did not use: without
// a time or an import register, repeated, or glitches of the meter's clock.
func (l *Ledger) Ignored() int64 { return l.ignored }

type step uint8

const (
	stepNear  step = iota // b follows a within estimatedGap
	stepClock             // ... but the meter's clock moved unlike the process clock
	stepJump              // b is not after a, or too far after it
)

func classify(a, b reading) step {
	dt := b.t.Sub(a.t)
	if dt <= 0 || dt > estimatedGap {
		return stepJump
	}
	if !a.recv.IsZero() && !b.recv.IsZero() {
		if d := dt - b.recv.Sub(a.recv); d > clockSlack || d < -clockSlack {
			return stepClock
		}
	}
	return stepNear
}

// begin starts on the first reading.
func (l *Ledger) begin(cur reading) {
	l.started = true
	l.seg = 1
	l.segStart, l.last = cur, cur
	l.next = cur.t.Truncate(Length)
	if l.next.Equal(cur.t) {
		l.settle(boundary{at: cur.t, imp: cur.imp, exp: cur.exp, seg: l.seg})
	} else {
		l.next = l.next.Add(Length)
	}
}

// advance settles the boundaries up to cur by interpolation from the last
// reading, in the same segment.
func (l *Ledger) advance(cur reading) {
	gap := cur.t.Sub(l.last.t)
	for !l.next.After(cur.t) {
		b := boundary{at: l.next, imp: cur.imp, exp: cur.exp, seg: l.seg}
		if !l.next.Equal(cur.t) {
			f := float64(l.next.Sub(l.last.t)) / float64(gap)
			b.imp = l.last.imp + (cur.imp-l.last.imp)*f
			b.exp = l.last.exp + (cur.exp-l.last.exp)*f
			if gap > okGap {
				b.quality = Estimated
			}
		}
		l.settle(b)
	}
	l.last = cur
}

// breakTo starts a new segment at cur: the boundaries since the last
// reading are broken, except one that cur falls on.
func (l *Ledger) breakTo(cur reading) {
	l.seg++
	if lastB := cur.t.Truncate(Length); lastB.Sub(l.next) > maxSkip {
		// Report the quarter of the last reading, leave out those
		// wholly inside the gap.
		l.settle(boundary{at: l.next, quality: Broken})
		l.hasStart = false
		l.next = lastB
	}
	for !l.next.After(cur.t) {
		b := boundary{at: l.next, quality: Broken}
		if l.next.Equal(cur.t) {
			b = boundary{at: cur.t, imp: cur.imp, exp: cur.exp, seg: l.seg}
		}
		l.settle(b)
	}
	l.segStart, l.last = cur, cur
}

// settle records the value at the next boundary and completes the quarter
// that ends there.
func (l *Ledger) settle(b boundary) {
	if l.hasStart {
		q := Quarter{Start: l.local(l.start.at), End: l.local(b.at), Quality: max(l.start.quality, b.quality)}
		if q.Quality == Broken || l.start.seg != b.seg {
			q.Quality = Broken
		} else {
			q.Import = round(b.imp - l.start.imp)
			q.Export = round(b.exp - l.start.exp)
		}
		l.out = append(l.out, q)
		l.closed(q)
	}
	l.start, l.hasStart = b, true
	l.next = b.at.Add(Length)
}
