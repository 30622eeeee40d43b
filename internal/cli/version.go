package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// The release build sets these with the linker (GoReleaser's ldflags):
//
//	-X github.com/NEXXTLAB/go-smarty-reader/internal/cli.version=1.2.3
//	-X github.com/NEXXTLAB/go-smarty-reader/internal/cli.commit=0123abc
//	-X github.com/NEXXTLAB/go-smarty-reader/internal/cli.date=2026-01-02T03:04:05Z
//
// A build without them (go install, go build) takes what the Go toolchain
// recorded instead: the module version and the VCS revision, when known.
var version, commit, date string

// errVersion is what Parse returns after printing -version: Exit then
// exits 0 without printing anything else.
var errVersion = errors.New("cli: version printed")

// versionFlag is -version: a yes/no flag that remembers where the
// version goes.
type versionFlag struct {
	w   io.Writer
	set bool
}

func (v *versionFlag) String() string   { return "false" }
func (v *versionFlag) IsBoolFlag() bool { return true }
func (v *versionFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	v.set = b
	return err
}

// printVersion writes the -version line for the command name to w.
func printVersion(w io.Writer, name string) {
	fmt.Fprintln(w, VersionLine(name))
}

// VersionLine returns the one line -version prints, for example
//
//	MQTTPublisher 1.2.3 (commit 0123abc, built 2026-01-02T03:04:05Z, go1.26.1 linux/arm64)
//
// The version comes from the release build (see above), else from the
// module version go install recorded (v1.2.3, or a pseudo-version), else
// it is "devel" (a build in a clone). The commit and date come from the
// release build, else from the VCS information go build recorded, and are
// left out when unknown.
func VersionLine(name string) string {
	v, c, d := version, commit, date
	if c == "none" { // GoReleaser's word when git could not tell
		c = ""
	}
	if strings.HasPrefix(d, "0001-") { // and its date then
		d = ""
	}
	dirty := false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.time":
				if d == "" {
					d = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	var parts []string
	if c != "" {
		if len(c) > 12 {
			c = c[:12]
		}
		if dirty {
			c += "+changes"
		}
		parts = append(parts, "commit "+c)
	}
	if d != "" {
		parts = append(parts, "built "+d)
	}
	parts = append(parts, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("%s %s (%s)", name, v, strings.Join(parts, ", "))
}
