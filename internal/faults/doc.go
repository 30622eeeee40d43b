// Package faults holds the fault-injection suite of the commands: it runs
// the real MQTTPublisher binary, fed by the real SmartySimulator, against
// a real Mosquitto with a password, and does to it what an unlucky
// household or an attacker would: a queue directory on a 200 KB tmpfs
// that fills up, a file system remounted read-only under it or read-only
// from the start, bytes flipped in the queue files, a directory other
// users can write, planted symbolic links, a second publisher on the same
// directory after its files were deleted, credentials in the broker URL,
// SIGHUP with a backlog; and on the line, 70 MB of random noise through a
// pseudo-terminal, one million empty frames, plain telegrams among the
// meter's frames, a meter id that decodes to a forged log line, two meters
// whose frames alternate.
//
// Every case asserts three things: nothing lost (every frame counter
// reaches a persistent subscriber exactly once; a crash may add one
// repeat, never a gap), nothing leaked (no output nor log file holds the
// password, the user name or the key, and the log files are private), and
// the process still running where it should (a full disk never ends it).
//
// The kill points inside the queue (between a write, its fsync, the
// rename and the sync of the ack) are in internal/mqttpub's TestKillPoints,
// which needs the queue's test hook.
//
// Mounting a tmpfs needs root: the cases that do are skipped otherwise,
// with a message, unless SMARTY_REQUIRE_ROOT is set (.ci/run sets it, and
// runs as root): then they fail.
//
// There is no code here, only tests: go test ./internal/faults.
package faults
