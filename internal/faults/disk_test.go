package faults

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

const degraded = "cannot write to the queue directory"

// TestDiskFull fills a 200 KB tmpfs under -queueDir with the backlog of
// 300 telegrams while the broker is away: the publisher keeps the rest in
// memory, says so once, keeps running, and when the broker is back every
// telegram arrives once.
func TestDiskFull(t *testing.T) {
	slow(t)
	dir := tmpfs(t, "200k")
	b, url := broker(t)
	sub := subscriber(t, url)
	b.Stop()
	const n = 300 // 165 fit
	p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", filepath.Join(dir, "queue"))
	p.waitLog(degraded)
	p.waitLog("has ended")
	if !p.running() {
		t.Fatal("MQTTPublisher ended with the disk full")
	}
	b.Start()
	got := waitCounter(t, sub, counter0+n-1)
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d after delivering everything, want 0", status)
	}
	exactlyOnce(t, got, seq(counter0, counter0+n-1))
	if c := p.count(degraded); c != 1 {
		t.Errorf("the full disk was logged %d times, want once", c)
	}
	if !strings.Contains(p.stderr(), fmt.Sprintf("at exit: %d telegrams delivered, 0 waiting in the queue, 0 dropped", n)) {
		t.Error("the counts at exit do not say every telegram was delivered")
	}
	noLeak(t, p)
}

// TestDiskFillsWhileRunning fills the queue's file system with another
// file while telegrams flow from a pseudo-terminal: the publisher keeps
// running and delivering from memory, and goes back to the disk once the
// file is deleted. Every telegram arrives once.
func TestDiskFillsWhileRunning(t *testing.T) {
	slow(t)
	dir := tmpfs(t, "4m")
	_, url := broker(t)
	sub := subscriber(t, url)
	device, stopMeter := simulator(t)
	p := publisher(t, "-device", device, "-mqttBroker", url, "-queueDir", filepath.Join(dir, "queue"), "-grace", waitLimit.String())
	waitCounter(t, sub, counter0+20)
	fill(t, dir)
	p.waitLog(degraded)
	waitMore(t, sub, 30)
	if !p.running() {
		t.Fatal("MQTTPublisher ended with the disk full")
	}
	os.Remove(filepath.Join(dir, "filler"))
	p.waitLog("takes telegrams again")
	stopMeter()
	if status := p.stop(syscall.SIGTERM); status != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", status)
	}
	everyRead(t, p, sub)
	if c := p.count(degraded); c != 1 {
		t.Errorf("the full disk was logged %d times, want once", c)
	}
	if p.count("failed its last write") != 0 {
		t.Error("the disk has room again, but the counts at exit say it fails")
	}
	noLeak(t, p)
}

// TestDirUnwritableWhileRunning makes the queue directory unwritable
// (chmod 500, the publisher running as root without the capabilities that
// override permissions) while telegrams flow: the publisher keeps running
// and delivering, says once that it cannot record deliveries, and records
// them once the directory is writable again, so that a restart sends
// nothing twice.
func TestDirUnwritableWhileRunning(t *testing.T) {
	slow(t)
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		msg := "setpriv (util-linux) is not installed"
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	queue := filepath.Join(t.TempDir(), "queue")
	_, url := broker(t)
	sub := subscriber(t, url)
	device, stopMeter := simulator(t)
	p := publisherAs(t, noOverride, "-device", device, "-mqttBroker", url, "-queueDir", queue, "-grace", waitLimit.String())
	waitCounter(t, sub, counter0+20)
	os.Chmod(queue, 0o500)
	p.waitLog("cannot record deliveries")
	waitMore(t, sub, 30)
	if !p.running() {
		t.Fatal("MQTTPublisher ended with its queue directory unwritable")
	}
	os.Chmod(queue, 0o700)
	stopMeter()
	if status := p.stop(syscall.SIGTERM); status != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", status)
	}
	got := everyRead(t, p, sub)
	if c := p.count("cannot record deliveries"); c != 1 {
		t.Errorf("the unwritable directory was logged %d times, want once", c)
	}
	// Every delivery is recorded: a new run has nothing to send.
	p2 := publisher(t, "-device", dump(t, 0), "-mqttBroker", url, "-queueDir", queue)
	if status := p2.wait(); status != 0 {
		t.Errorf("second run: exit status %d, want 0", status)
	}
	if again := frameCounters(t, sub.Barrier(t)); len(again) != len(got) {
		t.Errorf("the second run sent %d telegrams again", len(again)-len(got))
	}
	noLeak(t, p, p2)
}

// noOverride runs a command as root without the capabilities that
// override file permissions, so that a chmod binds it as it binds other
// users.
var noOverride = []string{"setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"}

// waitMore waits until the subscriber has n more telegrams than now.
func waitMore(t *testing.T, sub *mosquittotest.Subscriber, n int) {
	t.Helper()
	before := len(frameCounters(t, sub.Messages()))
	sub.WaitFor(t, fmt.Sprintf("%d more telegrams", n), func([]mosquittotest.Message) bool {
		return len(frameCounters(t, sub.Messages())) >= before+n
	})
}

