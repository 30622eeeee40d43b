package quarter

import (
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// telegrams returns n simulated telegrams, 10 s apart.
func telegrams(b *testing.B, n int) [][]byte {
	m := sim.New(sim.Config{Seed: 1})
	out := make([][]byte, n)
	for k := range out {
		out[k] = m.AppendTelegram(nil)
	}
	return out
}

// BenchmarkParse is the baseline: parsing the telegram, which every
// program does before it hands it to a Ledger.
func BenchmarkParse(b *testing.B) {
	tgs := telegrams(b, 1024)
	var t dsmr.Telegram
	b.SetBytes(int64(len(tgs[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := t.UnmarshalText(tgs[i%len(tgs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddTelegram is what a Ledger adds to each telegram, with the
// live figures.
func BenchmarkAddTelegram(b *testing.B) {
	tgs := telegrams(b, 1024)
	parsed := make([]dsmr.Telegram, len(tgs))
	for k := range tgs {
		if err := parsed[k].UnmarshalText(tgs[k]); err != nil {
			b.Fatal(err)
		}
	}
	recv := time.Date(2025, 6, 2, 4, 0, 0, 0, time.UTC)
	l := &Ledger{RefPower: 3}
	b.SetBytes(int64(len(tgs[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(parsed)
		if k == 0 {
			l = &Ledger{RefPower: 3} // the clock starts again
		}
		l.AddTelegram(&parsed[k], recv.Add(time.Duration(k)*10*time.Second))
	}
}
