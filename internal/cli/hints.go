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

// checkSplitKey returns a *UsageError when -key was given a key written
// with spaces and not quoted (-key AE BD 21 ...): the flag took the first
// group and the others are left as arguments. The message never repeats
// the digits: they are the key.
func checkSplitKey(fs *flag.FlagSet, gs []given) error {
	key, ok := "", false
	for _, g := range gs {
		if g.f.Name == "key" {
			key, ok = g.value, true
		}
	}
	if !ok || !isHexGroup(key) {
		return nil
	}
	n := 0
	for _, a := range fs.Args() {
		if !isHexGroup(a) {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	return Usagef("-key takes one word, and the key came as %d: quote it when it has spaces (-key 'AE BD 21 ...' with all your digits), or write it without them", n+1)
}

// isHexGroup reports whether s is a short group of hex digits, such as one
// of the groups a key is often written in.
func isHexGroup(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
