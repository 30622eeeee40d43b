//go:build unix

package cli

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestSignalContext: SIGINT, SIGTERM and SIGHUP each end a command the
// same clean way (SIGHUP used to kill it with no clean-up).
func TestSignalContext(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, stop := SignalContext(context.Background())
			defer stop()
			if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second): // a guard against a hang, not a timing
				t.Fatalf("%v did not cancel the context", sig)
			}
		})
	}
}
