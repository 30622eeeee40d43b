package cli

import (
	"errors"
	"flag"
	"strconv"
	"strings"
	"time"
)

// Hints for the two command-line mistakes the flag package reports
// without saying what would work: a yes/no flag given its value as a
// separate word (-mqttRetain false, which sets it to true and leaves
// "false" behind as an argument), and a duration without a unit
// (-timeout 5).

// given is one flag on the command line with the value it was given.
type given struct {
	f     *flag.Flag
	value string
}

// checkArgs walks args as the flag package will, and returns the flags
// with their values, or a *UsageError for a yes/no flag whose value
// follows as a separate word. It stops where the flag package stops: at
// "--", at the first argument that is not a flag, or at a flag fs does
// not know (which fs.Parse then reports).
func checkArgs(fs *flag.FlagSet, args []string) ([]given, error) {
	var out []given
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			break
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, value, hasValue := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f == nil {
			break
		}
		if isBool(f) {
			if !hasValue && i+1 < len(args) {
				if _, err := strconv.ParseBool(args[i+1]); err == nil {
					return nil, Usagef("-%s %s: a yes/no flag takes its value after '=': write -%s=%s", name, args[i+1], name, args[i+1])
				}
			}
			if hasValue {
				out = append(out, given{f, value})
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break // fs.Parse reports the missing value
			}
			i++
			value = args[i]
		}
		out = append(out, given{f, value})
	}
	return out, nil
}

// explainParseError returns a *UsageError for an error of fs.Parse: with
// a hint saying what would work when the value given to a duration or a
// yes/no flag did not parse, else the flag package's own message.
func explainParseError(err error, gs []given) error {
	for _, g := range gs {
		// The flag package's errors name the flag as "-name: "; only the
		// flag it reports gets a hint.
		if !strings.Contains(err.Error(), "-"+g.f.Name+":") {
			continue
		}
		if h := valueHint(g.f, g.value, "-"+g.f.Name+" "); h != "" {
			return Usagef("-%s %s: %s", g.f.Name, g.value, h)
		}
	}
	return &UsageError{Err: errors.New(err.Error() + " (see -h)")}
}

// valueHint says how to write a value v that did not parse for f, or ""
// when there is nothing more to say than the flag package does. set is
// how the user gives the value: "-timeout " or "SMARTY_TIMEOUT=".
func valueHint(f *flag.Flag, v, set string) string {
	switch {
	case isDuration(f):
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return "a duration needs a unit: write " + set + v + "s (or 500ms, 2m, 1h)"
		}
		return "want a duration such as 30s, 500ms, 2m or 1h"
	case isBool(f):
		return "want true or false"
	}
	return ""
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func isDuration(f *flag.Flag) bool {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(time.Duration)
	return ok
}
