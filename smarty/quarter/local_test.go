package quarter

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/Luxembourg, to check the built-in rule against
)

// TestLocal compares the package's own summer-time rule with the time
// zone database, every 15 minutes around each change from 2020 to 2040.
func TestLocal(t *testing.T) {
	lux, err := time.LoadLocation("Europe/Luxembourg")
	if err != nil {
		t.Fatal(err)
	}
	var z zone
	for y := 2020; y <= 2040; y++ {
		for _, m := range []time.Month{time.March, time.October} {
			change := lastSunday(y, m).Add(time.Hour)
			for d := -3 * time.Hour; d <= 3*time.Hour; d += Length {
				u := change.Add(d)
				want := u.In(lux).Format(time.RFC3339)
				if got := z.local(u).Format(time.RFC3339); got != want {
					t.Errorf("%v: %s, want %s", u, got, want)
				}
				if got := local(u).Format(time.RFC3339); got != want {
					t.Errorf("%v: %s, want %s", u, got, want)
				}
			}
		}
	}
}
