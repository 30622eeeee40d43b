package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mqttpub"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

const (
	keyHex = "00112233445566778899AABBCCDDEEF0"
	start  = "2025-06-02T06:00:00+02:00"
	// step is the simulator's interval: short, so that the tests run
	// through many telegrams quickly.
	step = 50 * time.Millisecond
	// counter0 is the frame counter of the simulator's first frame.
	counter0 = 100
)

const waitLimit = mosquittotest.WaitLimit

// TestMain shortens the wait before the broker is tried again (1 s at
// first for a user), so that the tests of a broker that restarts or
// refuses do not wait on the clock. The command run as a child process
// (TestKill) keeps the user's.
func TestMain(m *testing.M) {
	mqttpub.RetryDefaults.Min, mqttpub.RetryDefaults.Max = 20*time.Millisecond, 200*time.Millisecond
	os.Exit(m.Run())
}

// startSimulator runs the simulator into a pseudo-terminal and returns its
// path: an encrypted meter with the given seed, one frame every step.
func startSimulator(t *testing.T, seed uint64) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	cmd := exec.Command(cmdtest.Path(t, "SmartySimulator"), "-key", keyHex, "-pty", "-interval", step.String(),
		"-seed", fmt.Sprint(seed), "-start", start, "-counter", fmt.Sprint(counter0))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The simulator does not stop on SIGINT while a write to the pty
		// blocks (nobody reads it): kill it if it has not ended soon.
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the simulator printed no pty path (%v); stderr:\n%s", err, stderr.String())
	}
	go io.Copy(io.Discard, out)
	device := strings.TrimSpace(line)
	cmdtest.HoldPTY(t, device)
	return device
}

// expectedJSON returns what <root>/telegram must hold for the simulator's
// frame with frame counter fc: the JSON of -format json.
func expectedJSON(t *testing.T, seed uint64, fc int) string {
	t.Helper()
	st, _ := time.Parse(time.RFC3339, start)
	m := sim.New(sim.Config{Seed: seed, Start: st, Step: step})
	var text []byte
	for range fc - counter0 + 1 {
		text = m.AppendTelegram(text[:0])
	}
	tel, err := dsmr.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return string(format.AppendJSON(nil, tel, &format.Envelope{SystemTitle: sim.SystemTitle(seed), FrameCounter: uint32(fc)}))
}

type result struct {
	err    error
	status int
	exit   string // the line main prints
}

// runAsync runs the command in this process until ctx is done; wait
// returns what a user would see.
func runAsync(t *testing.T, ctx context.Context, args ...string) (wait func() result) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, nil, io.Discard, io.Discard) }()
	return func() result {
		t.Helper()
		select {
		case err := <-done:
			var exit bytes.Buffer
			status := cli.Exit(&exit, err, mqttpub.FlagMessage)
			return result{err, status, exit.String()}
		case <-time.After(waitLimit):
			t.Fatal("MQTTPublisher does not return")
		}
		return result{}
	}
}

// publisherOf sets the test hook and returns a function that waits for
// the Publisher of the next run.
func publisherOf(t *testing.T) func() *mqttpub.Publisher {
	ch := make(chan *mqttpub.Publisher, 1)
	testHook = func(p *mqttpub.Publisher) { ch <- p }
	t.Cleanup(func() { testHook = nil })
	return func() *mqttpub.Publisher {
		select {
		case p := <-ch:
			return p
		case <-time.After(waitLimit):
			t.Fatal("no publisher")
		}
		return nil
	}
}

