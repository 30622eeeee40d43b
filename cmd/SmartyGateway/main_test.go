package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mqttpub"
	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

const (
	keyHex   = "00112233445566778899AABBCCDDEEF0"
	start    = "2025-06-02T12:00:00+02:00"
	counter0 = 100
	seed     = 5
)

// startSimulator runs the simulator on a pseudo-terminal, one encrypted
// frame every interval, and returns the terminal's path: the one device
// the gateway reads.
func startSimulator(t testing.TB, interval time.Duration, extra ...string) string {
	t.Helper()
	path, _ := startSimulatorProcess(t, interval, extra...)
	return path
}

// startSimulatorProcess is startSimulator, and also returns the
// simulator's process (which a test may stop and continue).
func startSimulatorProcess(t testing.TB, interval time.Duration, extra ...string) (string, *os.Process) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no pseudo-terminals on Windows")
	}
	args := append([]string{"-key", keyHex, "-pty", "-interval", interval.String(),
		"-seed", fmt.Sprint(seed), "-start", start, "-counter", fmt.Sprint(counter0)}, extra...)
	cmd := exec.Command(cmdtest.Path(t, "SmartySimulator"), args...)
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
		resume(cmd.Process) // in case the test paused it
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
	return device, cmd.Process
}

// simTelegrams returns the plaintexts the simulator sends, indexed by
// frame counter - counter0, and their -format json lines.
func simTelegrams(t testing.TB, interval time.Duration, n int) (plain [][]byte, js []string) {
	t.Helper()
	st, _ := time.Parse(time.RFC3339, start)
	m := sim.New(sim.Config{Seed: seed, Start: st, Step: interval})
	title := sim.SystemTitle(seed)
	for i := range n {
		tg := m.AppendTelegram(nil)
		plain = append(plain, tg)
		var msg smarty.Message
		if err := msg.Telegram.UnmarshalText(tg); err != nil {
			t.Fatal(err)
		}
		msg.Encrypted = true
		msg.Header.SystemTitle = title
		msg.Header.FrameCounter = uint32(counter0 + i)
		js = append(js, string(format.AppendMessage(nil, &msg)))
	}
	return plain, js
}

// gateway is a running SmartyGateway process.
type gateway struct {
	*clienttest.Process
	dsmr, http string // addresses
}

