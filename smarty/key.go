package smarty

import "fmt"

// Key is a 16-byte AES-128 key: the decryption key a grid operator gives
// the meter's owner, or the authentication key that goes into the
// additional authenticated data.
//
// A Key is a secret. It prints as "[redacted]" with every fmt verb, so that
// it cannot end up in a log by accident.
type Key [16]byte

// LuxembourgAuthKey is the authentication key of the Luxembourg Smarty
// meters, 00112233445566778899AABBCCDDEEFF. Other meters of the same family
// (Austria's T210-D-r, for instance) give each customer a key of its own.
var LuxembourgAuthKey = Key{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF}

// KeyError is the error of [ParseKey]: what is wrong with the text, in
// Reason, without repeating the text (it may be most of a secret).
type KeyError struct {
	Reason string // "a key is 32 hex digits (16 bytes), this one has 31"
}

func (e *KeyError) Error() string { return "smarty: invalid key: " + e.Reason }

// ParseKey reads a key written as 32 hex digits, in either case. Spaces,
// colons and dashes between the digits are ignored, so that a key copied
// from a letter as "AE BD 21 ..." is accepted. The error says what is wrong
// without repeating the key.
func ParseKey(s string) (Key, error) {
	var k Key
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', ':', '-', '\r', '\n':
			continue
		}
		v := hexVal(c)
		if v < 0 {
			return Key{}, &KeyError{fmt.Sprintf("character %d is not a hex digit (a key is 32 hex digits, 0-9 and A-F)", i+1)}
		}
		if digits < 32 {
			k[digits/2] |= byte(v) << (4 * (1 - digits%2))
		}
		digits++
	}
	switch {
	case digits == 0:
		return Key{}, &KeyError{"the key is empty (a key is 32 hex digits)"}
	case digits != 32:
		return Key{}, &KeyError{fmt.Sprintf("a key is 32 hex digits (16 bytes), this one has %d", digits)}
	}
	return k, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// String returns "[redacted]".
func (k Key) String() string { return "[redacted]" }

// GoString returns "smarty.Key([redacted])".
func (k Key) GoString() string { return "smarty.Key([redacted])" }

// Format writes "[redacted]" whatever the verb, %x included.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, k.GoString())
		return
	}
	fmt.Fprint(f, k.String())
}
