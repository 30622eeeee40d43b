package dsmr

import (
	"math"
	"strings"
)

// baseUnits are the units without a prefix that conversions know, in the
// spelling the package returns them.
var baseUnits = [...]string{"Wh", "W", "varh", "var", "VAh", "VA", "V", "A", "m3", "GJ", "Hz", "s"}

// splitUnit parses a unit into a power of 1000 (k is 1, M 2) and one of
// baseUnits, ignoring case in the base, so that kVArh is 1 and varh. ok is
// false for a unit it does not know.
func splitUnit(u string) (exp int, base string, ok bool) {
	for _, b := range baseUnits {
		if strings.EqualFold(u, b) {
			return 0, b, true
		}
	}
	if len(u) > 1 {
		switch u[0] {
		case 'k', 'K':
			exp = 1
		case 'M':
			exp = 2
		default:
			return 0, "", false
		}
		for _, b := range baseUnits {
			if strings.EqualFold(u[1:], b) && b != "m3" && b != "GJ" && b != "s" {
				return exp, b, true
			}
		}
	}
	return 0, "", false
}

// convert returns d, given in unit from, in unit to: Wh to kWh, W to kW,
// varh to kvarh and back. ok is false when from is not a unit of the same
// quantity as to, or the result does not fit.
func convert(d Decimal, from, to string) (Decimal, bool) {
	fe, fb, ok1 := splitUnit(from)
	te, tb, ok2 := splitUnit(to)
	if !ok1 || !ok2 || fb != tb {
		return Decimal{}, false
	}
	for ; fe < te; fe++ { // to a larger unit: three more decimals
		if d.Scale+3 > 18 {
			return Decimal{}, false
		}
		d.Scale += 3
	}
	for ; fe > te; fe-- { // to a smaller unit
		switch {
		case d.Scale >= 3:
			d.Scale -= 3
		case d.Coef > math.MaxInt64/1000 || d.Coef < math.MinInt64/1000:
			return Decimal{}, false
		default:
			d.Coef *= 1000
		}
	}
	return d, true
}

// addDecimal returns a+b, and false when the exact sum does not fit.
func addDecimal(a, b Decimal) (Decimal, bool) {
	for a.Scale < b.Scale {
		if a.Coef > math.MaxInt64/10 || a.Coef < math.MinInt64/10 {
			return Decimal{}, false
		}
		a.Coef *= 10
		a.Scale++
	}
	for b.Scale < a.Scale {
		if b.Coef > math.MaxInt64/10 || b.Coef < math.MinInt64/10 {
			return Decimal{}, false
		}
		b.Coef *= 10
		b.Scale++
	}
	sum := a.Coef + b.Coef
	if (sum > a.Coef) != (b.Coef > 0) {
		return Decimal{}, false // overflow
	}
	return Decimal{Coef: sum, Scale: a.Scale}, true
}
