package flagenv

import (
	"flag"
	"testing"
)

func TestName(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("keyFile", "", "")
	fs.String("mqttCaFile", "", "")
	other := flag.NewFlagSet("y", flag.ContinueOnError)
	other.String("keyFile", "", "")
	Mark(fs.Lookup("keyFile"), "SMARTY_KEY_FILE")
	for _, tc := range []struct {
		fs         *flag.FlagSet
		name, want string
	}{
		{fs, "keyFile", "$SMARTY_KEY_FILE"},
		{fs, "mqttCaFile", "-mqttCaFile"},
		{other, "keyFile", "-keyFile"}, // another flag set's flag of the same name
		{fs, "nope", "-nope"},
		{nil, "keyFile", "-keyFile"},
	} {
		if got := Name(tc.fs, tc.name); got != tc.want {
			t.Errorf("Name(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
