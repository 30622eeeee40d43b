package quarter

import (
	"testing"
	"time"
)

// FuzzLedger feeds arbitrary readings, three bytes each: a step of the
// meter's clock (tens of seconds, or hours when a multiple of 7, forward
// or back), a power in tenths of kW, and flags (meter change, register
// reset, process clock, no power). Whatever they are, quarters come out
// once each, in order, aligned, with energies that are not negative, and
// a bounded number per reading.
func FuzzLedger(f *testing.F) {
	f.Add([]byte{1, 20, 0, 1, 20, 0, 90, 20, 0, 1, 20, 0})
	f.Add([]byte{1, 20, 4, 1, 20, 4, 30, 50, 4, 1, 20, 1, 1, 20, 2, 0xF9, 20, 0, 1, 20, 0, 1, 0x80, 8})
	f.Add([]byte{7, 10, 0, 1, 10, 0, 0x85, 10, 0, 1, 10, 0, 1, 10, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := Ledger{RefPower: 3, Price: 0.1}
		tm := time.Date(2025, 3, 30, 0, 3, 0, 0, time.UTC)
		recv := tm
		imp, exp := 100.0, 10.0
		id := "A"
		var prevEnd time.Time
		for i := 0; i+3 <= len(data) && i < 3*2000; i += 3 {
			v := int8(data[i])
			dt := time.Duration(v) * 10 * time.Second
			if v%7 == 0 {
				dt = time.Duration(v) * time.Hour
			}
			p := float64(int8(data[i+1])) / 10
			flags := data[i+2]
			if dt > 0 {
				if p > 0 {
					imp += p * dt.Hours()
				} else {
					exp -= p * dt.Hours()
				}
			}
			tm = tm.Add(dt)
			recv = recv.Add(10 * time.Second)
			if flags&1 != 0 {
				id += "x"
			}
			if flags&2 != 0 {
				imp, exp = 0, 0
			}
			s := Sample{Time: tm, MeterID: id, Import: imp, Export: exp, Power: p, HasPower: flags&8 == 0}
			if flags&4 != 0 {
				s.Received = recv
			}
			qs := l.Add(s)
			if len(qs) > int(maxSkip/Length)+2 {
				t.Fatalf("%d quarters from one reading", len(qs))
			}
			for _, q := range qs {
				if q.End.Sub(q.Start) != Length || !q.Start.Truncate(Length).Equal(q.Start) {
					t.Fatalf("quarter %v to %v", q.Start, q.End)
				}
				if q.Start.Before(prevEnd) {
					t.Fatalf("quarter at %v after one that ended at %v", q.Start, prevEnd)
				}
				prevEnd = q.End
				if q.Import < 0 || q.Export < 0 || q.Quality == Broken && (q.Import != 0 || q.Export != 0) {
					t.Fatalf("quarter %+v", q)
				}
			}
			if st, ok := l.Status(); ok {
				if st.Time.Before(st.Start) || !st.Time.Before(st.End) {
					t.Fatalf("status at %v for %v to %v", st.Time, st.Start, st.End)
				}
				if st.Warn && !st.Warning {
					t.Fatalf("Warn without Warning")
				}
			}
		}
	})
}
