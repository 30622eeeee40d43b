package live

import (
	"fmt"
	"log/slog"
	"strconv"
)

// maxLinesSeen bounds the lines lineLog remembers having logged.
const maxLinesSeen = 256

// maxLineShown is how much of a line's text a log line shows.
const maxLineShown = 160

// lineLog logs the lines the parser left out of telegrams whose CRC
// vouches for them (dsmr.Telegram.LineErrors), each once per kind of
// telegram and line: the key is the identification line and the line's
// text, so that a meter that sends the same line every ten seconds is
// logged once. It remembers a hash of each line it logged, at most max;
// past that it says so once, and logs the lines it has not seen at Debug
// only. What came from the meter is quoted, control characters escaped,
// and cut to maxLineShown bytes.
type lineLog struct {
	log    *slog.Logger
	device string
	max    int
	seen   map[uint64]struct{}
	full   bool
}

func newLineLog(log *slog.Logger, device string) *lineLog {
	return &lineLog{log: log, device: device, max: maxLinesSeen}
}

func (l *lineLog) add(r *Reading) {
	t := &r.Message.Telegram
	for _, e := range t.LineErrors() {
		h := lineKey(t.Header(), e.Text)
		if _, ok := l.seen[h]; ok {
			continue
		}
		msg := fmt.Sprintf("%s: a telegram of %s (meter %s) has a line this program cannot read, left out: line %d %s (%s); its CRC vouches for the rest, which is used. Logged once for this kind of telegram and line",
			l.device, shown(t.Header()), shown(r.MeterID), e.Line, shown(e.Text), e.Msg)
		if len(l.seen) >= l.max {
			if !l.full {
				l.full = true
				l.log.Warn(msg + fmt.Sprintf("; %d different lines were logged, so other new ones are logged at debug level only", l.max))
			} else {
				l.log.Debug(msg)
			}
			continue
		}
		if l.seen == nil {
			l.seen = make(map[uint64]struct{})
		}
		l.seen[h] = struct{}{}
		l.log.Warn(msg)
	}
}

// lineKey hashes a telegram's identification line and a line's text
// (FNV-1a, 64 bits): two lines that collide are logged once, which is
// harmless.
func lineKey(header, text string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{header, "\x00", text} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return h
}

// shown quotes text from the meter for a log line, control characters and
// bytes that are not UTF-8 escaped, cut to maxLineShown bytes.
func shown(s string) string {
	if len(s) > maxLineShown {
		return strconv.Quote(s[:maxLineShown]) + "..."
	}
	return strconv.Quote(s)
}
