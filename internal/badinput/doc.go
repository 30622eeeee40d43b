// Package badinput holds the bad-input suite of the project: bytes that a
// P1 line or a capture can carry instead of clean frames, fed on purpose
// through the code paths users run.
//
// Its tests build streams of good frames with bad input between them
// (random bytes, an endless run of 0xDB, length fields of 0, 1 and 65535,
// a frame cut at every byte position, one flipped bit in every part of a
// frame, the wrong key, the wrong authentication key, plain telegrams with
// a wrong CRC, no CRC, a 100 KB line, non-ASCII bytes, unbalanced
// brackets) and send them
//
//   - through a pseudo-terminal into the live reader (p1.Open, the
//     serial code, p1.Stream, smarty.Reader), as a P1 cable
//     would deliver them, and
//   - through the OfflineDecryption command, built and run as a user runs
//     it.
//
// For every case they check that nothing panics or hangs (each run has a
// deadline), that memory stays bounded, that the bad input is reported
// with its reason and byte offset, and that the good frame after it is
// still decoded. The package has no code of its own outside its tests.
package badinput