// everyRead checks, after the publisher has ended, that every telegram
// it read (its counts at exit) reached the subscriber once, in order, and
// returns the frame counters received. (The frames the simulator wrote
// before the publisher opened the terminal, or after it stopped reading,
// are not the publisher's to deliver.)
func everyRead(t *testing.T, p *proc, sub *mosquittotest.Subscriber) []int {
	t.Helper()
	got := frameCounters(t, sub.Barrier(t))
	read := atExit.FindStringSubmatch(p.stderr())
	if read == nil {
		t.Fatal("no counts at exit")
	}
	n, _ := strconv.Atoi(read[1])
	if read[2] != "0" || read[3] != "0" {
		t.Errorf("at exit %s telegrams wait in the queue, %s were dropped; want none", read[2], read[3])
	}
	if len(got) == 0 || got[0] > counter0+2 {
		t.Fatalf("the first telegram received is %v, want one of the first three", got[:min(1, len(got))])
	}
	exactlyOnce(t, got, seq(got[0], got[0]+n-1))
	return got
}

var atExit = regexp.MustCompile(`at exit: (\d+) telegrams delivered, (\d+) waiting in the queue, (\d+) dropped`)

// simulator runs SmartySimulator into a pseudo-terminal, one frame every
// 5 ms, and returns the terminal's path and a function that stops it. It
// sends until stopped, so that telegrams still flow whenever a test
// waits for the publisher to do something at the next one (a failing
// disk is tried again at the next telegram after a second), however
// slowly a loaded machine runs the test.
func simulator(t *testing.T) (string, func()) {
	t.Helper()
	cmd := exec.Command(program(t, "SmartySimulator"), "-key", keyHex, "-pty", "-interval", "5ms",
		"-counter", fmt.Sprint(counter0), "-seed", "7", "-start", start)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stop := func() {
		cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the simulator printed no pty path: %v", err)
	}
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(done)
	}()
	device := strings.TrimSpace(line)
	cmdtest.HoldPTY(t, device)
	return device, stop
}

// TestDiskFullAtStart starts the publisher on a queue directory whose
// file system is already full: it runs, delivers every telegram, and
// ends as a file source does (it used to exit 2, which the systemd unit
// does not restart).
func TestDiskFullAtStart(t *testing.T) {
	dir := tmpfs(t, "200k")
	queue := filepath.Join(dir, "queue")
	os.Mkdir(queue, 0o700)
	fill(t, dir)
	_, url := broker(t)
	sub := subscriber(t, url)
	const n = 50
	p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", queue)
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	exactlyOnce(t, waitCounter(t, sub, counter0+n-1), seq(counter0, counter0+n-1))
	if c := p.count(degraded); c != 1 {
		t.Errorf("the full disk was logged %d times, want once", c)
	}
	noLeak(t, p)
}

// TestReadOnlyAtStart starts the publisher with a queue directory that
// cannot be created, on a read-only file system: it works from memory.
func TestReadOnlyAtStart(t *testing.T) {
	dir := tmpfs(t, "200k")
	remount(t, dir, "ro")
	_, url := broker(t)
	sub := subscriber(t, url)
	const n = 50
	p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", filepath.Join(dir, "queue"))
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	exactlyOnce(t, waitCounter(t, sub, counter0+n-1), seq(counter0, counter0+n-1))
	if c := p.count(degraded); c != 1 {
		t.Errorf("the read-only disk was logged %d times, want once", c)
	}
	noLeak(t, p)
}

// queueDir returns a directory for a queue: on a tmpfs as root (fast
// fsyncs), else a temporary directory.
func queueDir(t *testing.T) string {
	if os.Geteuid() == 0 {
		return filepath.Join(tmpfs(t, "16m"), "queue")
	}
	return filepath.Join(t.TempDir(), "queue")
}

// TestDamagedQueue flips one byte in a record of an older segment and one
// in the segment being appended to, in a queue left by a publisher that
// was stopped with the broker away: the next run delivers every other
// telegram once, and says what was damaged.
func TestDamagedQueue(t *testing.T) {
	slow(t)
	queue := queueDir(t)
	b, url := broker(t)
	sub := subscriber(t, url)
	b.Stop()
	const n = 1000 // two segments of 1 MB
	p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", queue)
	p.waitLog("has ended")
	if status := p.stop(syscall.SIGTERM); status != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", status)
	}
	segs, _ := filepath.Glob(filepath.Join(queue, "*.seg"))
	sort.Strings(segs)
	if len(segs) < 2 {
		t.Fatalf("%d segments, want at least 2", len(segs))
	}
	lost := []int{damage(t, segs[0], 300), damage(t, segs[len(segs)-1], 10)}
	t.Logf("damaged the telegrams with frame counters %v", lost)

	b.Start()
	p2 := publisher(t, "-device", dump(t, 0), "-mqttBroker", url, "-queueDir", queue)
	if status := p2.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	var want []int
	for fc := counter0; fc < counter0+n; fc++ {
		if fc != lost[0] && fc != lost[1] {
			want = append(want, fc)
		}
	}
	exactlyOnce(t, waitCounter(t, sub, counter0+n-1), want)
	if c := p2.count("is damaged"); c != 2 {
		t.Errorf("%d lines about damaged queue files, want 2", c)
	}
	noLeak(t, p, p2)
}

// damage flips a byte in the telegram of the k-th record of a queue
// segment and returns the record's frame counter. (The layout: a 16-byte
// header, then records of length (4), CRC (4), sequence number (8) and
// data: version, flags, system title (8), frame counter (4), ...)
func damage(t *testing.T, path string, k int) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 16
	for range k {
		off += 16 + int(binary.BigEndian.Uint32(data[off:]))
	}
	rec := data[off+16:]
	fc := int(binary.BigEndian.Uint32(rec[10:14]))
	rec[100] ^= 0x20
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return fc
}
