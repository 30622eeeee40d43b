package cli

import (
	"flag"
	"os"
	"strings"
	"unicode"

	"github.com/NEXXTLAB/go-smarty-reader/internal/flagenv"
)

// EnvPrefix starts the name of every environment variable a flag is read
// from.
const EnvPrefix = "SMARTY_"

// EnvName returns the environment variable the flag name is read from:
// EnvPrefix, then the name in capitals with '_' where a new word starts
// (a capital after a small letter or a digit): device -> SMARTY_DEVICE,
// mqttBroker -> SMARTY_MQTT_BROKER, mqttCaFile -> SMARTY_MQTT_CA_FILE,
// log_dir -> SMARTY_LOG_DIR. The variables the commands read already
// (SMARTY_KEY, SMARTY_MQTT_PASSWORD) follow the same rule.
func EnvName(name string) string {
	var b strings.Builder
	b.WriteString(EnvPrefix)
	prev := rune(0)
	for _, r := range name {
		if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
			b.WriteByte('_')
		}
		if r == '-' {
			r = '_'
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	return b.String()
}

// actions are the flags never read from the environment: they are things
// to do rather than settings (a service whose environment said
// SMARTY_LIST=1 would never read the meter, and one with
// SMARTY_HA_REMOVE=1 would remove its own sensors at every start).
var actions = map[string]bool{"h": true, "help": true, "version": true, "list": true, "haRemove": true}

// readByOwner are the flags whose variable the code that uses them reads:
// $SMARTY_KEY is read by KeyFlags.Load, after -key and -keyFile, so that a
// key given on the command line in either form wins and a malformed one is
// reported with the variable's name.
var readByOwner = map[string]bool{"key": true}

// fromEnv reports whether the flag name has an environment variable.
func fromEnv(name string) bool { return !actions[name] }

// applyEnv sets every flag of fs that the command line did not set from
// its environment variable (EnvName), when that is set and not empty. A
// value that does not parse is a *UsageError naming the variable; one that
// does is marked with flagenv.Mark, so that a later message about it (a
// key file that is not there) names the variable too (FlagName).
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || !fromEnv(f.Name) || readByOwner[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			if h := valueHint(f, v, env+"="); h != "" {
				err = Usagef("$%s (for -%s) %q: %s", env, f.Name, v, h)
			} else {
				err = Usagef("$%s (for -%s): invalid value %q: %v", env, f.Name, v, e)
			}
			return
		}
		flagenv.Mark(f, env)
	})
	return err
}

// FlagName returns how a message names the flag name of fs: "-keyFile",
// or "$SMARTY_KEY_FILE" when Parse took its value from that variable.
func FlagName(fs *flag.FlagSet, name string) string { return flagenv.Name(fs, name) }
