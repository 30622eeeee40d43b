package quarterlive

import (
	"math"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/quarter"
)

// View is the current quarter-hour as JSON, the one shape the outputs
// share (the gateway's /api/live, the MQTT topic <root>/quarter): kW, kWh
// and EUR as the bill writes them, rounded to the meter's resolution (a
// watt, a watt-hour) and to the cent.
type View struct {
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Time        time.Time `json:"time"` // the meter's time of the telegram
	RefPower    float64   `json:"reference_power_kw"`
	Import      float64   `json:"import_kwh"`
	Export      float64   `json:"export_kwh"`
	Average     float64   `json:"average_kw"`
	Power       float64   `json:"power_kw"`
	Projected   float64   `json:"projected_kw"` // the quarter's expected average
	Margin      float64   `json:"margin_kw"`
	Excess      float64   `json:"excess_kwh"`
	ExcessDay   float64   `json:"excess_day_kwh"`
	ExcessMonth float64   `json:"excess_month_kwh"`
	// With -excessPrice only.
	Price     *float64 `json:"excess_price_eur_per_kwh,omitempty"`
	CostDay   *float64 `json:"cost_day_eur,omitempty"`
	CostMonth *float64 `json:"cost_month_eur,omitempty"`
	Warning   bool     `json:"warning"`
	Estimated bool     `json:"estimated"`
}

// ViewOf returns the View of st, nil for nil.
func ViewOf(st *quarter.Status) *View {
	if st == nil {
		return nil
	}
	r3 := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	v := &View{
		Start: st.Start, End: st.End, Time: st.Time, RefPower: st.RefPower,
		Import: r3(st.Import), Export: r3(st.Export), Average: r3(st.Average), Power: r3(st.Power),
		Projected: r3(ProjectedKW(st)), Margin: r3(st.Margin),
		Excess: r3(st.Excess), ExcessDay: r3(st.ExcessDay), ExcessMonth: r3(st.ExcessMonth),
		Warning: st.Warning, Estimated: st.Quality != quarter.OK,
	}
	if st.Price > 0 {
		price, day, month := st.Price, math.Round(st.CostDay*100)/100, math.Round(st.CostMonth*100)/100
		v.Price, v.CostDay, v.CostMonth = &price, &day, &month
	}
	return v
}

// ProjectedKW is the quarter's expected average power in kW: the projected
// energy over the quarter's length, what is compared with the reference
// power.
func ProjectedKW(st *quarter.Status) float64 { return st.Projected / quarter.Length.Hours() }
