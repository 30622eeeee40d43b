package live

import (
	"sync"
	"time"
)

// DefaultTimeout is how long a device may stay silent, delivering no
// complete frame, before the watchdog closes and reopens it: three of the
// meter's 10-second intervals.
const DefaultTimeout = 30 * time.Second

// Watchdog calls a function when it has not been kicked for a while. The
// live commands kick it with every complete frame and let it close the
// source, which unblocks a Read that would otherwise wait for ever on a
// device that stays open but silent.
type Watchdog struct {
	timeout time.Duration
	bark    func()

	mu    sync.Mutex
	timer *time.Timer
	fired bool
}

// NewWatchdog returns a Watchdog that calls bark, once, in a goroutine of
// its own, when timeout passes without a Kick. It starts running at once.
func NewWatchdog(timeout time.Duration, bark func()) *Watchdog {
	w := &Watchdog{timeout: timeout, bark: bark}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(timeout, w.fire)
	return w
}

func (w *Watchdog) fire() {
	w.mu.Lock()
	if w.fired || w.timer == nil {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.bark()
}

// Kick starts the timeout again. It does nothing once the watchdog has
// fired or was stopped.
func (w *Watchdog) Kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.fired && w.timer != nil {
		w.timer.Reset(w.timeout)
	}
}

// Stop stops the watchdog and reports whether it had fired.
func (w *Watchdog) Stop() (fired bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	return w.fired
}

// Fired reports whether the watchdog has fired.
func (w *Watchdog) Fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}
