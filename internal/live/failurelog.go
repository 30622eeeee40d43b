package live

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Defaults of the failure log.
const (
	// DefaultFailureInterval is how long the failure log counts the
	// frames it does not log one by one before it says how many.
	DefaultFailureInterval = time.Minute
	// DefaultFailureBurst is how many failed frames an interval logs in
	// full.
	DefaultFailureBurst = 5
)

// failureLog logs the frames that failed without flooding the log: in
// each interval the first burst in full, at Warn; the others at Debug
// only, and counted by class in one Warn line when the interval is over
// (at the next failure after it, or at the end).
type failureLog struct {
	log      *slog.Logger
	interval time.Duration
	burst    int
	describe func(error) string
	now      func() time.Time

	start   time.Time // of the interval
	logged  int       // in full in this interval
	counted map[smarty.Failure]int
	total   int
}

func newFailureLog(log *slog.Logger, interval time.Duration, burst int, describe func(error) string) *failureLog {
	if interval <= 0 {
		interval = DefaultFailureInterval
	}
	if burst <= 0 {
		burst = DefaultFailureBurst
	}
	return &failureLog{log: log, interval: interval, burst: burst, describe: describe, now: time.Now}
}

func (f *failureLog) add(fe *smarty.FrameError) {
	now := f.now()
	if f.start.IsZero() || now.Sub(f.start) >= f.interval {
		f.flush()
		f.start, f.logged = now, 0
	}
	msg := f.describe(fe)
	if f.logged < f.burst {
		f.logged++
		f.log.Warn(msg)
		return
	}
	f.log.Debug(msg)
	if f.counted == nil {
		f.counted = make(map[smarty.Failure]int)
	}
	f.counted[fe.Failure()]++
	f.total++
}

// flush logs the count of the failures not logged in full, if any.
func (f *failureLog) flush() {
	if f.total == 0 {
		return
	}
	var b strings.Builder
	for _, c := range smarty.Failures() {
		if n := f.counted[c]; n > 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", c, n)
		}
	}
	f.log.Warn(fmt.Sprintf("%d more %s failed since %s, not logged one by one (%s)",
		f.total, plural(f.total, "frame", "frames"), f.start.Format(time.TimeOnly), b.String()))
	clear(f.counted)
	f.total = 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
