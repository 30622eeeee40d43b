// Package gcmbaseline is the baseline that the benchmarks of the decoding
// path run beside, so that their figures read as ratios whatever the
// machine's speed: the bare AES-128-GCM Open of the real 647-byte frame in
// the repository's testdata/, with the standard library and nothing else.
// It is for benchmarks only.
//
// The smarty and smarty/dsmr packages keep a copy of their own: this
// package imports smarty, which their in-package tests cannot.
package gcmbaseline

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"os"
	"path/filepath"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Benchmark opens the real frame b.N times; testdata is the path of the
// repository's testdata directory from the calling package's directory
// ("../../testdata").
func Benchmark(b *testing.B, testdata string) {
	frame, err := os.ReadFile(filepath.Join(testdata, "smarty-2018.bin"))
	if err != nil {
		b.Fatal(err)
	}
	keyText, err := os.ReadFile(filepath.Join(testdata, "smarty-2018.key"))
	if err != nil {
		b.Fatal(err)
	}
	key, err := smarty.ParseKey(string(keyText))
	if err != nil {
		b.Fatal(err)
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCMWithTagSize(block, 12)
	if err != nil {
		b.Fatal(err)
	}
	// DB 08 title(8) 82 HH LL 30 counter(4) ciphertext tag(12)
	nonce := append(bytes.Clone(frame[2:10]), frame[14:18]...)
	aad := append([]byte{0x30}, smarty.LuxembourgAuthKey[:]...)
	dst := make([]byte, 0, len(frame))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aead.Open(dst[:0], nonce, frame[18:], aad); err != nil {
			b.Fatal(err)
		}
	}
}
