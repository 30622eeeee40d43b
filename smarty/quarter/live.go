package quarter

import "time"

// release is the hysteresis of the warning: once raised, it is cleared
// when the projection falls below this fraction of the reference energy.
const release = 0.95

// Status is the live state of the current quarter, as of the last reading
// a Ledger accepted. Energies are in kWh, powers in kW, costs in EUR.
type Status struct {
	// Time is the meter's time of the reading, local like Start and End;
	// Received the process clock when it was read (zero for captures).
	Time, Received time.Time
	// Start and End are the current quarter's boundaries.
	Start, End time.Time
	// Import and Export are the energies since Start. When Start has no
	// measured value (the readings began, or broke, inside the quarter),
	// the time before the first reading is counted at that reading's
	// power and Quality is Estimated.
	Import, Export float64
	Quality        Quality
	// Average is Import over the time since Start; 0 at the very start
	// of the quarter.
	Average float64
	// Power is the net power now (Sample.Power), or Average when the
	// telegram has no power.
	Power float64
	// Projected is the import expected by End: Import + Power × the time
	// left, counting no export. Projected / 0.25 h is the quarter's
	// expected average power, which is compared with RefPower.
	Projected float64

	// The figures below are zero without a reference power.

	// RefPower and Price are the Ledger's at the reading.
	RefPower, Price float64
	// Margin is the power that can still be drawn on top of Power until
	// End without exceeding RefPower over the quarter: (RefPower × 0.25 h
	// - Import) / time left - Power. It is negative when the load must
	// drop by that much; when the quarter is over its reference energy
	// already, it is -Power.
	Margin float64
	// Excess is max(0, Import - RefPower × 0.25 h) so far; ExcessDay and
	// ExcessMonth add the excess of the quarters completed in the same
	// local day and month (Broken ones count nothing), since the Ledger
	// began.
	Excess, ExcessDay, ExcessMonth float64
	// Cost, CostDay and CostMonth are the excesses at Price; zero without
	// a price.
	Cost, CostDay, CostMonth float64
	// Warning is true while the projection is above RefPower: raised when
	// Projected (rounded as shown) exceeds RefPower × 0.25 h, cleared when it falls below 95%
	// of that, or when the quarter ends. Warn is true in the one Status
	// where Warning was raised for the first time in its quarter, so that
	// a warning is sent at most once per quarter.
	Warning, Warn bool
}

// Status returns the live figures as of the last reading, and false
// before the first one. A reading that is held (see the package comment)
// does not change them.
func (l *Ledger) Status() (Status, bool) { return l.status, l.hasStatus }

// closed counts a completed quarter into the day's and month's excess.
func (l *Ledger) closed(q Quarter) {
	d := dayOf(q.Start)
	if d != l.dayKey {
		l.dayKey, l.excessDay = d, 0
	}
	if m := d.month(); m != l.monthKey {
		l.monthKey, l.excessMonth = m, 0
	}
	e := q.Excess(l.RefPower)
	l.excessDay += e
	l.excessMonth += e
}

// live computes the Status of the last reading.
func (l *Ledger) live() {
	cur := l.last
	start := cur.t.Truncate(Length)
	end := start.Add(Length)
	st := Status{Time: l.local(cur.t), Received: cur.recv, Start: l.local(start), End: l.local(end),
		RefPower: l.RefPower, Price: l.Price}
	elapsed := cur.t.Sub(start).Hours()
	left := end.Sub(cur.t).Hours() // > 0: cur.t < end
	var imp, exp float64           // unrounded
	if l.hasStart && l.start.at.Equal(start) && l.start.quality != Broken && l.start.seg == l.seg {
		imp, exp = cur.imp-l.start.imp, cur.exp-l.start.exp
		st.Quality = l.start.quality
	} else {
		// No measured start: extrapolate from the segment's readings.
		s := l.segStart
		known := cur.t.Sub(s.t).Hours()
		if s.t.Before(start) {
			// Only after the clock was set back: the segment's
			// average rate over the elapsed part.
			imp = (cur.imp - s.imp) / known * elapsed
			exp = (cur.exp - s.exp) / known * elapsed
		} else {
			rateImp, rateExp := 0.0, 0.0
			switch {
			case s.hasPower:
				rateImp, rateExp = max(0, s.power), max(0, -s.power)
			case known > 0:
				rateImp, rateExp = (cur.imp-s.imp)/known, (cur.exp-s.exp)/known
			}
			before := s.t.Sub(start).Hours()
			imp = cur.imp - s.imp + rateImp*before
			exp = cur.exp - s.exp + rateExp*before
		}
		st.Quality = Estimated
	}
	var avg float64
	if elapsed > 0 {
		avg = imp / elapsed
	}
	power := avg
	if cur.hasPower {
		power = cur.power
	}
	projected := imp + max(0, power)*left
	st.Import, st.Export, st.Average, st.Power, st.Projected = round(imp), round(exp), round(avg), power, round(projected)

	if l.RefPower > 0 {
		limit := l.RefPower * Length.Hours()
		st.Margin = round(max(0, limit-imp)/left - max(0, power))
		excess := max(0, imp-limit)
		d := dayOf(st.Start)
		day, month := excess, excess
		if d == l.dayKey {
			day += l.excessDay
		}
		if d.month() == l.monthKey {
			month += l.excessMonth
		}
		st.Excess, st.ExcessDay, st.ExcessMonth = round(excess), round(day), round(month)
		st.Cost = round(excess * l.Price)
		st.CostDay = round(day * l.Price)
		st.CostMonth = round(month * l.Price)

		if !start.Equal(l.warnQuarter) {
			l.warnQuarter, l.warning, l.warned = start, false, false
		}
		switch {
		case !l.warning && st.Projected > limit:
			l.warning = true
			st.Warn = !l.warned
			l.warned = true
		case l.warning && st.Projected < limit*release:
			l.warning = false
		}
		st.Warning = l.warning
	}
	l.status, l.hasStatus = st, true
}
