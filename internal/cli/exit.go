package cli

import (
	"errors"
	"flag"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// The exit statuses of every command: one table, here and in
// docs/commands.md. A service manager restarts a command that failed
// (status 1) and leaves it stopped for a configuration error (2 to 5),
// which a restart cannot fix: deploy/smarty-mqtt.service says
// RestartPreventExitStatus=2 3 4 5. Trouble a wait can fix (a broker or a
// device that is away) is retried inside the command and never ends it.
const (
	// ExitFailure: it failed in a way a restart may fix (the device
	// failed for good, a disk error), or OfflineDecryption found frames
	// that failed.
	ExitFailure = 1
	// ExitUsage: the command line cannot work: an unknown flag, a bad
	// value, a malformed key, a file or device that does not exist.
	ExitUsage = 2
	// ExitKey: the key does not fit the meter: its frames fail
	// authentication, or they are encrypted and no key was given.
	ExitKey = 3
	// ExitBroker: the MQTT broker refused this program: user name,
	// password, client id, or its TLS certificate.
	ExitBroker = 4
	// ExitLocked: the queue directory is in use by another program.
	ExitLocked = 5
)

// statusError puts an error in a row of the table.
type statusError struct {
	err    error
	status int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// WithExitStatus returns err marked with the exit status it ends the
// command with (one of the constants above); nil stays nil. A command
// marks the errors of the packages cli does not know (mqttpub's refused
// connection and locked queue); its message is err's, unchanged.
func WithExitStatus(err error, status int) error {
	if err == nil {
		return nil
	}
	return &statusError{err, status}
}

// ExitStatus is the exit status for err: 0 for nil, -h or -version;
// ExitUsage for a *UsageError; ExitKey for a *p1.KeyError (a wrong key, or
// none for an encrypted meter); the status WithExitStatus gave; ExitFailure
// for anything else.
func ExitStatus(err error) int {
	var (
		u  *UsageError
		ke *p1.KeyError
		se *statusError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, errVersion):
		return 0
	case errors.As(err, &se):
		return se.status
	case errors.As(err, &u):
		return ExitUsage
	case errors.As(err, &ke):
		return ExitKey
	}
	return ExitFailure
}
