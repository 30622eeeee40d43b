package p1

import "time"

// backoff computes capped exponential waits: min, 2*min, 4*min, ... up to
// max, then max for ever, until attempts is set back to 0. The zero value
// uses the defaults.
type backoff struct {
	min, max time.Duration
	attempts int
}

func (b *backoff) bounds() (lo, hi time.Duration) {
	lo, hi = b.min, b.max
	if lo <= 0 {
		lo = defaultMinBackoff
	}
	if hi <= 0 {
		hi = defaultMaxBackoff
	}
	return lo, max(lo, hi)
}

// next returns the wait before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	lo, hi := b.bounds()
	d := lo
	for i := 0; i < b.attempts && d < hi; i++ {
		d *= 2
	}
	b.attempts++
	return min(d, hi)
}
