// Package backoff computes the waits between attempts to reach something
// that is away: a device (smarty/p1's Stream) or a broker (mqttpub). One
// implementation for both, so that they back off alike.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff computes capped exponential waits: Min, 2*Min, 4*Min, ... up to
// Max, then Max for ever, until Reset. With Jitter, each wait is shortened
// by up to that fraction at random, so that many clients that lost the
// same server do not retry in step. The zero value waits 1 s to 30 s,
// without jitter.
type Backoff struct {
	Min, Max time.Duration
	// Jitter is the largest fraction, from 0 to 1, taken off a wait at
	// random.
	Jitter float64

	attempts int
}

// Defaults of Min and Max.
const (
	DefaultMin = time.Second
	DefaultMax = 30 * time.Second
)

// Bounds returns the shortest and the longest wait, defaults filled in.
func (b *Backoff) Bounds() (lo, hi time.Duration) {
	lo, hi = b.Min, b.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	return lo, max(lo, hi)
}

// Next returns the wait before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Bounds()
	d := lo
	for i := 0; i < b.attempts && d < hi; i++ {
		d *= 2
	}
	b.attempts++
	d = min(d, hi)
	if j := min(max(b.Jitter, 0), 1); j > 0 {
		d -= time.Duration(rand.Int64N(int64(float64(d)*j) + 1))
	}
	return d
}

// Attempts returns how many waits Next has handed out since the last
// Reset.
func (b *Backoff) Attempts() int { return b.attempts }

// Reset starts again from Min.
func (b *Backoff) Reset() { b.attempts = 0 }
