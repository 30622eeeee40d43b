package live

import (
	"errors"
	"fmt"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// AuthFailuresToGiveUp is how many frames must fail authentication, with
// none decoded before, for the loop to call the key wrong: a meter sends
// nothing else that would ever decode.
const AuthFailuresToGiveUp = 3

// ErrWrongKey is what a *KeyError wraps: errors.Is(err, ErrWrongKey)
// tells a wrong key from other ends of the loop.
var ErrWrongKey = errors.New("live: wrong key")

// KeyError is the verdict of a wrong key: Failures frames from Device
// failed authentication before any telegram decoded. Its text names no
// flag: the command layer says what to do.
type KeyError struct {
	Device   string
	Failures int
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("live: authentication failed for the first %d frames from %s: wrong key, or the meter uses another authentication key", e.Failures, e.Device)
}

// Unwrap returns ErrWrongKey.
func (e *KeyError) Unwrap() error { return ErrWrongKey }

// KeyVerdict is what KeyCheck.Failed makes of a frame.
type KeyVerdict int

const (
	// KeyUndecided: the frame is not a sign of a wrong key; report it as
	// any bad frame.
	KeyUndecided KeyVerdict = iota
	// KeySuspect: the frame failed authentication before any telegram
	// decoded; the key may be wrong.
	KeySuspect
	// KeyWrong: AuthFailuresToGiveUp frames have failed so: the key is
	// wrong (KeyCheck.Err).
	KeyWrong
)

// KeyCheck tells a wrong key from a damaged frame while a live command
// reads. Before the first telegram decodes, a frame that fails
// authentication most likely means a wrong key, and AuthFailuresToGiveUp
// of them end reading; once a telegram has decoded, a failed tag is
// damage, to report like any bad frame. A KeyCheck with Device set is
// ready to use.
type KeyCheck struct {
	Device   string
	decoded  bool
	failures int
}

// Decoded records a telegram that decoded.
func (k *KeyCheck) Decoded() { k.decoded, k.failures = true, 0 }

// Failed records a frame that failed and returns what it says of the key.
func (k *KeyCheck) Failed(fe *smarty.FrameError) KeyVerdict {
	if k.decoded || !errors.Is(fe, smarty.ErrAuth) {
		return KeyUndecided
	}
	k.failures++
	if k.failures < AuthFailuresToGiveUp {
		return KeySuspect
	}
	return KeyWrong
}

// Failures returns how many frames have failed authentication with none
// decoded before, the last one included.
func (k *KeyCheck) Failures() int { return k.failures }

// Err returns the *KeyError of the frames counted so far.
func (k *KeyCheck) Err() error { return &KeyError{Device: k.Device, Failures: k.failures} }
