package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// printUsage writes what -h shows: the usage line, the command's flags,
// glog's flags, and the rule for environment variables.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "Usage: %s %s\n\nFlags:\n", fs.Name(), synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		if !isLogFlag(f.Name) {
			printFlag(w, f)
		}
	})
	fmt.Fprintf(w, "\nLogging (glog; logs go to stderr unless -log_dir is given):\n")
	fs.VisitAll(func(f *flag.Flag) {
		if isLogFlag(f.Name) {
			printFlag(w, f)
		}
	})
	fmt.Fprintf(w, "\nEnvironment: every flag but -h, -list, -version and -haRemove can be set in the\n"+
		"environment, as shown after it: %s and the flag's name in capitals, with _\n"+
		"where a new word starts (-mqttBroker: %s). The command line wins.\n"+
		"Yes/no flags take their value after '=' (-flag=false); durations need a unit (30s).\n",
		EnvPrefix, EnvName("mqttBroker"))
}

// printFlag writes one flag's entry: its name with a placeholder for the
// value, its environment variable, its help text and its default.
func printFlag(w io.Writer, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	if p, ok := logPlaceholders[f.Name]; ok {
		name = p
	} else if isDuration(f) {
		name = "duration" // whatever the help text calls it: say what to write
	}
	line := "  -" + f.Name
	if name != "" {
		line += " " + name
	}
	if fromEnv(f.Name) {
		line += "   $" + EnvName(f.Name)
	}
	fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
		fmt.Fprintf(w, " (default %s)", f.DefValue)
	}
	fmt.Fprintln(w)
}

// logPlaceholders name the values of glog's flags, whose own help texts
// give only their Go types ("value", "string", "int").
var logPlaceholders = map[string]string{
	"v": "level", "vmodule": "pattern=level,...", "log_dir": "directory", "log_link": "directory",
	"logbuflevel": "level", "stderrthreshold": "level", "log_backtrace_at": "file:line",
}
