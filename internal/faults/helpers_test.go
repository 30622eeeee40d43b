package faults

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

const (
	// The simulated meter's key: a secret that must appear nowhere.
	keyHex = "5A4B3C2D1E0FF0E1D2C3B4A596877869"
	// The broker's credentials: secrets too.
	user     = "meter-Us3r"
	password = "Pa55-w0rd-S3cr3t"
	// counter0 is the frame counter of the simulator's first frame.
	counter0 = 100
	start    = "2025-06-02T06:00:00+02:00"

	waitLimit = mosquittotest.WaitLimit
)

var long = flag.Bool("long", false, "run the slow fault cases too, a few seconds each (.ci/run does)")

// slow skips t unless -long is given.
func slow(t *testing.T) {
	t.Helper()
	if !*long {
		t.Skip("a slow case: run with -long (.ci/run does)")
	}
}

// RequireRootEnv turns the skip of the cases that need root (to mount a
// tmpfs) into a failure; .ci/run sets it.
const RequireRootEnv = "SMARTY_REQUIRE_ROOT"

// program returns the path of a command, built from this tree.
func program(t *testing.T, name string) string {
	t.Helper()
	return cmdtest.Path(t, name)
}

// requireRoot skips t unless the test runs as root (see RequireRootEnv).
func requireRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fault cases mount a tmpfs: Linux only")
	}
	if os.Geteuid() != 0 {
		msg := "this case mounts a tmpfs, which needs root: run it as root (.ci/run does)"
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatalf("%s; %s is set, so not running it is a failure", msg, RequireRootEnv)
		}
		t.Skipf("%s, or set %s=1 to make this a failure", msg, RequireRootEnv)
	}
}

// tmpfs mounts a tmpfs of the given size ("200k") on a new directory and
// unmounts it when the test ends.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// remount makes the file system at dir read-only ("ro") or writable
// again ("rw").
func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, mode, err, out)
	}
}

// fill fills the file system of dir with one file until it is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space") {
				t.Fatal(err)
			}
			return
		}
	}
}

// dump writes n frames of the simulated meter to a file, frame counters
// counter0 to counter0+n-1.
func dump(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.bin")
	if n == 0 {
		os.WriteFile(path, nil, 0o600)
		return path
	}
	out, err := exec.Command(program(t, "SmartySimulator"), "-key", keyHex, "-count", fmt.Sprint(n),
		"-counter", fmt.Sprint(counter0), "-seed", "7", "-start", start, "-o", path).CombinedOutput()
	if err != nil {
		t.Fatalf("SmartySimulator: %v: %s", err, out)
	}
	return path
}

// broker starts a Mosquitto that wants the user name and password, and
// returns it with its URL carrying them (tcp://user:password@host:port).
func broker(t *testing.T) (*mosquittotest.Broker, string) {
	t.Helper()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{user: password}})
	return b, "tcp://" + url.UserPassword(user, password).String() + "@" + b.Addr
}

// subscriber subscribes to the telegram topic with a persistent session.
func subscriber(t *testing.T, brokerURL string) *mosquittotest.Subscriber {
	t.Helper()
	return mosquittotest.Subscribe(t, brokerURL, "faults-"+strings.ReplaceAll(t.Name(), "/", "-"), "smarty/telegram", true)
}

// frameCounters returns the frame counters of the telegrams received,
// leaving out the copies the broker sends again flagged DUP and retained
// ones.
func frameCounters(t *testing.T, m []mosquittotest.Message) []int {
	t.Helper()
	var out []int
	seen := map[int]bool{}
	for _, r := range m {
		var v struct {
			FrameCounter int `json:"frame_counter"`
		}
		if err := json.Unmarshal([]byte(r.Payload), &v); err != nil {
			t.Fatalf("telegram payload is not JSON: %v", err)
		}
		if r.Duplicate && seen[v.FrameCounter] || r.Retained {
			// A copy sent again, or the retained telegram of an
			// earlier run that a subscription starts with.
			continue
		}
		seen[v.FrameCounter] = true
		out = append(out, v.FrameCounter)
	}
	return out
}

