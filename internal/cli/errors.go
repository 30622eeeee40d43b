package cli

import (
	"errors"
	"fmt"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// A Messenger returns the line for a human about an error of the package
// it knows, in the terms of the command's flags; ok is false for an error
// it does not know. mqttpub.FlagMessage is one.
type Messenger func(err error) (msg string, ok bool)

// ErrorMessage returns the line a command prints for err, after its name:
// what went wrong and what to do, in the terms of the command's flags. The
// first of msgs that knows err decides; then the errors of the packages
// every command shares (a wrong key); anything else is err's own text.
// Error strings are never edited: a message that differs from Error()
// is built from the error's fields.
func ErrorMessage(err error, msgs ...Messenger) string {
	for _, m := range msgs {
		if msg, ok := m(err); ok {
			return OneLine(msg)
		}
	}
	var ke *p1.KeyError
	switch {
	case errors.As(err, &ke) && errors.Is(err, p1.ErrNoKey):
		return fmt.Sprintf("%s sends encrypted frames (system title %s) and no key was given: %s", ke.Device, ke.SystemTitle, NoKeyHint)
	case errors.As(err, &ke):
		return fmt.Sprintf("authentication failed for %d frames of the meter (system title %s) on %s and none decrypted: wrong key, or the meter uses another authentication key (-authKey)", ke.Frames, ke.SystemTitle, ke.Device)
	}
	return OneLine(err.Error())
}
