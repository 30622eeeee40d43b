package offline

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLooksLikeHex(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"DB0853", true},
		{"db 08 53\r\n41", true},
		{"\n\n", false},
		{"D", false},
		{"\xDB\x08SAG", false},
		{"/Lux5\\253663629_D", false},
		{"0x DB", false},
	}
	for _, tc := range tests {
		if got := looksLikeHex([]byte(tc.in)); got != tc.want {
			t.Errorf("looksLikeHex(%q) = %v", tc.in, got)
		}
	}
}

func TestHexReader(t *testing.T) {
	tests := []struct {
		in          string
		want        string
		invalid     int64
		odd         bool
		description string
	}{
		{"41 42\n43", "ABC", 0, false, "spaces and line breaks"},
		{"4 1 4\t2", "AB", 0, false, "space inside a pair"},
		{"41g4243", "ABC", 1, false, "stray character between pairs"},
		{"414g243", "A$", 1, true, "stray character inside a pair drops the half pair"},
		{"41424", "AB", 0, true, "half a pair at the end"},
		{"", "", 0, false, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			h := newHexReader(iotest.OneByteReader(strings.NewReader(tc.in)))
			got, err := io.ReadAll(h)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || h.invalid != tc.invalid || h.odd != tc.odd {
				t.Errorf("got %q, invalid %d, odd %v; want %q, %d, %v", got, h.invalid, h.odd, tc.want, tc.invalid, tc.odd)
			}
		})
	}
	t.Run("iotest", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789abcdef"), 1000)
		want, _ := hex.DecodeString(string(data))
		if err := iotest.TestReader(newHexReader(bytes.NewReader(data)), want); err != nil {
			t.Error(err)
		}
	})
}