func startGateway(t testing.TB, device string, args ...string) *gateway {
	t.Helper()
	g := &gateway{dsmr: clienttest.FreePort(t), http: clienttest.FreePort(t)}
	all := append([]string{"-key", keyHex, "-device", device, "-dsmrListen", g.dsmr, "-http", g.http}, args...)
	g.Process = clienttest.Start(t, exec.Command(cmdtest.Path(t, "SmartyGateway"), all...))
	clienttest.Eventually(t, 30*time.Second, "the gateway listening", func() bool {
		select {
		case <-g.Done():
			t.Fatalf("the gateway ended: %s", g.Stderr.Bytes())
		default:
		}
		c, err := net.Dial("tcp", g.http)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return g
}

// stop interrupts the gateway and returns its exit status.
func (g *gateway) stop(t testing.TB) int {
	t.Helper()
	g.Cmd.Process.Signal(os.Interrupt)
	g.Wait(t, 30*time.Second)
	return g.Cmd.ProcessState.ExitCode()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-key", keyHex, "-device", "/dev/null"}, "nothing to serve: give one or more of -mqttBroker URL, -dsmrListen HOST:PORT, -http HOST:PORT, -stdout text|json"},
		{[]string{"-key", keyHex, "-device", "/dev/null", "-dsmrListen", "2001"}, `-dsmrListen "2001": want host:port`},
		{[]string{"-key", keyHex, "-device", "/dev/null", "-dsmrListen", ":0", "-dsmrAllow", "192.168.1/24"}, `-dsmrAllow "192.168.1/24": want networks such as 192.168.1.0/24`},
		{[]string{"-key", keyHex, "-device", "/dev/null", "-http", "localhost"}, `-http "localhost": want host:port`},
		{[]string{"-key", keyHex, "-device", "/dev/null", "-stdout", "xml"}, `invalid value "xml" for flag -stdout`},
		{[]string{"-key", keyHex, "-device", "/dev/null", "-http", ":0", "-haRemove"}, "-haRemove needs -mqttBroker: the broker to remove the meter's discovery configs from"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, nil, &stdout, &stderr)
		status := cli.Exit(&stderr, err)
		if status != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: status %d, stderr %q; want 2 and %q", tc.args, status, stderr.String(), tc.want)
		}
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-key", keyHex, "-device", "/dev/null", "-dsmrListen", ":1", "-http", l.Addr().String()}, nil, io.Discard, &stderr)
	if status := cli.Exit(&stderr, err); status != 1 || !strings.Contains(stderr.String(), "-http: httpapi: listen tcp4 "+l.Addr().String()+": bind: address already in use") {
		t.Errorf("status %d: %s", status, stderr.String())
	}
}

// TestEveryOutput: one read of the meter (a pseudo-terminal has one
// reader) feeds Home Assistant's dsmr_parser, socat, an MQTT broker, an
// event stream, /api/telegram and standard output at once, each with the
// same telegrams.
func TestEveryOutput(t *testing.T) {
	t.Parallel() // it runs programs and waits on them
	readDSMR := clienttest.DSMRClient(t)
	socat := clienttest.Program(t, "socat", "socat")
	const interval = 50 * time.Millisecond
	plain, js := simTelegrams(t, interval, 1600)
	byJSON := map[string]int{}
	for i, j := range js {
		byJSON[j] = i
	}
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := mosquittotest.Subscribe(t, b.URL(), "test", "smarty/telegram", false)
	device := startSimulator(t, interval)
	g := startGateway(t, device, "-mqttBroker", b.URL(), "-stdout", "json")

	const n = 8
	host, port, _ := net.SplitHostPort(g.dsmr)
	ha := clienttest.Start(t, exec.Command(readDSMR, host, port, "-n", strconv.Itoa(n), "--spec", "LUXEMBOURG_SMARTY", "--strict", "--timeout", "60"))
	raw := clienttest.Start(t, exec.Command(socat, "-u", "TCP:"+g.dsmr, "STDOUT"))
	resp, err := http.Get("http://" + g.http + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []string
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(events) < n {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events = append(events, d)
			}
		}
	}()

	if err := ha.Wait(t, 90*time.Second); err != nil {
		t.Fatalf("dsmr_parser: %v\n%s", err, ha.Stderr.Bytes())
	}
	select {
	case <-evDone:
	case <-time.After(60 * time.Second):
		t.Fatal("fewer than n events")
	}
	sub.WaitFor(t, "n telegrams over MQTT", func(m []mosquittotest.Message) bool { return len(m) >= n })
	latest, err := http.Get("http://" + g.http + "/api/telegram")
	if err != nil {
		t.Fatal(err)
	}
	latestJSON, _ := io.ReadAll(latest.Body)
	latest.Body.Close()
	if status := g.stop(t); status != 0 {
		t.Fatalf("exit status %d: %s", status, g.Stderr.Bytes())
	}
	raw.Wait(t, 30*time.Second)

	// Standard output: consecutive telegrams, as -format json.
	lines := strings.Split(strings.TrimSpace(g.Stdout.String()), "\n")
	first, ok := byJSON[lines[0]]
	if !ok {
		t.Fatalf("stdout's first line is no telegram of the simulator: %s", lines[0])
	}
	for k, l := range lines {
		if i, ok := byJSON[l]; !ok || i != first+k {
			t.Fatalf("stdout line %d is not the simulator's next telegram: %s", k+1, l)
		}
	}
	seen := func(what, j string) {
		t.Helper()
		if i, ok := byJSON[j]; !ok || i < first || i >= first+len(lines) {
			t.Errorf("%s got a telegram that standard output did not: %s", what, j)
		}
	}
	for _, e := range events {
		seen("the event stream", e)
	}
	for _, m := range sub.Messages() {
		seen("MQTT", m.Payload)
	}
	seen("/api/telegram", strings.TrimSpace(string(latestJSON)))

	// socat: whole telegrams, byte for byte, consecutive.
	got := raw.Stdout.Bytes()
	start := bytes.Index(got, []byte("/"))
	if start < 0 || start != 0 {
		t.Fatalf("socat's copy does not start with a telegram")
	}
	k := -1
	for i, p := range plain {
		if bytes.HasPrefix(got, p) {
			k = i
			break
		}
	}
	if k < 0 {
		t.Fatal("socat's copy does not start with a telegram of the simulator")
	}
	count := 0
	for len(got) > 0 {
		if !bytes.HasPrefix(got, plain[k]) {
			t.Fatalf("socat's copy: telegram %d differs from the simulator's", count+1)
		}
		got = got[len(plain[k]):]
		k++
		count++
	}
	if count < n {
		t.Errorf("socat got %d telegrams", count)
	}

	// dsmr_parser: n telegrams, CRC valid, each one the simulator sent.
	byTime := map[string]*dsmr.Telegram{}
	for _, p := range plain {
		tg, _ := dsmr.Parse(p)
		tm, _ := tg.Time()
		byTime[tm.UTC().Format(time.RFC3339)] = tg
	}
	sc := bufio.NewScanner(&ha.Stdout)
	sc.Buffer(nil, 1<<20)
	parsed := 0
	for sc.Scan() {
		var l struct {
			Objects map[string]struct {
				Value string `json:"value"`
			} `json:"objects"`
			CRCOK bool `json:"crc_ok"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		tg := byTime[strings.Replace(l.Objects["P1_MESSAGE_TIMESTAMP"].Value, "+00:00", "Z", 1)]
		if tg == nil || !l.CRCOK {
			t.Fatalf("dsmr_parser parsed a telegram the simulator did not send: %s", sc.Bytes())
		}
		e, _, _ := tg.Decimal(dsmr.CodeEnergyImport)
		if got := l.Objects["ELECTRICITY_IMPORTED_TOTAL"].Value; got != e.String() {
			t.Errorf("dsmr_parser: energy import %s, want %s", got, e)
		}
		parsed++
	}
	if parsed != n {
		t.Errorf("dsmr_parser parsed %d telegrams, want %d", parsed, n)
	}
}

// TestSilentMeter: when the meter stops sending, the readings leave
// /metrics and /api/telegram once the watchdog's -timeout has passed, and
// smarty_up says 0; the link's counters stay.
//
// The meter falls silent when the test says so (the simulator is stopped
// with SIGSTOP, its end of the pseudo-terminal left open), once the
// readings have been seen: a meter that stopped by itself after a few
// telegrams could fall silent, and its readings go, before a loaded
// machine had let the test look.
func TestSilentMeter(t *testing.T) {
	t.Parallel() // it runs programs and waits on them
	device, sim := startSimulatorProcess(t, 100*time.Millisecond)
	g := startGateway(t, device, "-timeout", "1s")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + g.http + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	clienttest.Eventually(t, 30*time.Second, "readings served", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, "smarty_up 1\n") && strings.Contains(m, "smarty_power_import_watts{")
	})
	_, m := get("/metrics")
	before := telegramsTotal(m)
	if err := pause(sim); err != nil {
		t.Fatal(err)
	}
	clienttest.Eventually(t, 30*time.Second, "readings gone once the meter is silent", func() bool {
		_, m = get("/metrics")
		return strings.Contains(m, "smarty_up 0\n") && !strings.Contains(m, "smarty_power_import_watts{")
	})
	if n := telegramsTotal(m); n < before || before < 1 {
		t.Errorf("smarty_telegrams_total %d once silent, %d while the readings were served; want it kept:\n%s", n, before, m)
	}
	if code, body := get("/api/telegram"); code != http.StatusServiceUnavailable {
		t.Errorf("/api/telegram: %d %s, want 503", code, body)
	}
	if status := g.stop(t); status != 0 {
		t.Errorf("exit status %d: %s", status, g.Stderr.Bytes())
	}
}

// telegramsTotal returns smarty_telegrams_total in a scrape, -1 when
// it is not there.
func telegramsTotal(metrics string) int {
	for line := range strings.Lines(metrics) {
		if v, ok := strings.CutPrefix(line, "smarty_telegrams_total "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// TestHARemove: the gateway publishes a meter's discovery configs, then
// -haRemove removes them (Home Assistant forgets the meter's sensors),
// serving nothing else, and says how many it removed.
func TestHARemove(t *testing.T) {
	device := startSimulator(t, 50*time.Millisecond)
	b := mosquittotest.Start(t, mosquittotest.Config{})
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-count", "1"}, nil, io.Discard, &stderr)
	if status := cli.Exit(&stderr, err); status != 0 {
		t.Fatalf("publishing: status %d, %s", status, stderr.String())
	}
	configs := func() []string { return mosquittotest.RetainedTopics(t, b.URL(), "homeassistant/#") }
	before := configs()
	if len(before) < 10 {
		t.Fatalf("%d discovery configs retained after publishing", len(before))
	}
	var stdout bytes.Buffer
	stderr.Reset()
	err = run(context.Background(), []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-http", "127.0.0.1:0", "-haRemove"}, nil, &stdout, &stderr)
	if status := cli.Exit(&stderr, err); status != 0 {
		t.Fatalf("-haRemove: status %d, %s", status, stderr.String())
	}
	if want := fmt.Sprintf("removed %d Home Assistant discovery configs of meter SAG", len(before)); !strings.HasPrefix(stdout.String(), want) || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout %q; want one line starting %q", stdout.String(), want)
	}
	if after := configs(); len(after) != 0 {
		t.Errorf("still retained after -haRemove: %v", after)
	}
}

// TestConfigurationExits: a broker that refuses the gateway's password
// ends it with status 4, and a queue directory another publisher holds
// with status 5, each in one line: the service is not restarted for
// either. The meter sends nothing (its P1 port still closed): the broker
// is tried at start all the same.
func TestConfigurationExits(t *testing.T) {
	device := cmdtest.SilentDevice(t)
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"meter": "s3cret"}})
	t.Setenv(mqttpub.PasswordEnv, "Wr0ngPa55")
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-mqttUser", "meter", "-http", "127.0.0.1:0"}, nil, io.Discard, &stderr)
	if status := cli.Exit(&stderr, err, mqttpub.FlagMessage); status != cli.ExitBroker || !strings.Contains(stderr.String(), "not authorised") || strings.Count(stderr.String(), "\n") != 1 || strings.Contains(stderr.String(), "Wr0ngPa55") {
		t.Errorf("wrong password: status %d, stderr %q; want %d and one line saying not authorised, without the password", status, stderr.String(), cli.ExitBroker)
	}

	dir := t.TempDir()
	holder, err := mqttpub.New(mqttpub.Config{Broker: "tcp://localhost:1883", QueueDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer holder.Run(ctx)
	stderr.Reset()
	err = run(context.Background(), []string{"-key", keyHex, "-device", device, "-mqttBroker", b.URL(), "-queueDir", dir, "-http", "127.0.0.1:0"}, nil, io.Discard, &stderr)
	if status := cli.Exit(&stderr, err, mqttpub.FlagMessage); status != cli.ExitLocked || !strings.Contains(stderr.String(), "is in use by another running publisher") {
		t.Errorf("locked queue: status %d, stderr %q; want %d and a line saying the queue is in use", status, stderr.String(), cli.ExitLocked)
	}
}
