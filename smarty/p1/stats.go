package p1

import (
	"fmt"
	"strings"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Stats counts what a [Stream] has seen since it was made, across every
// reconnect.
type Stats struct {
	Telegrams int64                    // telegrams returned
	Failed    int64                    // frames skipped, every class
	ByFailure map[smarty.Failure]int64 // frames skipped, per class; nil when none
	BytesRead int64                    // bytes read from the device
	Skipped   int64                    // bytes that were not part of a telegram
	Opens     int64                    // successful opens of the device
	Losses    int64                    // device failures: read errors and failed opens
	Timeouts  int64                    // times the watchdog closed a silent device
	Down      time.Duration            // time spent without the device, summed
	// LastTelegram is when the last telegram was returned, by the
	// process clock; zero before the first.
	LastTelegram time.Time
	// Link is the state of the link to the meter.
	Link LinkState
	// Tracker counts the frame counter's anomalies and changes of meter.
	Tracker smarty.TrackerCounts
}

// Reconnects returns how many times the device was opened again after
// the first time.
func (s Stats) Reconnects() int64 { return max(s.Opens-1, 0) }

// String summarises the counts on one line for a log: "telegrams 8640,
// failed 3 (auth 1, truncated 2), bytes read 5600000, ...".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "telegrams %d, failed %d", s.Telegrams, s.Failed)
	if s.Failed > 0 {
		b.WriteString(" (")
		sep := ""
		for _, f := range smarty.Failures() {
			if n := s.ByFailure[f]; n > 0 {
				fmt.Fprintf(&b, "%s%s %d", sep, f, n)
				sep = ", "
			}
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", bytes read %d, skipped %d, reconnects %d, watchdog timeouts %d, time without device %s; %s",
		s.BytesRead, s.Skipped, s.Reconnects(), s.Timeouts, s.Down.Round(time.Second), s.Tracker)
	return b.String()
}
