package quarter

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/Dublin

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// TestZone: the quarters follow the Ledger's Location, else Luxembourg's.
func TestZone(t *testing.T) {
	dublin, err := time.LoadLocation("Europe/Dublin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{nil, "2025-06-02T10:00:00+02:00 2025-06-02T10:15:00+02:00"},
		{dublin, "2025-06-02T09:00:00+01:00 2025-06-02T09:15:00+01:00"},
	} {
		l := Ledger{Location: tc.loc}
		samples := newMeter(at(10, 0, 0)).run(nil, at(10, 15, 0), time.Minute, constant(1))
		var got string
		for _, s := range samples {
			for _, q := range l.Add(s) {
				got = q.Start.Format(time.RFC3339) + " " + q.End.Format(time.RFC3339)
			}
		}
		if got != tc.want {
			t.Errorf("%v: %s, want %s", tc.loc, got, tc.want)
		}
	}
}

// TestTelegramZone: AddTelegram gives the quarters in the telegrams' zone.
func TestTelegramZone(t *testing.T) {
	dublin, _ := time.LoadLocation("Europe/Dublin")
	m := sim.New(sim.Config{Seed: 1, Start: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)})
	for _, loc := range []*time.Location{nil, dublin} {
		var l Ledger
		tg := dsmr.Telegram{Location: loc}
		if err := tg.UnmarshalText(m.AppendTelegram(nil)); err != nil {
			t.Fatal(err)
		}
		l.AddTelegram(&tg, time.Time{})
		st, _ := l.Status()
		want := "+02:00"
		if loc != nil {
			want = "+01:00"
		}
		if got := st.Start.Format("Z07:00"); got != want {
			t.Errorf("%v: %s, want %s", loc, got, want)
		}
	}
}