func waitStats(t *testing.T, p *mqttpub.Publisher, what string, cond func(mqttpub.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; stats %+v", what, p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frameCounters returns the frame counters of the telegram messages in m.
func frameCounters(t *testing.T, m []mosquittotest.Message) []int {
	var out []int
	for _, r := range m {
		if !strings.HasSuffix(r.Topic, "/telegram") {
			continue
		}
		var v struct {
			FrameCounter int `json:"frame_counter"`
		}
		if err := json.Unmarshal([]byte(r.Payload), &v); err != nil {
			t.Fatalf("telegram payload is not JSON: %v", err)
		}
		out = append(out, v.FrameCounter)
	}
	return out
}

// consecutive fails the test unless fc counts up by one.
func consecutive(t *testing.T, fc []int) {
	t.Helper()
	for i := 1; i < len(fc); i++ {
		if fc[i] != fc[i-1]+1 {
			t.Fatalf("frame counters not consecutive at %d: %v", i, fc)
		}
	}
}

func lastCounter(t *testing.T, m []mosquittotest.Message) int {
	fc := frameCounters(t, m)
	if len(fc) == 0 {
		return -1
	}
	return fc[len(fc)-1]
}

func TestUsageErrors(t *testing.T) {
	t.Setenv(cli.KeyEnv, "")
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	ca, _, err := mosquittotest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "good-ca.crt")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "-device is required"},
		{[]string{"-device", "/dev/null", "-mqttBroker", "localhost:1883"}, "-mqttBroker: broker \"localhost:1883\" has no scheme: write tcp://localhost:1883"},
		{[]string{"-device", "/dev/null", "-mqttBroker", "http://x"}, "unknown scheme"},
		{[]string{"-device", "/dev/null", "-mqttQos", "3"}, "-mqttQos 3: use 0, 1 or 2"},
		{[]string{"-device", "/dev/null", "-mqttCaFile", filepath.Join(dir, "nope")}, "reading the CA certificate"},
		{[]string{"-device", "/dev/null", "-mqttBroker", "ssl://x", "-mqttCaFile", notPEM}, "holds no PEM certificate"},
		{[]string{"-device", "/dev/null", "-mqttCertFile", notPEM}, "needs its private key file too"},
		{[]string{"-device", "/dev/null", "-mqttCaFile", "../../internal/mosquittotest/mosquittotest.go"}, "holds no PEM"},
		{[]string{"-device", "/dev/null", "-mqttTopicRoot", "a/#"}, "must not contain + or #"},
		{[]string{"-device", "/dev/null", "-mqttCaFile", caFile}, "TLS files given, but the broker URL tcp://localhost:1883 is not a TLS one: use ssl://"},
		{[]string{"-device", "/dev/null", "-queueSize", "-1"}, "-queueSize -1"},
		{[]string{"-device", "/dev/null", "extra"}, "unexpected argument"},
		{[]string{"-device", "/dev/null", "-key", "123"}, "-key: invalid key"},
		{[]string{"-device", "/dev/null", "-mqttRetain", "false"}, "-mqttRetain false: a yes/no flag takes its value after '=': write -mqttRetain=false"},
		{[]string{"-device", "/dev/null", "-heartbeat", "300"}, "-heartbeat 300: a duration needs a unit: write -heartbeat 300s (or 500ms, 2m, 1h)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runAsync(t, context.Background(), tc.args...)()
			if r.status != cli.ExitUsage || !strings.Contains(r.exit, tc.want) {
				t.Errorf("status %d, %q; want status 2 and a line with %q", r.status, r.exit, tc.want)
			}
			if strings.Count(r.exit, "\n") != 1 {
				t.Errorf("not one line: %q", r.exit)
			}
		})
	}
}

