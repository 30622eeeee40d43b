package p1

import (
	"fmt"
	"time"
)

// When a Stream's first connection has brought no byte after
// Config.NoByteAfter, or bytes but no frame after Config.NoFrameAfter, it
// says what that likely means; by default both come before the
// watchdog's DefaultTimeout.
const (
	defaultNoByteAfter  = 5 * time.Second
	defaultNoFrameAfter = 25 * time.Second
)

// diagWait returns the wait of a diagnostic: d, or def when d is 0;
// ok is false when d is negative (never).
func diagWait(d, def time.Duration) (wait time.Duration, ok bool) {
	switch {
	case d < 0:
		return 0, false
	case d == 0:
		return def, true
	}
	return d, true
}

// startDiagnostics arms the first run's diagnostics; s.mu is held.
func (s *Stream) startDiagnostics() {
	if d, ok := diagWait(s.cfg.NoByteAfter, defaultNoByteAfter); ok {
		s.diag = append(s.diag, time.AfterFunc(d, func() { s.diagnoseNoByte(d) }))
	}
	if d, ok := diagWait(s.cfg.NoFrameAfter, defaultNoFrameAfter); ok {
		s.diag = append(s.diag, time.AfterFunc(d, func() { s.diagnoseNoFrame(d) }))
	}
}

// diagnoseNoByte speaks when nothing at all has come.
func (s *Stream) diagnoseNoByte(after time.Duration) {
	if s.quietSinceStart() && s.bytes.Load() == 0 {
		s.log.Warn(fmt.Sprintf("no byte from %s in the %s since it was opened: the meter's P1 port may still be closed (the grid operator opens it on request), this may not be the port of the P1 cable, or the cable is not in the meter's P1 socket; still waiting",
			s.cfg.Device, after))
	}
}

// diagnoseNoFrame speaks when bytes came but no frame.
func (s *Stream) diagnoseNoFrame(after time.Duration) {
	if n := s.bytes.Load(); s.quietSinceStart() && n > 0 {
		s.log.Warn(fmt.Sprintf("%d bytes from %s in the %s since it was opened, but no frame: %s; still reading",
			n, s.cfg.Device, after, noFrameCauses))
	}
}

// noFrameCauses are the likely causes of bytes that hold no frame.
const noFrameCauses = "the signal may be inverted (a cable without the inverter P1 needs), the speed wrong (P1 is 115200 baud, 8N1), or this is not a P1 port"

// quietSinceStart reports whether no frame has come yet and the Stream is
// open.
func (s *Stream) quietSinceStart() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.everOut && !s.closed
}

// silenceHint is added to the watchdog's message when the device has
// sent bytes but never a frame.
func (s *Stream) silenceHint() string {
	s.mu.Lock()
	out := s.everOut
	s.mu.Unlock()
	if n := s.bytes.Load(); !out && n > 0 {
		return fmt.Sprintf(" (%d bytes came, none of them a frame: %s)", n, noFrameCauses)
	}
	return ""
}
