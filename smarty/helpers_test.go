package smarty

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The real capture from a Smarty meter, shared with the rest of the project.
const (
	realFramePath     = "../testdata/smarty-2018.bin"
	realKeyPath       = "../testdata/smarty-2018.key"
	realPlaintextPath = "../testdata/smarty-2018.txt"
	specTelegramPath  = "../testdata/lux-spec-example.txt"
)

// Test keys and system titles for generated frames.
var (
	otherKey   = Key{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	austrianAK = Key{0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF}
	testTitle  = SystemTitle{'S', 'A', 'G', 0x10, 0x20, 0x30, 0x40, 0x50}
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func realKey(t testing.TB) Key {
	t.Helper()
	k, err := ParseKey(string(readFile(t, realKeyPath)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// realCipher returns the Cipher of the real capture.
func realCipher(t testing.TB) *Cipher {
	return NewCipher(realKey(t), LuxembourgAuthKey)
}

// golden compares got with testdata/golden/name, or rewrites the file with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// withCRC returns a telegram body ending in '!' with its correct CRC and
// CR LF appended.
func withCRC(body string) []byte {
	b := []byte(body)
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	const hexdigits = "0123456789ABCDEF"
	return append(b, hexdigits[crc>>12], hexdigits[crc>>8&15], hexdigits[crc>>4&15], hexdigits[crc&15], '\r', '\n')
}