// TestEndToEnd runs the simulator into a pseudo-terminal and MQTTPublisher
// against it through the real serial code, publishing to a real broker:
// the subscriber sees the readings, the telegram as -format json prints
// it, the status and the discovery configs.
func TestEndToEnd(t *testing.T) {
	const seed = 7
	b := mosquittotest.Start(t, mosquittotest.Config{})
	live := mosquittotest.Subscribe(t, b.URL(), "live", "#", false)
	device := startSimulator(t, seed)
	r := runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-count", "3")()
	if r.status != 0 {
		t.Fatalf("exit status %d: %s", r.status, r.exit)
	}
	m := live.Barrier(t)
	fc := frameCounters(t, m)
	if len(fc) != 3 {
		t.Fatalf("%d telegrams, want 3", len(fc))
	}
	consecutive(t, fc)
	for _, msg := range m {
		if msg.Topic == "smarty/telegram" {
			var v struct {
				FrameCounter int `json:"frame_counter"`
			}
			json.Unmarshal([]byte(msg.Payload), &v)
			if want := expectedJSON(t, seed, v.FrameCounter); msg.Payload != want {
				t.Errorf("telegram %d differs from -format json:\n got %s\nwant %s", v.FrameCounter, msg.Payload, want)
			}
		}
	}
	if s, _ := mosquittotest.Last(m, "smarty/status"); s.Payload != "offline" {
		t.Errorf("status after a clean stop = %q, want offline", s.Payload)
	}

	late := mosquittotest.Subscribe(t, b.URL(), "late", "#", false)
	m = late.Barrier(t)
	topics := map[string]mosquittotest.Message{}
	for _, msg := range m {
		topics[msg.Topic] = msg
		if !msg.Retained {
			t.Errorf("%s not retained", msg.Topic)
		}
	}
	st, _ := time.Parse(time.RFC3339, start)
	meterID := sim.New(sim.Config{Seed: seed, Start: st}).MeterID()
	for _, topic := range []string{
		"smarty/status", "smarty/telegram", "smarty/1-0:1.8.0", "smarty/1-0:2.8.0", "smarty/1-0:3.8.0",
		"smarty/1-0:1.7.0", "smarty/1-0:32.7.0", "smarty/1-0:31.7.0", "smarty/0-1:24.2.1",
		"homeassistant/sensor/" + meterID + "/energy_import/config",
		"homeassistant/sensor/" + meterID + "/power_import/config",
		"homeassistant/sensor/" + meterID + "/mbus1_reading/config",
	} {
		if _, ok := topics[topic]; !ok {
			t.Errorf("no retained %s", topic)
		}
	}
	// The value topics hold the numbers of the last telegram.
	var last struct {
		Objects []struct {
			OBIS   string `json:"obis"`
			Values []struct {
				Number json.Number `json:"number"`
			} `json:"values"`
		} `json:"objects"`
	}
	d := json.NewDecoder(strings.NewReader(topics["smarty/telegram"].Payload))
	d.UseNumber()
	if err := d.Decode(&last); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, o := range last.Objects {
		if o.OBIS == "1-0:1.8.0" || o.OBIS == "1-0:1.7.0" || o.OBIS == "1-0:32.7.0" {
			if got := topics["smarty/"+o.OBIS].Payload; got != string(o.Values[0].Number) {
				t.Errorf("smarty/%s = %q, the telegram says %s", o.OBIS, got, o.Values[0].Number)
			}
			checked++
		}
	}
	if checked != 3 {
		t.Errorf("checked %d values against the telegram, want 3", checked)
	}
	var cfg map[string]any
	json.Unmarshal([]byte(topics["homeassistant/sensor/"+meterID+"/mbus1_reading/config"].Payload), &cfg)
	if cfg["device_class"] != "gas" || cfg["unit_of_measurement"] != "m³" || cfg["state_topic"] != "smarty/0-1:24.2.1" {
		t.Errorf("gas discovery config: %v", cfg)
	}
}

