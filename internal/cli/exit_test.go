package cli

import (
	"errors"
	"flag"
	"fmt"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

func TestExitStatus(t *testing.T) {
	locked := errors.New("queue directory in use")
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{errVersion, 0},
		{errors.New("the device failed"), ExitFailure},
		{ErrReported, ExitFailure},
		{Usagef("-timeout 5: a duration needs a unit"), ExitUsage},
		{&UsageError{Err: ErrReported}, ExitUsage},
		{&p1.KeyError{Device: "/dev/ttyUSB0", Frames: 3, Err: p1.ErrWrongKey}, ExitKey},
		{fmt.Errorf("reading: %w", &p1.KeyError{Device: "/dev/ttyUSB0", Err: p1.ErrNoKey}), ExitKey},
		{WithExitStatus(errors.New("not authorised"), ExitBroker), ExitBroker},
		{WithExitStatus(locked, ExitLocked), ExitLocked},
		{fmt.Errorf("at start: %w", WithExitStatus(locked, ExitLocked)), ExitLocked},
	} {
		if got := ExitStatus(tc.err); got != tc.want {
			t.Errorf("ExitStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if WithExitStatus(nil, ExitBroker) != nil {
		t.Error("WithExitStatus(nil) is not nil")
	}
	if err := WithExitStatus(locked, ExitLocked); err.Error() != locked.Error() || !errors.Is(err, locked) {
		t.Errorf("WithExitStatus changed the error: %q", err)
	}
}
