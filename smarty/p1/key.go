package p1

import (
	"errors"
	"fmt"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// What a [*KeyError] wraps, to tell with [errors.Is] why a Stream ended.
var (
	// ErrWrongKey: the meter's frames fail authentication. The key is
	// wrong, or the meter uses another authentication key.
	ErrWrongKey = errors.New("p1: wrong key")
	// ErrNoKey: the meter sends encrypted frames and the Stream has no
	// Cipher.
	ErrNoKey = errors.New("p1: no key")
)

// keyFrames is how many frames of one system title must fail, before any
// telegram, for a Stream to give its verdict on the key. A meter sends
// one every 10 seconds; noise that passes for a frame now and then has a
// new system title each time.
const keyFrames = 3

// KeyError ends a [Stream] whose meter's frames cannot be decrypted: the
// key is wrong ([ErrWrongKey]) or there is none ([ErrNoKey]). Its text
// says so without naming a command-line flag; a program adds how to give
// the key.
type KeyError struct {
	// Device is the device read.
	Device string
	// SystemTitle is the meter's, from the frames that failed.
	SystemTitle smarty.SystemTitle
	// Frames is how many of its frames failed.
	Frames int
	// Err is ErrWrongKey or ErrNoKey.
	Err error
}

func (e *KeyError) Error() string {
	if e.Err == ErrNoKey {
		return fmt.Sprintf("p1: %s: the meter (system title %s) sends encrypted frames and no key was given", e.Device, e.SystemTitle)
	}
	return fmt.Sprintf("p1: %s: %d frames of the meter (system title %s) failed authentication and none decrypted: the key is wrong, or the meter uses another authentication key",
		e.Device, e.Frames, e.SystemTitle)
}

// Unwrap returns Err.
func (e *KeyError) Unwrap() error { return e.Err }

// maxKeyTitles bounds the system titles keyRule follows; noise that makes
// more is forgotten, least recently failed first.
const maxKeyTitles = 32

// keyRule tells a wrong or missing key from noise: before the first
// telegram, keyFrames frames of one system title that fail authentication
// (or come encrypted with no key) are the meter's, and nothing from it
// will ever decode.
type keyRule struct {
	decoded bool // a telegram has come: failures are damage from now on
	warned  bool
	titles  []keyTitle
	seq     int
}

type keyTitle struct {
	title smarty.SystemTitle
	n     int
	last  int // seq when it last failed
}

// failed notes a frame that failed with class f. It returns the error
// that ends the Stream, or nil.
func (k *keyRule) failed(s *Stream, fe *smarty.FrameError, f smarty.Failure) error {
	if k.decoded || !fe.Encrypted || (f != smarty.FailureAuth && f != smarty.FailureNoKey) {
		return nil
	}
	k.seq++
	t := k.find(fe.Header.SystemTitle)
	t.n++
	t.last = k.seq
	if t.n >= keyFrames {
		kind := ErrWrongKey
		if f == smarty.FailureNoKey {
			kind = ErrNoKey
		}
		return &KeyError{Device: s.cfg.Device, SystemTitle: t.title, Frames: t.n, Err: kind}
	}
	if t.n == 2 && !k.warned {
		// A second frame of the same meter: more than noise. Say what
		// it means while the verdict is still a frame away.
		k.warned = true
		if f == smarty.FailureNoKey {
			s.log.Warn(fmt.Sprintf("%s: the meter (system title %s) sends encrypted frames and no key was given; the next one ends the reading", s.cfg.Device, t.title))
		} else {
			s.log.Warn(fmt.Sprintf("%s: %d frames of the meter (system title %s) failed authentication and none decrypted yet: if the next one fails too, the key is wrong", s.cfg.Device, t.n, t.title))
		}
	}
	return nil
}

// find returns the entry of title, making one (and forgetting the least
// recently failed title when there are too many).
func (k *keyRule) find(title smarty.SystemTitle) *keyTitle {
	for i := range k.titles {
		if k.titles[i].title == title {
			return &k.titles[i]
		}
	}
	if len(k.titles) < maxKeyTitles {
		k.titles = append(k.titles, keyTitle{title: title})
		return &k.titles[len(k.titles)-1]
	}
	old := 0
	for i := range k.titles {
		if k.titles[i].last < k.titles[old].last {
			old = i
		}
	}
	k.titles[old] = keyTitle{title: title}
	return &k.titles[old]
}
