package smarty

import (
	"errors"
	"fmt"
	"strings"
)

// Reasons a frame is skipped. Reader.Next returns them wrapped in a
// *FrameError, so test them with errors.Is.
var (
	// ErrAuth: the GCM tag did not verify. Most often the key is wrong, or
	// the meter uses another authentication key than the default; a frame
	// damaged on the line fails the same way.
	ErrAuth = errors.New("authentication failed: wrong key, or the meter uses another authentication key, or the frame was damaged")
	// ErrTruncated: the frame ended early, cut by a reconnect, a glitch or
	// the end of a capture.
	ErrTruncated = errors.New("frame cut short")
	// ErrTooLarge: the frame is longer than Reader.MaxFrameSize.
	ErrTooLarge = errors.New("frame too large")
	// ErrHeader: the envelope's header has a field no meter sends.
	ErrHeader = errors.New("malformed frame header")
	// ErrNoKey: an encrypted frame arrived but the Reader has no Cipher.
	ErrNoKey = errors.New("encrypted frame, but no key was given")
	// ErrNotTelegram: the bytes of a plain telegram are not text (a byte
	// outside printable ASCII).
	ErrNotTelegram = errors.New("not a telegram")
)

// FrameError reports a frame that was skipped. The stream itself is fine:
// the next call to Reader.Next goes on with the next frame.
type FrameError struct {
	// Offset is the position of the frame's first byte in the stream.
	Offset int64
	// Size is the number of bytes the frame took, when known.
	Size int
	// Encrypted tells an envelope (0xDB) from a plain telegram ('/').
	Encrypted bool
	// Header is the envelope's header, when Encrypted and it was read.
	Header Header
	// Err is the reason: ErrAuth, ErrTruncated, ErrTooLarge, ErrHeader,
	// ErrNoKey, ErrNotTelegram, or a dsmr error (dsmr.ErrCRC,
	// dsmr.ErrSyntax) for a telegram that decrypted but does not parse.
	Err error
}

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
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "smarty: "))
	return b.String()
}

func (e *FrameError) Unwrap() error { return e.Err }
