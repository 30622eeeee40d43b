// Package flagenv remembers which flags took their value from an
// environment variable rather than from the command line, so that a
// message about that value names what the user wrote: a systemd
// environment file that says SMARTY_KEY_FILE=/etc/smarty.key gets
// "$SMARTY_KEY_FILE /etc/smarty.key: no such file", not "-keyFile ...".
//
// internal/cli marks the flags it sets from the environment (Mark); the
// code that checks a flag's value asks Name how to call it. It is a
// package of its own, with nothing but the standard library, so that any
// package with flags may ask without importing the command layer.
package flagenv

import (
	"flag"
	"sync"
)

// from maps a *flag.Flag to the variable its value came from.
var from sync.Map

// Mark records that f's value came from the environment variable env.
func Mark(f *flag.Flag, env string) { from.Store(f, env) }

// Var returns the environment variable the value of the flag name of fs
// came from, and whether it came from one (see Mark).
func Var(fs *flag.FlagSet, name string) (env string, ok bool) {
	if fs == nil {
		return "", false
	}
	f := fs.Lookup(name)
	if f == nil {
		return "", false
	}
	v, ok := from.Load(f)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// Name returns how a message names the flag name of fs: "$SMARTY_KEY_FILE"
// when its value came from that variable, "-keyFile" otherwise (also when
// fs is nil).
func Name(fs *flag.FlagSet, name string) string {
	if env, ok := Var(fs, name); ok {
		return "$" + env
	}
	return "-" + name
}
