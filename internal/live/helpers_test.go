package live

import (
	"os"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// testKey is the key of the frames the tests make; never a real one.
var testKey = smarty.Key{0x0F, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78, 0x87, 0x96, 0xA5, 0xB4, 0xC3, 0xD2, 0xE1, 0xF0}

var testTitle = smarty.SystemTitle{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x54}

// testCipher returns the cipher of testKey with Luxembourg's
// authentication key.
func testCipher() *smarty.Cipher { return smarty.NewCipher(testKey, smarty.LuxembourgAuthKey) }

// realTelegram returns the plaintext of the real 2018 capture.
func realTelegram(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/smarty-2018.txt")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// framer seals the real telegram with testKey under a given frame counter.
type framer struct {
	c     *smarty.Cipher
	plain []byte
}

func newFramer(t testing.TB) *framer { return &framer{c: testCipher(), plain: realTelegram(t)} }

func (f *framer) frame(counter uint32) []byte {
	return f.c.Seal(nil, testTitle, counter, f.plain)
}
