package smarty

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// TestFailure: every reason a Reader gives maps to its own class, wrapped
// or not, and the names are stable snake_case label values.
func TestFailure(t *testing.T) {
	tests := []struct {
		err  error
		want Failure
		name string
	}{
		{ErrAuth, FailureAuth, "auth"},
		{ErrNoKey, FailureNoKey, "no_key"},
		{ErrPlain, FailurePlain, "plain"},
		{fmt.Errorf("%w: the stream ended after 9 of its bytes", ErrTruncated), FailureTruncated, "truncated"},
		{ErrTooLarge, FailureTooLarge, "too_large"},
		{ErrHeader, FailureHeader, "header"},
		{ErrNotTelegram, FailureNotTelegram, "not_telegram"},
		{&dsmr.CRCError{}, FailureCRC, "crc"},
		{&dsmr.SyntaxError{}, FailureSyntax, "syntax"},
		{errors.New("something else"), FailureOther, "other"},
		{nil, FailureOther, "other"},
	}
	label := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]bool{}
	for _, tt := range tests {
		fe := &FrameError{Offset: 7, Err: tt.err}
		if got := fe.Failure(); got != tt.want || got.String() != tt.name {
			t.Errorf("Failure of %v = %v (%d), want %s", tt.err, got, int(got), tt.name)
		}
		if !label.MatchString(tt.name) {
			t.Errorf("%q is not a snake_case label value", tt.name)
		}
		seen[tt.name] = true
	}
	all := Failures()
	if len(all) != len(seen) {
		t.Fatalf("Failures() lists %d classes, the table %d", len(all), len(seen))
	}
	for i, f := range all {
		if !seen[f.String()] {
			t.Errorf("Failures()[%d] = %v, not in the table", i, f)
		}
	}
	all[0] = 0 // the caller's copy
	if Failures()[0] != FailureAuth {
		t.Error("Failures shares its slice with its callers")
	}
	if got := Failure(0).String(); got != "Failure(0)" {
		t.Errorf("Failure(0) = %q", got)
	}
}

// TestFrameErrorFailureThroughReader: the classes as a Reader reports
// them, and through errors.As on a wrapped error.
func TestFrameErrorFailureThroughReader(t *testing.T) {
	frame := NewCipher(otherKey, austrianAK).Seal(nil, testTitle, 1, telegram("000001.000"))
	_, err := NewReader(bytes.NewReader(frame), nil).Next()
	var fe *FrameError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &fe) || fe.Failure() != FailureNoKey {
		t.Fatalf("no key: %v", err)
	}
	_, err = NewReader(bytes.NewReader(frame), realCipher(t)).Next()
	if !errors.As(err, &fe) || fe.Failure() != FailureAuth {
		t.Fatalf("wrong key: %v", err)
	}
}
