package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// KeyEnv is the environment variable the key is read from when neither
// -key nor -keyFile is given.
const KeyEnv = "SMARTY_KEY"

// KeyFlags are -key, -keyFile, -authKey and, for the commands that read
// frames, -allowUnauthenticated, -allowPlain and -zone.
type KeyFlags struct {
	Key                  string
	KeyFile              string
	AuthKey              string
	AllowUnauthenticated bool
	AllowPlain           bool
	Zone                 *ZoneFlag // nil for a command that reads no frames

	fs *flag.FlagSet // for FlagName
}

// AddKeyFlags adds the key flags to fs. withUnauthenticated adds
// -allowUnauthenticated too, for the commands that read frames.
func AddKeyFlags(fs *flag.FlagSet, withUnauthenticated bool) *KeyFlags {
	k := &KeyFlags{fs: fs}
	fs.StringVar(&k.Key, "key", "", "decryption `key`: the 32 hex digits the grid operator (Creos) gave you;\nvisible to other users in the process list, prefer -keyFile or $"+KeyEnv)
	fs.StringVar(&k.KeyFile, "keyFile", "", "read the key from `file` (32 hex digits; spaces and line breaks are ignored)")
	fs.StringVar(&k.AuthKey, "authKey", "", "authentication `key` (32 hex digits), when the meter does not use Luxembourg's\n00112233445566778899AABBCCDDEEFF (Austrian meters, for instance)")
	if withUnauthenticated {
		fs.BoolVar(&k.AllowUnauthenticated, "allowUnauthenticated", false, "accept a frame whose authentication tag fails when its telegram's CRC checks\n(for meters whose tag does not verify; weaker: protects against damage, not forgery)")
		fs.BoolVar(&k.AllowPlain, "allowPlain", false, "with a key, accept plain telegrams too (a meter whose encryption is switched off);\nwithout it they are refused: anyone on the line could send them")
		k.Zone = AddZoneFlag(fs)
	}
	return k
}

// maxKeyFile bounds what is read of a key file: a key is 32 digits.
const maxKeyFile = 1024

// Load returns the key from -key, -keyFile or $SMARTY_KEY, the first that
// is set, and which of them it came from. ok is false when none is set.
// A malformed key is a *UsageError that never repeats the key.
func (k *KeyFlags) Load() (key smarty.Key, source string, ok bool, err error) {
	var text string
	switch {
	case k.Key != "":
		text, source = k.Key, "-key"
	case k.KeyFile != "":
		flagName := FlagName(k.fs, "keyFile")
		source = flagName + " " + k.KeyFile
		b, err := readKeyFile(flagName, k.KeyFile)
		if err != nil {
			return smarty.Key{}, source, false, err
		}
		text = string(b)
	default:
		v, set := os.LookupEnv(KeyEnv)
		if !set || v == "" {
			return smarty.Key{}, "", false, nil
		}
		text, source = v, "$"+KeyEnv
	}
	key, err = smarty.ParseKey(text)
	if err != nil {
		return smarty.Key{}, source, false, keyUsage(source, err)
	}
	return key, source, true, nil
}

// readKeyFile reads the key file name; flagName is how the messages name
// where it was given (-keyFile, or $SMARTY_KEY_FILE).
func readKeyFile(flagName, name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, Usagef("%s %s: no such file", flagName, name)
		case errors.Is(err, fs.ErrPermission):
			return nil, Usagef("%s %s: permission denied: make it readable by this user", flagName, name)
		}
		return nil, Usagef("%s: %w", flagName, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, Usagef("%s %s: %w", flagName, name, err)
	}
	if len(b) > maxKeyFile {
		return nil, Usagef("%s %s: larger than %d bytes, not a key file (it should hold the 32 hex digits of the key)", flagName, name, maxKeyFile)
	}
	return b, nil
}

// LoadAuthKey returns the authentication key: -authKey, or Luxembourg's.
func (k *KeyFlags) LoadAuthKey() (smarty.Key, error) {
	if k.AuthKey == "" {
		return smarty.LuxembourgAuthKey, nil
	}
	ak, err := smarty.ParseKey(k.AuthKey)
	if err != nil {
		return smarty.Key{}, keyUsage(FlagName(k.fs, "authKey"), err)
	}
	return ak, nil
}

// Cipher returns the cipher for the key and authentication key, or nil
// when no key is given (a meter whose encryption is switched off sends
// plain telegrams, which need none).
func (k *KeyFlags) Cipher() (*smarty.Cipher, error) {
	key, _, ok, err := k.Load()
	if err != nil || !ok {
		return nil, err
	}
	ak, err := k.LoadAuthKey()
	if err != nil {
		return nil, err
	}
	return smarty.NewCipher(key, ak), nil
}

// NewReader returns a smarty.Reader of r with the cipher,
// -allowUnauthenticated, -allowPlain and -zone.
func (k *KeyFlags) NewReader(r io.Reader, c *smarty.Cipher) *smarty.Reader {
	sr := smarty.NewReader(r, c)
	sr.AllowUnauthenticated = k.AllowUnauthenticated
	sr.AllowPlain = k.AllowPlain
	sr.Location = k.Zone.Location()
	return sr
}

// NoKeyHint is what to tell a user whose stream holds encrypted frames but
// who gave no key.
const NoKeyHint = "give the key with -key, -keyFile or $" + KeyEnv

// DeviceFlags are -device and -list.
type DeviceFlags struct {
	Device string
	List   bool
}

// AddDeviceFlags adds -device and -list to fs.
func AddDeviceFlags(fs *flag.FlagSet) *DeviceFlags {
	d := new(DeviceFlags)
	fs.StringVar(&d.Device, "device", "", "the meter: a serial `port` (/dev/ttyUSB0, COM3; 115200 8N1) or tcp://host:port\nfor a network P1 adapter or ser2net")
	fs.BoolVar(&d.List, "list", false, "list the serial ports of this machine and exit")
	return d
}

// AddFormatFlag adds -format text|json to fs.
func AddFormatFlag(fs *flag.FlagSet) *format.Kind {
	k := new(format.Kind)
	fs.Var(k, "format", "output `format`: text (each telegram exactly as the meter sent it) or json\n(one object per telegram per line)")
	return k
}

// AddCountFlag adds -count to fs with the given help text.
func AddCountFlag(fs *flag.FlagSet, usage string) *int {
	return fs.Int("count", 0, usage)
}

// CheckCount returns a *UsageError for a negative -count.
func CheckCount(n int) error {
	if n < 0 {
		return Usagef("-count %d: must be 0 or more", n)
	}
	return nil
}

// NoArgs returns a *UsageError when fs has arguments left after the flags.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q: every option is a flag (see -h)", fs.Arg(0))
	}
	return nil
}

// keyUsage is the usage error of a key that ParseKey refused, named by
// where it was given (-key, $SMARTY_KEY, -keyFile NAME).
func keyUsage(where string, err error) error {
	if ke := (*smarty.KeyError)(nil); errors.As(err, &ke) {
		return &UsageError{Err: fmt.Errorf("%s: invalid key: %s", where, ke.Reason)}
	}
	return Usagef("%s: %w", where, err)
}
