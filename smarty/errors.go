package smarty

import (
	"errors"
	"fmt"
	"strings"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// Reasons a frame is skipped. [Reader.Next] returns them wrapped in a
// [*FrameError], so test them with [errors.Is], or classify the frame
// with [FrameError.Failure].
var (
	// ErrAuth: the GCM tag did not verify. Most often the key is wrong, or
	// the meter uses another authentication key than the default; a frame
	// damaged on the line fails the same way.
	ErrAuth = errors.New("authentication failed: wrong key, or the meter uses another authentication key, or the frame was damaged")
	// ErrTruncated: the frame ended early, cut by a reconnect, a glitch or
	// the end of a capture.
	ErrTruncated = errors.New("frame cut short")
	// ErrTooLarge: the frame is longer than [Reader.MaxFrameSize].
	ErrTooLarge = errors.New("frame too large")
	// ErrHeader: the envelope's header has a field no meter sends.
	ErrHeader = errors.New("malformed frame header")
	// ErrNoKey: an encrypted frame arrived but the Reader has no Cipher.
	ErrNoKey = errors.New("encrypted frame, but no key was given")
	// ErrPlain: a plain telegram arrived where a key says the meter's
	// come encrypted (see [Reader.AllowPlain]). Nothing authenticates a
	// plain telegram: anyone with access to the line or to a network
	// adapter could have sent it.
	ErrPlain = errors.New("plain telegram, though a key was given: it is not authenticated, so it is refused")
	// ErrNotTelegram: the bytes of a plain telegram are not text (a byte
	// outside printable ASCII).
	ErrNotTelegram = errors.New("not a telegram")
)

// Failure is the class of a frame's failure: why [Reader.Next] skipped it.
// Summaries, counters and metrics key on it; its String is a stable
// snake_case name fit for a Prometheus label value or a JSON key.
//
// The zero Failure is not a class; [FrameError.Failure] never returns it.
type Failure int

// The classes of failure, in the order [Failures] lists them.
const (
	FailureAuth        Failure = iota + 1 // "auth": [ErrAuth], wrong key or authentication key, or damage
	FailureNoKey                          // "no_key": [ErrNoKey], an encrypted frame and no key
	FailurePlain                          // "plain": [ErrPlain], a plain telegram refused because a key was given
	FailureTruncated                      // "truncated": [ErrTruncated], cut short
	FailureTooLarge                       // "too_large": [ErrTooLarge]
	FailureHeader                         // "header": [ErrHeader], a malformed envelope header
	FailureNotTelegram                    // "not_telegram": [ErrNotTelegram], a plain telegram that is not text
	FailureCRC                            // "crc": [dsmr.ErrCRC], the telegram's checksum does not match
	FailureSyntax                         // "syntax": [dsmr.ErrSyntax], the telegram does not parse
	FailureOther                          // "other": any other error
	numFailures        = int(FailureOther)
)

var failureNames = [...]string{
	FailureAuth:        "auth",
	FailureNoKey:       "no_key",
	FailurePlain:       "plain",
	FailureTruncated:   "truncated",
	FailureTooLarge:    "too_large",
	FailureHeader:      "header",
	FailureNotTelegram: "not_telegram",
	FailureCRC:         "crc",
	FailureSyntax:      "syntax",
	FailureOther:       "other",
}

// String returns the class's stable name: "auth", "no_key", "plain", "truncated",
// "too_large", "header", "not_telegram", "crc", "syntax" or "other".
// A value that is not a class gives "Failure(n)".
func (f Failure) String() string {
	if f > 0 && int(f) < len(failureNames) {
		return failureNames[f]
	}
	return fmt.Sprintf("Failure(%d)", int(f))
}

// Failures returns every class, in a fixed order (the most telling first),
// for summaries and for metrics that list each class even at zero.
func Failures() []Failure {
	all := make([]Failure, numFailures)
	for i := range all {
		all[i] = Failure(i + 1)
	}
	return all
}

// failureOf classifies the reason of a skipped frame.
func failureOf(err error) Failure {
	switch {
	case errors.Is(err, ErrAuth):
		return FailureAuth
	case errors.Is(err, ErrNoKey):
		return FailureNoKey
	case errors.Is(err, ErrPlain):
		return FailurePlain
	case errors.Is(err, ErrTruncated):
		return FailureTruncated
	case errors.Is(err, ErrTooLarge):
		return FailureTooLarge
	case errors.Is(err, ErrHeader):
		return FailureHeader
	case errors.Is(err, ErrNotTelegram):
		return FailureNotTelegram
	case errors.Is(err, dsmr.ErrCRC):
		return FailureCRC
	case errors.Is(err, dsmr.ErrSyntax):
		return FailureSyntax
	}
	return FailureOther
}

// FrameError reports a frame that was skipped. The stream itself is fine:
// the next call to [Reader.Next] goes on with the next frame.
type FrameError struct {
	// Offset is the position of the frame's first byte in the stream.
	Offset int64
	// Size is the number of bytes the frame took, when known.
	Size int
	// Encrypted tells an envelope (0xDB) from a plain telegram ('/').
	Encrypted bool
	// Header is the envelope's header, when Encrypted and it was read.
	Header Header
	// Err is the reason: [ErrAuth], [ErrTruncated], [ErrTooLarge],
	// [ErrHeader], [ErrNoKey], [ErrNotTelegram], or a dsmr error
	// ([dsmr.ErrCRC], [dsmr.ErrSyntax]) for a telegram that decrypted but
	// does not parse; each may be wrapped with details.
	Err error
}

// Failure returns the class of the failure, from Err: [FailureOther] when
// Err is none of the reasons listed there.
func (e *FrameError) Failure() Failure { return failureOf(e.Err) }

func (e *FrameError) Error() string {
	var b strings.Builder
	b.WriteString("smarty: ")
	if e.Encrypted {
		b.WriteString("encrypted frame")
	} else {
		b.WriteString("telegram")
	}
	fmt.Fprintf(&b, " at byte %d", e.Offset)
	if e.Encrypted && e.Header.Length > 0 {
		fmt.Fprintf(&b, " (system title %s, frame counter %d)", e.Header.SystemTitle, e.Header.FrameCounter)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("bad frame")
	}
	return b.String()
}

// Unwrap returns Err.
func (e *FrameError) Unwrap() error { return e.Err }

// detail is the reason of a skipped frame: a sentinel and what went
// wrong, put into words only when it is read, so that a flood of bad
// frames costs no formatting.
type detail struct {
	err    error
	format string // one verb per number
	nums   [3]int64
	n      int
}

// details returns the error err: fmt.Sprintf(format, nums...), with up to
// three numbers.
func details(err error, format string, nums ...int64) error {
	d := &detail{err: err, format: format}
	d.n = copy(d.nums[:], nums)
	return d
}

func (d *detail) Error() string {
	args := make([]any, d.n)
	for i := range args {
		args[i] = d.nums[i]
	}
	return d.err.Error() + ": " + fmt.Sprintf(d.format, args...)
}

func (d *detail) Unwrap() error { return d.err }
