package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// StopSignals are the signals that end every command cleanly: Ctrl-C,
// SIGTERM (systemd, docker stop) and SIGHUP (the terminal closed, or a
// service manager that sends it): each cancels the context given to run,
// which then flushes and returns as it does at its normal end.
var StopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// RunFunc is a command's body: it gets the command line without the
// program's name, and the standard streams, and returns when ctx is done
// or its work is.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Main runs run as the whole program: ctx is cancelled by any of
// StopSignals (a second signal is handled the same way, so a command that
// is flushing is not killed halfway), and its error becomes the exit
// status and one line on stderr (see Exit; msgs as there). It does not
// return.
func Main(run RunFunc, msgs ...Messenger) {
	ctx, stop := SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(Exit(os.Stderr, err, msgs...))
}

// SignalContext returns a context that is cancelled by any of
// StopSignals, and the function that stops listening for them.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, StopSignals...)
}
