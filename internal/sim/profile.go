package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Profile is a household's net power over time, in steps: each point sets
// the power from its time on, until the next point. Positive power is
// drawn from the grid, negative power fed into it (solar). A daily
// profile repeats every day in Luxembourg's local time (a point at 12:00
// is at noon in winter and in summer); an absolute one gives dates, with
// no power before its first point.
//
// A Meter that follows a Profile shows its power, split over the three
// phases, and counts its exact integral in the energy registers, so that
// a test can compute what a reader of the telegrams must find (Energy).
type Profile struct {
	daily  bool
	points []point // by time
}

type point struct {
	at  time.Duration // daily: local wall-clock time since midnight
	abs time.Time     // absolute
	w   int64         // watts
}

// maxPoints bounds a profile read from a file.
const maxPoints = 100_000

// ParseProfile reads a profile as CSV lines "time,kW": the time of day
// (15:04 or 15:04:05, local time, repeated daily) or an RFC 3339 time
// (absolute), all lines of the same kind, and the power in kW (negative
// for export) with at most three decimals. Empty lines, lines starting
// with '#' and a first line "time,kw" are skipped. The lines may come in
// any order.
func ParseProfile(r io.Reader) (*Profile, error) {
	p := new(Profile)
	sc := bufio.NewScanner(r)
	kinds := 0 // 1 daily, 2 absolute
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || n == 1 && strings.EqualFold(strings.ReplaceAll(line, " ", ""), "time,kw") {
			continue
		}
		if len(p.points) == maxPoints {
			return nil, fmt.Errorf("sim: profile: more than %d lines", maxPoints)
		}
		when, kw, ok := strings.Cut(line, ",")
		if !ok {
			return nil, fmt.Errorf("sim: profile line %d: %q: want time,kW", n, line)
		}
		when, kw = strings.TrimSpace(when), strings.TrimSpace(kw)
		var pt point
		kind := 1
		if d, err := parseClock(when); err == nil {
			pt.at = d
		} else if t, err := time.Parse(time.RFC3339, when); err == nil {
			pt.abs, kind = t, 2
		} else {
			return nil, fmt.Errorf("sim: profile line %d: %q is neither a time of day (12:30) nor an RFC 3339 time", n, when)
		}
		if kinds != 0 && kind != kinds {
			return nil, fmt.Errorf("sim: profile line %d: times of day and dates mixed", n)
		}
		kinds = kind
		v, err := strconv.ParseFloat(kw, 64)
		if err != nil || math.IsNaN(v) || math.Abs(v) > 1e6 {
			return nil, fmt.Errorf("sim: profile line %d: %q is not a power in kW", n, kw)
		}
		pt.w = int64(math.Round(v * 1000))
		p.points = append(p.points, pt)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sim: profile: %w", err)
	}
	if len(p.points) == 0 {
		return nil, errors.New("sim: profile: no line of time,kW")
	}
	p.daily = kinds == 1
	sort.SliceStable(p.points, func(i, j int) bool {
		if p.daily {
			return p.points[i].at < p.points[j].at
		}
		return p.points[i].abs.Before(p.points[j].abs)
	})
	return p, nil
}

// parseClock parses 15:04 or 15:04:05 into the time since midnight.
func parseClock(s string) (time.Duration, error) {
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
		}
	}
	return 0, errors.New("not a time of day")
}

// appliance is a named part of a daily profile: a power added between
// times of day (on > off crosses midnight).
type appliance struct {
	kW      float64
	on, off []time.Duration
}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

// baseLoad is always on: fridge, standby, lights.
const baseLoad = 0.3

// patterns are the named profiles, each added to the base load.
var patterns = map[string]appliance{
	"cooker":   {kW: 3, on: []time.Duration{hm(11, 50)}, off: []time.Duration{hm(12, 35)}},
	"car":      {kW: 7.4, on: []time.Duration{hm(22, 10)}, off: []time.Duration{hm(2, 40)}},
	"heatpump": heatPump(),
	"solar":    {kW: -3.5, on: []time.Duration{hm(10, 0)}, off: []time.Duration{hm(16, 0)}},
}

// heatPump runs 20 minutes of every hour, from :05 to :25.
func heatPump() appliance {
	a := appliance{kW: 2}
	for h := range 24 {
		a.on = append(a.on, hm(h, 5))
		a.off = append(a.off, hm(h, 25))
	}
	return a
}

