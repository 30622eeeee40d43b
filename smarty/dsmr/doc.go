// Package dsmr parses the plain-text telegrams that smart meters send on
// their P1 port: Luxembourg's Smarty, the Dutch and Belgian DSMR 2.2 to 5
// and e-MUCS meters, and the Austrian, Hungarian, Irish, Swedish and
// Lithuanian meters that share the grammar. It knows nothing about the
// encrypted envelope around Smarty telegrams (see package smarty) nor about
// serial ports: it takes the bytes of one telegram.
//
// A telegram is an identification line, one object per line and a checksum
// (shortened here from a real one):
//
//	/Lux5\253663629_D
//
//	1-3:0.2.8(42)
//	0-0:1.0.0(180130102122W)
//	0-0:42.0.0(53414731303330373030313134303034)
//	1-0:1.8.0(000006.695*kWh)
//	1-1:31.4.0(100*A)(-063*A)
//	0-1:24.2.1(200706103140S)(00000.006*m3)
//	!CFDE
//
// [Parse], or [Telegram.UnmarshalText] on a Telegram that is reused from
// one telegram to the next, checks the grammar and the CRC-16 after '!' and gives the
// objects in telegram order, each with its OBIS code and every bracketed
// group, unknown codes included:
//
//	t, err := dsmr.Parse(data)
//	switch {
//	case errors.Is(err, dsmr.ErrCRC): // damaged on the way; t holds the content
//	case err != nil: // a *SyntaxError with the byte offset and line
//	}
//	for _, o := range t.Objects() {
//		d, unit, ok := o.Decimal() // 6.695 "kWh" for 1-0:1.8.0
//		...
//	}
//
// A [Value] interprets one group: [Value.Decimal] (an exact fixed-point
// number and its unit, which older firmware leaves out), [Value.Time],
// [Value.Text] (hex-encoded text such as the meter id). [Lookup] names the
// codes the catalogue knows, and the Telegram accessors read what programs
// need most: [Telegram.MeterID], [Telegram.Time], [Telegram.EnergyImport],
// [Telegram.PowerImport], [Telegram.NetPower], [Telegram.Voltage],
// [Telegram.Current], [Telegram.MBus] for the gas, water and heat meters on
// channels 1 to 4, [Telegram.PowerFailures].
//
// Time, one rule for all meters: the meter's clock is read in the calendar
// of its zone ([Telegram.Location]; Europe/Luxembourg, built in, by
// default; [LoadLocation] for others), which decides the offset; the S/W letter only
// settles the hour that occurs twice in autumn. Placeholders (dates that do
// not exist, any time in 2000 or 1970, such as 632525252525S,
// 000101000001W or 700101010000W) are "no time".
//
// Units: the one the meter sent, or the one the standard fixes for the
// code (the catalogue, [Lookup]; the device type for M-Bus readings,
// [Telegram.Unit]); counts and identifiers have none. The accessors convert
// to the unit their name says (Wh to kWh, W to kW) and find an electricity
// register under any measurement channel (1-1:1.8.0 as well as 1-0:1.8.0).
//
// A line that does not parse, in a telegram whose CRC matches, is left out
// and reported by [Telegram.LineErrors]; the rest of the telegram is kept.
//
// Parsing into a Telegram that is reused allocates nothing in the steady
// state; the Objects and Values of a telegram are valid until the next
// parse into the same Telegram ([Telegram.Clone] keeps one). Bad input never panics,
// and the memory a Telegram uses grows linearly with its input.
package dsmr
