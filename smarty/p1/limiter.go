package p1

import "time"

// How many frame counter events a Stream logs in full per interval; the
// rest are counted and the count is logged with the next one that is.
const (
	eventBurst    = 5
	eventInterval = time.Hour
)

// limiter lets the first burst events of each interval through and
// counts the others, so that a stream of anomalies (a replayed capture, a
// forged meter) cannot flood a log.
type limiter struct {
	burst    int
	interval time.Duration

	start      time.Time // of the current interval
	n          int       // let through in it
	suppressed int       // not let through since the last that was
}

// allow reports whether an event at now may be logged in full and, when
// it may, how many were held back before it.
func (l *limiter) allow(now time.Time) (held int, ok bool) {
	if l.start.IsZero() || now.Sub(l.start) >= l.interval {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.suppressed++
		return 0, false
	}
	l.n++
	held, l.suppressed = l.suppressed, 0
	return held, true
}