// PatternNames are the named profiles NamedProfile knows, sorted.
func PatternNames() []string {
	names := make([]string, 0, len(patterns))
	for n := range patterns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NamedProfile returns the daily profile of the named patterns joined by
// '+' ("cooker+car"), each added to a base load of 0.3 kW:
//
//	base      0.3 kW all day (the base alone)
//	cooker    3 kW from 11:50 to 12:35
//	car       7.4 kW from 22:10 to 02:40
//	heatpump  2 kW from :05 to :25 of every hour
//	solar     3.5 kW fed in from 10:00 to 16:00
func NamedProfile(spec string) (*Profile, error) {
	var parts []appliance
	for name := range strings.SplitSeq(spec, "+") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "base" {
			continue
		}
		a, ok := patterns[name]
		if !ok {
			return nil, fmt.Errorf("sim: no load pattern %q (there are base, %s)", name, strings.Join(PatternNames(), ", "))
		}
		parts = append(parts, a)
	}
	// The power at each time an appliance switches, in watts.
	at := map[time.Duration]bool{0: true}
	for _, a := range parts {
		for _, t := range append(slices.Clone(a.on), a.off...) {
			at[t] = true
		}
	}
	p := &Profile{daily: true}
	for t := range at {
		w := int64(math.Round(baseLoad * 1000))
		for _, a := range parts {
			if a.onAt(t) {
				w += int64(math.Round(a.kW * 1000))
			}
		}
		p.points = append(p.points, point{at: t, w: w})
	}
	slices.SortFunc(p.points, func(a, b point) int { return int(a.at - b.at) })
	return p, nil
}

// onAt reports whether a is on at time of day t.
func (a appliance) onAt(t time.Duration) bool {
	for k := range a.on {
		on, off := a.on[k], a.off[k]
		if on <= off && t >= on && t < off || on > off && (t >= on || t < off) {
			return true
		}
	}
	return false
}

// LoadProfile returns the profile spec names: a CSV file (ParseProfile)
// when a file of that name exists or spec looks like a path, else named
// patterns (NamedProfile).
func LoadProfile(spec string) (*Profile, error) {
	f, err := os.Open(spec)
	switch {
	case err == nil:
		defer f.Close()
		p, err := ParseProfile(f)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, spec)
		}
		return p, nil
	case strings.ContainsAny(spec, `/\.`):
		return nil, fmt.Errorf("sim: profile: %w", err)
	}
	return NamedProfile(spec)
}

// Power returns the profile's power at t in kW.
func (p *Profile) Power(t time.Time) float64 { return float64(p.watts(t)) / 1000 }

// Energy returns the exact integral of the profile from from to to, in
// kWh: imported (the positive part) and exported (the negative part).
// Times are taken to the microsecond.
func (p *Profile) Energy(from, to time.Time) (imp, exp float64) {
	i, e := p.energy(from, to)
	return float64(i) / wattMicrosPerKWh, float64(e) / wattMicrosPerKWh
}

const (
	wattMicrosPerWh  = 3600 * 1e6
	wattMicrosPerKWh = 1000 * wattMicrosPerWh
)

// energy is the integral in watt-microseconds, imported and exported.
// Times are truncated to the microsecond, so that integrals of adjacent
// spans add up exactly.
func (p *Profile) energy(from, to time.Time) (imp, exp int64) {
	for t := from; t.Before(to); {
		next := p.nextChange(t)
		if next.After(to) || next.IsZero() {
			next = to
		}
		e := p.watts(t) * (next.UnixMicro() - t.UnixMicro())
		if e > 0 {
			imp += e
		} else {
			exp -= e
		}
		t = next
	}
	return imp, exp
}

// watts returns the power at t.
func (p *Profile) watts(t time.Time) int64 {
	if !p.daily {
		k := sort.Search(len(p.points), func(k int) bool { return p.points[k].abs.After(t) })
		if k == 0 {
			return 0
		}
		return p.points[k-1].w
	}
	w := p.points[len(p.points)-1].w // the day before's last point
	day := localMidnight(t)
	for _, pt := range p.points {
		if luxInstant(day, pt.at).After(t) {
			break
		}
		w = pt.w
	}
	return w
}

// nextChange returns the first time after t the power may change; zero
// when it never does.
func (p *Profile) nextChange(t time.Time) time.Time {
	if !p.daily {
		k := sort.Search(len(p.points), func(k int) bool { return p.points[k].abs.After(t) })
		if k == len(p.points) {
			return time.Time{}
		}
		return p.points[k].abs
	}
	day := localMidnight(t)
	for range 3 {
		for _, pt := range p.points {
			if i := luxInstant(day, pt.at); i.After(t) {
				return i
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{} // not reached: every day has its points
}

// localMidnight returns the local date of t as midnight UTC: the wall
// clock of Luxembourg's midnight, not an instant.
func localMidnight(t time.Time) time.Time {
	l, _ := luxTime(t)
	y, m, d := l.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// luxInstant returns the instant at which Luxembourg's clocks show day +
// clock (day from localMidnight). A time the clocks skip in March is
// taken as the moment they skip to 03:00; a time they show twice in
// October is the first.
func luxInstant(day time.Time, clock time.Duration) time.Time {
	wall := day.Add(clock)
	if u := wall.Add(-2 * time.Hour); isSummer(u) {
		return u
	}
	u := wall.Add(-time.Hour)
	if isSummer(u) { // in the skipped hour
		return lastSunday(u.Year(), time.March).Add(time.Hour)
	}
	return u
}

func isSummer(u time.Time) bool {
	_, summer := luxTime(u)
	return summer
}
