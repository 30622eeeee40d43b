package dsmr

import (
	"hash/crc32"
	"os"
	"testing"
)

func benchInput(b *testing.B, name string) []byte {
	b.Helper()
	data, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"smarty-2018.txt", "lux-spec-example.txt"} {
		data := benchInput(b, name)
		b.Run(name, func(b *testing.B) {
			var t Telegram
			if err := t.UnmarshalText(data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := t.UnmarshalText(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var sinkCRC uint32

func BenchmarkChecksum(b *testing.B) {
	data := benchInput(b, "smarty-2018.txt")
	b.Run("dsmr", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sinkCRC += uint32(Checksum(data))
		}
	})
	b.Run("baseline-crc32-IEEE", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sinkCRC += crc32.ChecksumIEEE(data)
		}
	})
}
