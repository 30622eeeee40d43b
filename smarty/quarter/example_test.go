package quarter_test

import (
	"fmt"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

func ExampleLedger() {
	// A cooker draws 4 kW from 12:00 to 12:40, against a reference power
	// of 3 kW. One reading every 10 seconds (a program would call
	// AddTelegram with each telegram instead).
	l := quarter.Ledger{RefPower: 3, Price: 0.1139}
	cest := time.FixedZone("CEST", 2*60*60)
	start := time.Date(2025, 6, 2, 12, 0, 0, 0, cest)
	for k := 0; k <= 6*40; k++ {
		t := start.Add(time.Duration(k) * 10 * time.Second)
		kWh := 1000 + 4*t.Sub(start).Hours()
		for _, q := range l.Add(quarter.Sample{Time: t, Import: kWh, Power: 4, HasPower: true}) {
			fmt.Printf("%s-%s %.3f kWh, %.3f kW average, %.3f kWh over, %s\n",
				q.Start.Format("15:04"), q.End.Format("15:04"), q.Import, q.Average(), q.Excess(l.RefPower), q.Quality)
		}
	}
	st, _ := l.Status()
	fmt.Printf("at %s: %.3f kWh so far, %.3f kWh by %s, warning %v\n",
		st.Time.Format("15:04"), st.Import, st.Projected, st.End.Format("15:04"), st.Warning)
	fmt.Printf("today: %.3f kWh over, %.3f EUR\n", st.ExcessDay, st.CostDay)
	// Output:
	// 12:00-12:15 1.000 kWh, 4.000 kW average, 0.250 kWh over, ok
	// 12:15-12:30 1.000 kWh, 4.000 kW average, 0.250 kWh over, ok
	// at 12:40: 0.667 kWh so far, 1.000 kWh by 12:45, warning true
	// today: 0.500 kWh over, 0.057 EUR
}
