package live

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// Reason is why a frame was skipped, as counted in Stats.
type Reason int

// The reasons, in the order a summary lists them.
const (
	ReasonAuth        Reason = iota // smarty.ErrAuth: wrong key or authentication key, or damage
	ReasonTruncated                 // smarty.ErrTruncated: cut short (a reconnect, a glitch)
	ReasonTooLarge                  // smarty.ErrTooLarge
	ReasonHeader                    // smarty.ErrHeader
	ReasonNoKey                     // smarty.ErrNoKey
	ReasonNotTelegram               // smarty.ErrNotTelegram
	ReasonCRC                       // dsmr.ErrCRC
	ReasonSyntax                    // dsmr.ErrSyntax
	ReasonOther                     // anything else
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonAuth:        "authentication",
	ReasonTruncated:   "cut short",
	ReasonTooLarge:    "too large",
	ReasonHeader:      "bad header",
	ReasonNoKey:       "no key",
	ReasonNotTelegram: "not a telegram",
	ReasonCRC:         "bad CRC",
	ReasonSyntax:      "syntax",
	ReasonOther:       "other",
}

func (r Reason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// ReasonOf classifies the error of a skipped frame.
func ReasonOf(err error) Reason {
	switch {
	case errors.Is(err, smarty.ErrAuth):
		return ReasonAuth
	case errors.Is(err, smarty.ErrTruncated):
		return ReasonTruncated
	case errors.Is(err, smarty.ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, smarty.ErrHeader):
		return ReasonHeader
	case errors.Is(err, smarty.ErrNoKey):
		return ReasonNoKey
	case errors.Is(err, smarty.ErrNotTelegram):
		return ReasonNotTelegram
	case errors.Is(err, dsmr.ErrCRC):
		return ReasonCRC
	case errors.Is(err, dsmr.ErrSyntax):
		return ReasonSyntax
	}
	return ReasonOther
}

// Stats counts what a Stream has seen since it was made, across every
// reconnect.
type Stats struct {
	Telegrams int64                // telegrams returned
	Failed    int64                // frames skipped, all reasons
	ByReason  [numReasons]int64    // frames skipped, per Reason
	BytesRead int64                // bytes read from the device
	Skipped   int64                // bytes that were not part of a telegram
	Opens     int64                // successful opens of the device
	Failures  int64                // losses of the device: read errors and failed opens
	Timeouts  int64                // times the watchdog closed a silent device
	Down      time.Duration        // time spent without the device, summed
	Tracker   smarty.TrackerCounts // frame counter and meter identity
}

// Reconnects returns how many times the device was opened again after the
// first time.
func (s Stats) Reconnects() int64 { return max(s.Opens-1, 0) }

// String summarises the counts on one line for the log.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "telegrams %d, failed %d", s.Telegrams, s.Failed)
	if s.Failed > 0 {
		b.WriteString(" (")
		sep := ""
		for r, n := range s.ByReason {
			if n > 0 {
				fmt.Fprintf(&b, "%s%s %d", sep, Reason(r), n)
				sep = ", "
			}
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", bytes read %d, skipped %d, reconnects %d, watchdog timeouts %d, time without device %s; %s",
		s.BytesRead, s.Skipped, s.Reconnects(), s.Timeouts, s.Down.Round(time.Second), s.Tracker)
	return b.String()
}
