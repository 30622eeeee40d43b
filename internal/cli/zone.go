package cli

import (
	"flag"
	"strings"
	"time"

	// The zone database inside the programs: -zone works the same on
	// Windows and in minimal containers, which have none. It adds
	// about 410 KB to each program (OnlineDecryption for linux/amd64: 6.04 MB
	// without, 6.45 MB with); the default zone needs no database.
	_ "time/tzdata"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// ZoneFlag is -zone, the time zone of the meter's clock: an IANA name such
// as Europe/Dublin, Europe/Stockholm or Europe/Budapest. Its zero value is
// dsmr.DefaultZone, Luxembourg's (the same rules as Brussels and
// Amsterdam). *ZoneFlag implements flag.Value.
type ZoneFlag struct {
	name string
	loc  *time.Location
}

// AddZoneFlag adds -zone to fs.
func AddZoneFlag(fs *flag.FlagSet) *ZoneFlag {
	z := new(ZoneFlag)
	fs.Var(z, "zone", "time `zone` of the meter's clock, such as Europe/Dublin; the calendar of the zone\ndecides the offset of the telegrams' times")
	return z
}

// String returns the zone's name.
func (z *ZoneFlag) String() string {
	if z == nil || z.name == "" {
		return dsmr.DefaultZone
	}
	return z.name
}

// Set implements flag.Value.
func (z *ZoneFlag) Set(s string) error {
	loc, err := dsmr.LoadLocation(s)
	if err != nil {
		return Usagef("%s", strings.TrimPrefix(err.Error(), "dsmr: "))
	}
	z.name, z.loc = s, loc
	return nil
}

// Location returns the zone, for smarty.Reader.Location and
// dsmr.Telegram.Location; nil (the default zone) when -zone is not given.
func (z *ZoneFlag) Location() *time.Location {
	if z == nil {
		return nil
	}
	return z.loc
}
