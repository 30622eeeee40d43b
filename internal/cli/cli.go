// Package cli holds what the commands share: their common flags, loading
// the key without ever showing it, glog's set-up, how errors become exit
// statuses, and for the live commands (OnlineDecryption, MQTTPublisher)
// -list, device errors and the p1.Stream's set-up (RunLive).
//
// A command's main wires signals and calls its run function; run builds a
// flag set with NewFlagSet, adds the flag groups it needs, and calls Parse:
//
//	fs := cli.NewFlagSet("OnlineDecryption", "-key KEY -device PORT", stdout, stderr)
//	keys := cli.AddKeyFlags(fs)
//	if err := cli.Parse(fs, args); err != nil {
//		return err // a *UsageError: main prints one line and exits 2
//	}
//	c, err := keys.Cipher()
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/golang/glog"
	"golang.org/x/term"
)

// UsageError is an error in how the command was called. Exit reports it
// in one line and exits with ExitUsage.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with the formatted message; %w works.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ErrReported is returned (wrapped or not) by a run function that has
// already told the user what went wrong, for example in a summary: Exit
// then exits 1 without printing anything.
var ErrReported = errors.New("cli: already reported")

// Exit prints err to w as one line prefixed with the program's name
// (ErrorMessage, with msgs), unless it is nil, flag.ErrHelp, the end of
// -version or ErrReported, flushes the log and returns the exit status
// (ExitStatus).
func Exit(w io.Writer, err error, msgs ...Messenger) int {
	defer glog.Flush()
	return report(w, progName(), err, msgs...)
}

func report(w io.Writer, name string, err error, msgs ...Messenger) int {
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errVersion) && !errors.Is(err, ErrReported) {
		fmt.Fprintf(w, "%s: %s\n", name, ErrorMessage(err, msgs...))
	}
	return ExitStatus(err)
}

// OneLine joins the lines of a message with "; " so that every error is
// one line of the terminal and of the log.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return strings.Join(f, "; ")
}

func progName() string {
	if len(os.Args) == 0 {
		return "smarty"
	}
	name := os.Args[0]
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, ".exe")
}

// NewFlagSet returns a flag set for the named command with -version and
// glog's flags (-v, -vmodule, -log_dir, -logtostderr, -alsologtostderr,
// -stderrthreshold, ...) already in it. synopsis is what follows the
// command's name in the usage line. -h prints the usage and -version the
// version (VersionLine) to stdout; errors are for Exit to print on stderr.
// Every flag can also be set from the environment (EnvName), which the
// usage says.
func NewFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if isLogFlag(f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	fs.Var(&versionFlag{w: stdout}, "version", "print the program's version and exit")
	fs.Usage = func() { printUsage(stdout, fs, synopsis) }
	return fs
}

// glog's flags, as registered on flag.CommandLine by its init.
var logFlags = map[string]bool{
	"v": true, "vmodule": true, "log_dir": true, "log_link": true, "logbuflevel": true,
	"logtostderr": true, "alsologtostderr": true, "stderrthreshold": true, "log_backtrace_at": true,
}

func isLogFlag(name string) bool { return logFlags[name] }

// Parse parses args into fs and sets up logging. Errors come back as a
// *UsageError carrying one line (the flag package's long usage text is not
// printed for them); -h prints the usage and returns flag.ErrHelp.
//
// glog writes log files under the temporary directory by default. Unless
// the command line says where logs go (-log_dir, -logtostderr or
// -alsologtostderr), Parse sends them to stderr instead and writes no
// file; -v and -vmodule work either way, and -stderrthreshold chooses what
// reaches stderr when logging to files. When logging to files, Parse
// sets the process's umask so that those files, and any other the command
// creates, are readable by its user only.
func Parse(fs *flag.FlagSet, args []string) error {
	gs, err := checkArgs(fs, args)
	if err != nil {
		return err
	}
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err = fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return explainParseError(err, gs)
	}
	if err := checkSplitKey(fs, gs); err != nil {
		return err
	}
	if v, ok := fs.Lookup("version").Value.(*versionFlag); ok && v.set {
		printVersion(v.w, fs.Name())
		return errVersion
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	setupLogging(fs)
	return nil
}

func setupLogging(fs *flag.FlagSet) {
	explicit := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "log_dir", "logtostderr", "alsologtostderr":
			explicit = true
		}
	})
	if !explicit {
		// The flag value is shared with glog's own registration.
		if f := fs.Lookup("logtostderr"); f != nil {
			_ = f.Value.Set("true")
		}
	}
	// glog creates its files readable by everybody (0666 less the
	// umask), and they hold meter ids, readings and broker addresses:
	// when the log goes to files, the files the command creates are
	// made private to its user.
	if f := fs.Lookup("logtostderr"); f != nil && f.Value.String() == "false" {
		privateFiles()
	}
}

// IsTerminal reports whether w is a terminal, for progress output that
// only makes sense to a person watching.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}
