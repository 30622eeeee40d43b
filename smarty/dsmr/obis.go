package dsmr

import (
	"fmt"
	"strconv"
)

// OBIS is an object identification code of the form A-B:C.D.E, such as
// 1-0:1.8.0 (active energy imported). A is the medium (0 abstract, 1
// electricity), B the channel (0 for the meter itself, 1 to 4 for M-Bus
// devices), C.D.E the quantity. Each group is 0 to 255. The optional sixth
// group F of the full OBIS notation is never sent on a P1 port.
type OBIS struct {
	A, B, C, D, E uint8
}

// ParseOBIS parses a code written as A-B:C.D.E, for example "1-0:1.8.0".
func ParseOBIS(s string) (OBIS, error) {
	o, n, ok := scanOBIS([]byte(s))
	if !ok || n != len(s) {
		return OBIS{}, fmt.Errorf("dsmr: %q is not an OBIS code of the form A-B:C.D.E", s)
	}
	return o, nil
}

// MustParseOBIS is like ParseOBIS but panics if s is not a valid code. It
// is meant for constants in programs and tests.
func MustParseOBIS(s string) OBIS {
	o, err := ParseOBIS(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String returns the code in the usual A-B:C.D.E notation.
func (o OBIS) String() string {
	b, _ := o.AppendText(make([]byte, 0, 19))
	return string(b)
}

// AppendText appends the A-B:C.D.E notation of o to b.
func (o OBIS) AppendText(b []byte) ([]byte, error) {
	b = strconv.AppendUint(b, uint64(o.A), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(o.B), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(o.C), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(o.D), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(o.E), 10)
	return b, nil
}

// MarshalText implements encoding.TextMarshaler.
func (o OBIS) MarshalText() ([]byte, error) {
	return o.AppendText(nil)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OBIS) UnmarshalText(b []byte) error {
	v, err := ParseOBIS(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// withChannel returns the code with its B group (the M-Bus channel) set to
// n: MustParseOBIS("0-0:24.2.1").withChannel(1) is 0-1:24.2.1.
func (o OBIS) withChannel(n uint8) OBIS {
	o.B = n
	return o
}

// scanOBIS reads a code at the start of b. It returns the code and the number
// of bytes it used; ok is false when b does not start with a valid code.
// It runs once per telegram line, so it is written out by hand.
func scanOBIS(b []byte) (o OBIS, n int, ok bool) {
	var g [5]uint8
	for i := range 5 {
		if n >= len(b) {
			return OBIS{}, n, false
		}
		v := uint(b[n] - '0')
		if v > 9 {
			return OBIS{}, n, false
		}
		n++
		if n < len(b) {
			if d := uint(b[n] - '0'); d <= 9 {
				v = v*10 + d
				n++
				if n < len(b) {
					if d := uint(b[n] - '0'); d <= 9 {
						v = v*10 + d
						n++
					}
				}
			}
		}
		if v > 255 || (n < len(b) && b[n]-'0' <= 9) {
			return OBIS{}, n, false
		}
		g[i] = uint8(v)
		if i == 4 {
			break
		}
		if n >= len(b) || b[n] != byte(obisSeparators>>(8*i)) {
			return OBIS{}, n, false
		}
		n++
	}
	return OBIS{g[0], g[1], g[2], g[3], g[4]}, n, true
}