// TestBrokerRestart stops the broker for many telegram intervals while the
// simulator keeps sending: a subscriber with a persistent session gets
// every telegram's JSON at least once, in order. The stop may catch a
// batch in flight: the broker has some of its telegrams (and passes them
// on) but the publisher has no acknowledgement, and sends them again once
// the broker is back (docs/reliability.md). Those aside, each telegram
// arrives once.
func TestBrokerRestart(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := mosquittotest.Subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	device := startSimulator(t, 8)
	pubOf := publisherOf(t)
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(t, ctx, "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttTopicRoot", "smarty")
	p := pubOf()
	waitStats(t, p, "3 telegrams delivered", func(s mqttpub.Stats) bool { return s.Published >= 3 })

	b.Stop()
	waitStats(t, p, "8 telegrams queued", func(s mqttpub.Stats) bool { return s.Queued >= 8 })
	queuedAtRestart := p.Stats().Queued
	b.Start()
	// The broker is back: the queue drains and new telegrams flow.
	delivered := p.Stats().Published + uint64(p.Stats().Queued)
	waitStats(t, p, "the queue drained and 3 more delivered", func(s mqttpub.Stats) bool {
		return s.Queued == 0 && s.Published >= delivered+3
	})
	cancel()
	if r := wait(); r.status != 0 {
		t.Fatalf("exit status %d: %s", r.status, r.exit)
	}
	published := int(p.Stats().Published)
	sub.WaitFor(t, "every delivered telegram", func(m []mosquittotest.Message) bool {
		return len(frameCounters(t, m)) >= published
	})
	m := sub.Barrier(t)
	// A message the broker was sending to the subscriber when it was
	// stopped comes again, flagged DUP, after the restart: QoS 1 on the
	// broker's side.
	var fc []int
	seen, redelivered := map[int]bool{}, 0
	for _, msg := range m {
		n := frameCounters(t, []mosquittotest.Message{msg})[0]
		if msg.Duplicate && seen[n] {
			redelivered++
			continue
		}
		seen[n] = true
		fc = append(fc, n)
	}
	again := batchAgain(t, fc, 32)
	if n := len(fc) - again; n != published {
		t.Errorf("subscriber got %d telegrams, the publisher delivered %d", n, published)
	}
	t.Logf("%d redelivered by the broker (DUP), %d sent again by the publisher (a batch in flight when the broker stopped)", redelivered, again)
	t.Logf("%d telegrams, frame counters %d to %d, %d of them queued while the broker was down", len(fc)-again, fc[0], fc[len(fc)-1], queuedAtRestart)
}

// batchAgain fails the test unless fc counts up by one, except for one
// step back of at most most telegrams (a batch sent again), after which it
// counts up by one again. It returns the length of that step back.
func batchAgain(t *testing.T, fc []int, most int) (again int) {
	t.Helper()
	for i := 1; i < len(fc); i++ {
		switch d := fc[i-1] + 1 - fc[i]; {
		case d == 0:
		case d > 0 && d <= most && again == 0:
			again = d
		default:
			t.Fatalf("frame counters neither consecutive nor one batch again at %d: %v", i, fc)
		}
	}
	return again
}

// TestKill kills MQTTPublisher with SIGKILL while the broker is down, with
// telegrams in its queue directory, and starts it again: when the broker
// is back, every telegram it had on disk reaches the subscriber, once and
// in order. A clean stop (SIGTERM) of the second run, with the broker up,
// delivers or keeps every telegram it queued: the third run sends none of
// them again.
//
// What was on disk at the kill is what the first run logged as queued "on
// disk" (after the fsync), and perhaps one or two more: a telegram reaches
// the disk before the line that says so is written, and the kill can come
// in between. Those may arrive or not; nothing else may be missing.
func TestKill(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := mosquittotest.Subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	device := startSimulator(t, 9)
	queue := t.TempDir()
	b.Stop()

	p1, lines1 := startPublisher(t, "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-queueDir", queue)
	run1 := waitQueued(t, lines1, 5)
	p1.Process.Signal(syscall.SIGKILL)
	run1 = append(run1, drainQueued(lines1)...)
	p1.Wait()

	// A grace period that bounds nothing here: the second run delivers
	// its whole queue when it stops, and returns as soon as it has.
	args := []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-queueDir", queue, "-grace", waitLimit.String()}
	p2, lines2 := startPublisher(t, args...)
	run2 := waitQueued(t, lines2, 5)
	b.Start()
	sub.WaitFor(t, "the telegrams queued before the kill and after", func(m []mosquittotest.Message) bool {
		return lastCounter(t, m) >= run2[len(run2)-1].fc
	})
	p2.Process.Signal(syscall.SIGTERM)
	run2 = append(run2, drainQueued(lines2)...)
	if err := p2.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
	p3, lines3 := startPublisher(t, args...)
	run3 := waitQueued(t, lines3, 2)
	last := run3[len(run3)-1].fc
	m := sub.WaitFor(t, "the second telegram of the third run", func(m []mosquittotest.Message) bool {
		return lastCounter(t, m) >= last
	})
	p3.Process.Signal(syscall.SIGTERM)
	p3.Wait()

	// Those the kill may have caught on their way: after the first run's
	// last telegram logged on disk, before the second run's first.
	lastSafe := 0
	for _, q := range run1 {
		if q.onDisk {
			lastSafe = q.fc
		}
	}
	var must []int
	for _, q := range slices.Concat(run1, run2, run3) {
		if q.fc <= lastSafe || q.fc >= run2[0].fc {
			must = append(must, q.fc)
		}
	}
	got := frameCounters(t, m)
	got = got[:slices.Index(got, last)+1]
	var extra []int
	for i, fc := range got {
		if i > 0 && fc <= got[i-1] {
			t.Errorf("telegram %d came after %d: out of order, or twice (received %v)", fc, got[i-1], got)
		}
		if !slices.Contains(must, fc) {
			extra = append(extra, fc)
			if fc <= lastSafe || fc >= run2[0].fc {
				t.Errorf("telegram %d was received, but never logged as queued (received %v)", fc, got)
			}
		}
	}
	for _, fc := range must {
		if !slices.Contains(got, fc) {
			t.Errorf("telegram %d was queued but never received (queued %v, received %v)", fc, must, got)
		}
	}
	t.Logf("%d telegrams queued over three runs, the first killed with the broker down, all received once in order: %v", len(must), got)
	if len(extra) > 0 {
		t.Logf("and %v, which the kill caught on their way to the log", extra)
	}
}

