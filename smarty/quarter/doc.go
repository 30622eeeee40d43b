// Package quarter cuts a meter's energy registers into the quarter-hours
// the grid operator bills by, and follows the current quarter against a
// reference power.
//
// Since 1 January 2025 a low-voltage connection in Luxembourg has a
// reference power P_ref (printed on the bill, most households 3 kW) and
// pays, in each quarter-hour, for the energy drawn above it: the excess of
// a quarter is max(0, E - P_ref × 0.25 h), where E is the energy imported
// in that quarter. The meter sends no quarter-hour values, only its
// registers (1-0:1.8.0 imported and 1-0:2.8.0 exported, in kWh), its
// powers and its clock (0-0:1.0.0), every ten seconds. A [Ledger] is fed
// those readings one by one ([Ledger.AddTelegram], or [Ledger.Add] with a
// [Sample]) and returns each [Quarter] as soon as it is complete; with a
// reference power it also keeps the live [Status] of the current quarter.
//
// # Quarters
//
// Quarters start at :00, :15, :30 and :45 of the meter's clock.
// Luxembourg's offset from UTC is a whole hour, so these are the UTC
// quarter boundaries too, and a local day has 96 quarters, 92 on the last
// Sunday of March and 100 on the last Sunday of October. The quarters are
// given in Luxembourg's time, or the zone of the telegrams
// (dsmr.Telegram.Location) or [Ledger.Location]. A register's
// value at a boundary is a reading taken on the boundary, or else the
// linear interpolation between the last reading before it and the first
// after it. A quarter's import is the difference of the import register's
// values at its two boundaries; its export likewise from the export
// register. Energies are rounded to 1e-6 kWh, so that sums print cleanly.
//
// # Quality
//
// Nothing is silently wrong: every quarter says how far it can be trusted
// ([Quality]). A boundary is
//
//   - [OK] when a reading falls on it, or the readings on either side are
//     at most one minute apart (a few telegrams lost at the meter's
//     ten-second pace): the interpolation error is then at most the
//     energy of that minute, and usually far less;
//   - [Estimated] when they are more than one minute and at most 15
//     minutes apart. A gap that short holds at most one boundary, so an
//     estimated quarter always has a measured part;
//   - [Broken] when they are more than 15 minutes apart, when they come
//     from different meters (the meter id changed), when a register went
//     backwards between them (a reset), or when the meter's clock jumped
//     between them (see below): the boundary then has no value.
//
// A quarter takes the worse quality of its two boundaries. A broken
// quarter has no energy (zero), and callers show it as unknown. The
// quarter in which the readings begin has no first boundary and is not
// reported; neither is the one in which they end, which is not complete.
//
// # The meter's clock
//
// Quarters come out once each, in order. A reading no later than the one
// before (a repeated telegram, or the clock set back), or more than 15
// minutes after it (a gap, or the clock jumping forward), is held until
// the next reading decides: when the next one follows the held reading
// within 15 minutes, the jump is real and the boundaries across it are
// broken; when it follows the reading before the jump, the held one was a
// glitch and is ignored ([Ledger.Ignored] counts them). After the clock
// is set back, the quarters it goes over again are not reported a second
// time. When [Sample.Received] gives the process clock, a meter clock that
// moves more than a minute more or less than the process clock between two
// telegrams breaks the boundaries between them at once. The quarters
// wholly inside a gap of more than a day are left out, so that a clock
// that jumps years ahead costs no memory.
//
// # Live figures
//
// With a reference power ([Ledger.RefPower]), [Ledger.Status] gives after
// each reading the current quarter's energy so far, its average power, the
// projection at its end (energy so far + power now × time left), the
// margin that can still be drawn, the excess of the quarter, the local day
// and month, their cost at [Ledger.Price], and a warning when the
// projection crosses the reference power. Everything is computed on the
// meter's clock; the package never reads the time itself, so the same
// readings always give the same figures.
package quarter
