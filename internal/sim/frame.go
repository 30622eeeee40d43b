package sim

import (
	"errors"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// ErrCounterExhausted is returned once the frame counter has reached
// 0xFFFFFFFF: a meter then stops sending, since the next frame would reuse
// a nonce.
var ErrCounterExhausted = errors.New("sim: frame counter exhausted (0xFFFFFFFF): the meter stops sending")

// Framer wraps telegrams the way the meter sends them: encrypted in a
// general-glo-ciphering envelope with the next frame counter, or plain
// when Cipher is nil.
type Framer struct {
	Cipher      *smarty.Cipher // nil: plain telegrams
	SystemTitle smarty.SystemTitle
	Counter     uint32 // frame counter of the next frame
}

// AppendFrame appends the frame for telegram to dst and advances the
// frame counter.
func (f *Framer) AppendFrame(dst, telegram []byte) ([]byte, error) {
	if f.Cipher == nil {
		return append(dst, telegram...), nil
	}
	if f.Counter == 0xFFFFFFFF {
		return dst, ErrCounterExhausted
	}
	dst = f.Cipher.Seal(dst, f.SystemTitle, f.Counter, telegram)
	f.Counter++
	return dst, nil
}

// SystemTitle returns the system title of the meter with the given seed:
// "SAG" for Sagemcom, then five bytes of serial number.
func SystemTitle(seed uint64) smarty.SystemTitle {
	st := smarty.SystemTitle{'S', 'A', 'G', 0x67}
	x := seed*0x9E3779B97F4A7C15 + 0x7001BD54
	for i := 4; i < len(st); i++ {
		st[i] = byte(x >> (8 * (i - 4)))
	}
	return st
}

// Stream is an io.Reader of frames back to back, as fast as they can be
// made: a dump of a meter's output for tests and benchmarks. It holds one
// frame at a time, so a stream of any length takes constant memory.
type Stream struct {
	Meter  *Meter
	Framer *Framer
	// Count is the number of frames to produce; 0 means no end.
	Count int

	frames   int
	buf      []byte
	off      int
	err      error
	telegram []byte
}

// Read implements io.Reader.
func (s *Stream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if s.off == len(s.buf) {
			if s.err != nil {
				break
			}
			if s.Count > 0 && s.frames == s.Count {
				s.err = io.EOF
				break
			}
			s.telegram = s.Meter.AppendTelegram(s.telegram[:0])
			s.buf, s.err = s.Framer.AppendFrame(s.buf[:0], s.telegram)
			s.off = 0
			if s.err == nil {
				s.frames++
			}
			continue
		}
		c := copy(p[n:], s.buf[s.off:])
		s.off += c
		n += c
	}
	if n > 0 {
		return n, nil
	}
	return 0, s.err
}

// Frames returns the number of frames started so far.
func (s *Stream) Frames() int { return s.frames }