// queuedTelegram is a telegram a publisher logged as queued, on disk or in
// memory.
type queuedTelegram struct {
	fc     int
	onDisk bool
}

var queuedLine = regexp.MustCompile(`queued telegram, frame counter (\d+), (on disk|in memory)`)

// startPublisher runs the MQTTPublisher binary with -v=2 and sends the
// telegrams it logs as queued to the channel, which is closed when the
// process ends. Its other log lines are shown if the test fails.
func startPublisher(t *testing.T, args ...string) (*exec.Cmd, chan queuedTelegram) {
	t.Helper()
	cmd := exec.Command(cmdtest.Path(t, "MQTTPublisher"), append([]string{"-v=2"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan queuedTelegram, 10000)
	var log strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := queuedLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				ch <- queuedTelegram{n, m[2] == "on disk"}
			} else {
				log.WriteString(sc.Text() + "\n")
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("MQTTPublisher %s logged:\n%s", strings.Join(args, " "), log.String())
		}
	})
	return cmd, ch
}

func waitQueued(t *testing.T, ch chan queuedTelegram, n int) []queuedTelegram {
	t.Helper()
	var out []queuedTelegram
	for len(out) < n {
		select {
		case q, ok := <-ch:
			if !ok {
				t.Fatalf("the publisher ended after queueing %v", out)
			}
			out = append(out, q)
		case <-time.After(waitLimit):
			t.Fatalf("gave up waiting for %d queued telegrams: %v", n, out)
		}
	}
	return out
}

// drainQueued returns what a publisher that has exited logged as queued
// after the last wait.
func drainQueued(ch chan queuedTelegram) []queuedTelegram {
	var out []queuedTelegram
	for q := range ch {
		out = append(out, q)
	}
	return out
}