// waitCounter waits until the subscriber has the telegram with frame
// counter fc, and returns the frame counters received.
func waitCounter(t *testing.T, sub *mosquittotest.Subscriber, fc int) []int {
	t.Helper()
	var got []int
	sub.WaitFor(t, fmt.Sprintf("telegram %d", fc), func(m []mosquittotest.Message) bool {
		got = frameCounters(t, m)
		for _, c := range got {
			if c == fc {
				return true
			}
		}
		return false
	})
	return got
}

// exactlyOnce fails t unless got holds each of want once, in order, and
// nothing else.
func exactlyOnce(t *testing.T, got, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d telegrams received, want %d", len(got), len(want))
	}
	count := map[int]int{}
	for _, c := range got {
		count[c]++
	}
	missing, twice := []int{}, []int{}
	for _, c := range want {
		switch count[c] {
		case 0:
			missing = append(missing, c)
		case 1:
		default:
			twice = append(twice, c)
		}
		delete(count, c)
	}
	if len(missing) > 0 {
		t.Errorf("lost: %v", missing)
	}
	if len(twice) > 0 {
		t.Errorf("delivered more than once: %v", twice)
	}
	if len(count) > 0 {
		t.Errorf("delivered but not expected: %v", count)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("out of order at %d: %d after %d", i, got[i], got[i-1])
			break
		}
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// proc is a running MQTTPublisher. Its standard output and error and its
// log directory are files in dir, for the leak check.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// publisher starts MQTTPublisher with args and -key, logging to files
// (-log_dir) and to stderr as well, at -v 1.
func publisher(t *testing.T, args ...string) *proc {
	t.Helper()
	return publisherAs(t, nil, args...)
}

// publisherAs starts MQTTPublisher as publisher does, through the command
// line wrapper (setpriv ... --), if any.
func publisherAs(t *testing.T, wrapper []string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	os.Mkdir(logDir, 0o755)
	args = append([]string{"-key", keyHex, "-log_dir", logDir, "-alsologtostderr", "-v", "1"}, args...)
	argv := append(append(append([]string(nil), wrapper...), program(t, "MQTTPublisher")), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "SMARTY_MQTT_PASSWORD=") // only what the test gives
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	stderr, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	stderr.Close()
	p := &proc{t: t, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if p.running() {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("MQTTPublisher %s:\n%s", strings.Join(redactArgs(args), " "), p.stderr())
		}
	})
	return p
}

func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(out[i], password, "PASSWORD"), keyHex, "KEY")
	}
	return out
}

func (p *proc) stderr() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "stderr"))
	return string(b)
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitLog waits until the publisher has logged a line holding s.
func (p *proc) waitLog(s string) {
	p.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.stderr(), s) {
		if !p.running() {
			p.t.Fatalf("MQTTPublisher ended (%v) before logging %q", p.cmd.ProcessState, s)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("MQTTPublisher never logged %q", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count returns how many lines the publisher logged holding s.
func (p *proc) count(s string) int {
	n := 0
	for _, l := range strings.Split(p.stderr(), "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// wait waits until the publisher ends and returns its exit status.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		p.t.Fatalf("MQTTPublisher does not end")
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends sig and returns the exit status.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	return p.wait()
}

// noLeak fails t if a file of the publishers' (standard output and
// error, log files) holds the password, the user name or the key, or if a
// log file can be read by other users.
func noLeak(t *testing.T, procs ...*proc) {
	t.Helper()
	key, _ := hex.DecodeString(keyHex)
	secrets := map[string][]byte{
		"the password": []byte(password), "the user name": []byte(user),
		"the key": []byte(keyHex), "the key (lower case)": []byte(strings.ToLower(keyHex)), "the key's bytes": key,
	}
	files := 0
	for _, p := range procs {
		filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			files++
			data, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return nil
			}
			for what, s := range secrets {
				if i := bytes.Index(data, s); i >= 0 {
					line := data[bytes.LastIndexByte(data[:i], '\n')+1:]
					if j := bytes.IndexByte(line, '\n'); j >= 0 {
						line = line[:j]
					}
					t.Errorf("%s holds %s: %q", path, what, bytes.ReplaceAll(line, s, []byte("<SECRET>")))
				}
			}
			if filepath.Base(filepath.Dir(path)) == "log" {
				if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("log file %s has mode %04o: other users can read it", filepath.Base(path), fi.Mode().Perm())
				}
			}
			return nil
		})
	}
	if files == 0 {
		t.Error("no output or log file to check")
	}
}
