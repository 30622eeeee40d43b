package sim

import (
	"flag"
	"fmt"

	"github.com/NEXXTLAB/go-smarty-reader/internal/flagenv"
)

// Flags are the flags that shape the simulated household, shared by the
// commands that run a simulated meter: -profile.
type Flags struct {
	// Profile is a CSV file of time,kW lines or named patterns joined by
	// '+' (LoadProfile); empty for a random household.
	Profile string

	fs *flag.FlagSet // for flagenv.Name
}

// AddFlags adds the flags to fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.Profile, "profile", "", "the household's load: a CSV `file` of time,kW lines (12:30,3.3 daily in local time,\n"+
		"or RFC 3339 dates), or patterns joined by + from base, cooker, car, heatpump, solar\n"+
		"(cooker+car); the energy registers count its exact integral. Default: a random household")
	return f
}

// Config returns the part of a Config the flags decide; the caller sets
// Seed, Start and Step.
func (f *Flags) Config() (Config, error) {
	var c Config
	if f.Profile != "" {
		p, err := LoadProfile(f.Profile)
		if err != nil {
			return c, fmt.Errorf("%s %s: %w", flagenv.Name(f.fs, "profile"), f.Profile, err)
		}
		c.Profile = p
	}
	return c, nil
}