// TestRefused shows the one line a user sees for a wrong password and for
// a broker whose certificate is not trusted, and that the right settings
// work.
func TestRefused(t *testing.T) {
	device := startSimulator(t, 10)
	t.Run("wrong password, silent meter", func(t *testing.T) {
		// The broker is tried at start: a meter that sends nothing (its
		// P1 port still closed) does not hide a wrong password.
		silent := cmdtest.SilentDevice(t)
		b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"meter": "s3cret"}})
		t.Setenv(mqttpub.PasswordEnv, "Wr0ngPa55")
		r := runAsync(t, context.Background(), "-key", keyHex, "-device", silent, "-mqttBroker", b.URL(), "-mqttUser", "meter")()
		if r.status != cli.ExitBroker || !strings.Contains(r.exit, "not authorised") {
			t.Errorf("status %d, %q; want 4 and one line saying not authorised", r.status, r.exit)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"meter": "s3cret"}})
		t.Setenv(mqttpub.PasswordEnv, "Wr0ngPa55")
		r := runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttUser", "meter")()
		if r.status != cli.ExitBroker || !strings.Contains(r.exit, "not authorised") || strings.Contains(r.exit, "Wr0ngPa55") {
			t.Errorf("status %d, %q; want 4 and one line saying not authorised, without the password", r.status, r.exit)
		}
		t.Logf("%s", r.exit)
		t.Setenv(mqttpub.PasswordEnv, "s3cret")
		r = runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttUser", "meter", "-count", "1")()
		if r.status != 0 {
			t.Errorf("right password from $%s: status %d, %q", mqttpub.PasswordEnv, r.status, r.exit)
		}
		r = runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttUser", "meter", "-mqttPassword", "s3cret", "-count", "1")()
		if r.status != 0 {
			t.Errorf("right password from -mqttPassword: status %d, %q", r.status, r.exit)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		b := mosquittotest.Start(t, mosquittotest.Config{TLS: true})
		r := runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL())()
		if r.status != cli.ExitBroker || !strings.Contains(r.exit, "-mqttCaFile") {
			t.Errorf("without the CA: status %d, %q; want 4 and one line pointing to -mqttCaFile", r.status, r.exit)
		}
		t.Logf("%s", r.exit)
		r = runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttCaFile", b.CAFile, "-count", "1")()
		if r.status != 0 {
			t.Errorf("with -mqttCaFile: status %d, %q", r.status, r.exit)
		}
	})
}

// TestTwoMeters runs two meters into one broker with the meter id in the
// topic root: their topics, client ids and discovery devices do not
// collide.
func TestTwoMeters(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	st, _ := time.Parse(time.RFC3339, start)
	var ids []string
	var waits []func() result
	for _, seed := range []uint64{11, 12} {
		ids = append(ids, sim.New(sim.Config{Seed: seed, Start: st}).MeterID())
		device := startSimulator(t, seed)
		waits = append(waits, runAsync(t, context.Background(), "-key", keyHex, "-device", device,
			"-mqttBroker", b.URL(), "-mqttTopicRoot", "meters/{meter}", "-count", "2"))
	}
	for _, wait := range waits {
		if r := wait(); r.status != 0 {
			t.Fatalf("exit status %d: %s", r.status, r.exit)
		}
	}
	if ids[0] == ids[1] {
		t.Fatalf("the two simulated meters have the same id %s", ids[0])
	}
	m := mosquittotest.Subscribe(t, b.URL(), "late", "#", false).Barrier(t)
	topics := map[string]string{}
	for _, msg := range m {
		topics[msg.Topic] = msg.Payload
	}
	for _, id := range ids {
		for _, topic := range []string{"meters/" + id + "/status", "meters/" + id + "/telegram", "meters/" + id + "/1-0:1.8.0",
			"homeassistant/sensor/" + id + "/energy_import/config"} {
			if _, ok := topics[topic]; !ok {
				t.Errorf("no retained %s", topic)
			}
		}
		var cfg struct {
			StateTopic string `json:"state_topic"`
			Device     struct {
				Identifiers []string `json:"identifiers"`
			} `json:"device"`
		}
		json.Unmarshal([]byte(topics["homeassistant/sensor/"+id+"/energy_import/config"]), &cfg)
		if cfg.StateTopic != "meters/"+id+"/1-0:1.8.0" || len(cfg.Device.Identifiers) != 1 || cfg.Device.Identifiers[0] != "smarty_"+id {
			t.Errorf("meter %s: discovery %+v", id, cfg)
		}
	}
	// Each run connected with its own client id: had they shared one, the
	// broker would have thrown the first out ("offline" by its will).
	log := b.Log()
	for _, id := range ids {
		if !strings.Contains(log, "smarty-"+id) {
			t.Errorf("the broker never saw the client id smarty-%s", id)
		}
	}
}

// TestInterruptWhileBrokerAway stops MQTTPublisher (as Ctrl-C does) while
// the broker is unreachable: it ends cleanly, and a run with the same
// queue directory finds the telegrams it could not deliver.
func TestInterruptWhileBrokerAway(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	b.Stop()
	device := startSimulator(t, 13)
	queue := t.TempDir()
	pubOf := publisherOf(t)
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(t, ctx, "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-queueDir", queue)
	p := pubOf()
	waitStats(t, p, "3 telegrams queued", func(s mqttpub.Stats) bool { return s.Queued >= 3 })
	cancel()
	if r := wait(); r.status != 0 {
		t.Fatalf("exit status %d: %s", r.status, r.exit)
	}
	left := p.Stats().Queued
	if left < 3 {
		t.Fatalf("%d telegrams left in the queue, want at least 3", left)
	}

	b.Start()
	sub := mosquittotest.Subscribe(t, b.URL(), "sub", "smarty/telegram", false)
	pubOf = publisherOf(t)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	wait = runAsync(t, ctx, "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-queueDir", queue)
	p = pubOf()
	if s := p.Stats(); s.Queued < left {
		t.Fatalf("the second run found %d telegrams in the queue, the first left %d", s.Queued, left)
	}
	waitStats(t, p, "the old telegrams delivered", func(s mqttpub.Stats) bool { return s.Published >= uint64(left) })
	m := sub.WaitFor(t, "the old telegrams", func(m []mosquittotest.Message) bool { return len(m) >= left })
	consecutive(t, frameCounters(t, m)[:left])
	cancel()
	if r := wait(); r.status != 0 {
		t.Fatalf("second run: exit status %d: %s", r.status, r.exit)
	}
}

// TestList shows that -list prints the machine's serial ports, one a line,
// as the library lists them (or says there are none), without a key, a
// device or a broker, and exits 0.
func TestList(t *testing.T) {
	ports, err := p1.ListPorts()
	if err != nil {
		t.Skipf("this machine cannot list its serial ports: %v", err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"-list", "-mqttBroker", "tcp://127.0.0.1:1"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("-list: %v", err)
	}
	if stdout.String() != cli.PortLines(ports) {
		t.Errorf("-list printed\n%s\nwant\n%s", stdout.String(), cli.PortLines(ports))
	}
	if len(ports) == 0 && !strings.Contains(stderr.String(), "no serial ports found") {
		t.Errorf("no ports, and stderr says %q", stderr.String())
	}
	t.Logf("ports: %q; stderr %q", stdout.String(), stderr.String())
}

// TestQueueLocked: a queue directory another publisher holds ends the
// command at once with its own exit status, which the systemd unit does not
// restart on.
func TestQueueLocked(t *testing.T) {
	dir := t.TempDir()
	holder, err := mqttpub.New(mqttpub.Config{Broker: "tcp://localhost:1883", QueueDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Run(canceled())
	r := runAsync(t, context.Background(), "-device", "/dev/null", "-queueDir", dir)()
	if r.status != cli.ExitLocked || !strings.Contains(r.exit, "is in use by another running publisher") {
		t.Errorf("status %d, %q; want %d and a line saying the queue is in use", r.status, r.exit, cli.ExitLocked)
	}
}

// canceled returns a context that is done already.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestHARemove publishes a meter's discovery configs, then removes them
// with -haRemove: Home Assistant would forget the meter's sensors.
func TestHARemove(t *testing.T) {
	device := startSimulator(t, 11)
	b := mosquittotest.Start(t, mosquittotest.Config{})
	if r := runAsync(t, context.Background(), "-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-count", "1")(); r.status != 0 {
		t.Fatalf("publishing: status %d, %s", r.status, r.exit)
	}
	configs := func() []string { return mosquittotest.RetainedTopics(t, b.URL(), "homeassistant/#") }
	before := configs()
	if len(before) < 10 {
		t.Fatalf("%d discovery configs retained after publishing", len(before))
	}
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-haRemove"}, nil, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !regexp.MustCompile(fmt.Sprintf(`^removed %d Home Assistant discovery configs of meter SAG[0-9A-Z]+\n$`, len(before))).MatchString(got) {
		t.Errorf("stdout %q; want it to say %d configs were removed", got, len(before))
	}
	if after := configs(); len(after) != 0 {
		t.Errorf("still retained after -haRemove: %v", after)
	}
}
