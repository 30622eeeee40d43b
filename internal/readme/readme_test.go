package readme

// TestREADME runs the command blocks of README.md as written, in order, in
// one empty directory, with the four commands (built from this tree) on
// the PATH, the way a user who installed them would type them:
//
//   - A command block is a fenced block marked sh. Every fenced block must
//     say what it is (sh, go, text, ...), so that a command block cannot
//     slip in unmarked.
//   - A block preceded by "<!-- run: no (why) -->" or "<!-- run: ci (why)
//     -->" is not run here: it needs root, systemd or the network, and the
//     comment says why and, for ci, that .ci/run runs it. Every other sh
//     block is run by bash with -e.
//   - The meter is the simulator: /dev/ttyUSB0 in a block becomes the
//     pseudo-terminal of a SmartySimulator started for that block with
//     the key file the README had the user make. The broker
//     tcp://localhost:1883 becomes a Mosquitto started for the test.
//   - A block that reads the meter runs until Ctrl-C, as the README says:
//     once it has done its work (a telegram printed, a telegram
//     published), the test sends SIGINT, and the block must exit 0.
//   - A program a block starts in the background (&) is stopped when the
//     block ends, as when a user closes the terminal.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// block is one fenced block of the README.
type block struct {
	line int    // of the opening fence, 1-based
	lang string // the fence's info string
	text string
	run  string // the marker before it: "" (run it), "no ..." or "ci ..."
}

var markerRE = regexp.MustCompile(`^<!-- run: ((?:no|ci) \(.+\)) -->$`)

func parse(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	marker := ""
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		switch {
		case strings.HasPrefix(l, "<!-- run:"):
			m := markerRE.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("README.md:%d: %q: want <!-- run: no (why) --> or <!-- run: ci (why) -->", i+1, l)
				continue
			}
			marker = m[1]
		case strings.HasPrefix(l, "```"):
			b := block{line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), run: marker}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			b.text = strings.Join(body, "\n") + "\n"
			out = append(out, b)
			marker = ""
		case strings.TrimSpace(l) != "":
			marker = ""
		}
	}
	return out
}

// output collects a process's output and says when it holds a pattern.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{}
	want *regexp.Regexp
	once sync.Once
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if o.want != nil && o.want.Match(o.buf.Bytes()) {
		o.once.Do(func() { close(o.seen) })
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startSimulator starts the simulated meter on a pseudo-terminal, with
// the key file the README made in dir, and returns its device.
func startSimulator(t *testing.T, env []string, dir string) string {
	t.Helper()
	cmd := exec.Command(lookPath(t, env, "SmartySimulator"), "-keyFile", "smarty.key", "-pty", "-interval", "200ms")
	cmd.Dir, cmd.Env, cmd.Stderr = dir, env, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	go io.Copy(io.Discard, out)
	return strings.TrimSpace(line)
}

func lookPath(t *testing.T, env []string, name string) string {
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				if _, err := os.Stat(filepath.Join(d, name)); err == nil {
					return filepath.Join(d, name)
				}
			}
		}
	}
	t.Fatalf("%s not on the PATH", name)
	return ""
}

func TestREADME(t *testing.T) {
	blocks := parse(t, "../../README.md")
	var run []block
	for _, b := range blocks {
		if b.lang == "" {
			t.Errorf("README.md:%d: a fenced block without a language: mark commands sh and output text", b.line)
		}
		if b.lang == "sh" && b.run == "" {
			run = append(run, b)
		}
		if b.lang != "sh" && b.run != "" {
			t.Errorf("README.md:%d: a run marker before a %s block", b.line, b.lang)
		}
	}
	if len(run) < 3 {
		t.Fatalf("only %d command blocks to run in README.md", len(run))
	}
	if testing.Short() {
		t.Skip("-short: not running the README's commands")
	}

	bin := cmdtest.Dir(t)
	dir := t.TempDir()
	env := []string{"PATH=" + bin + string(filepath.ListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8"}
	if v, ok := os.LookupEnv("TMPDIR"); ok {
		env = append(env, "TMPDIR="+v)
	}

	for _, b := range run {
		name := fmt.Sprintf("line %d", b.line)
		ok := t.Run(name, func(t *testing.T) {
			script := b.text
			out := &output{seen: make(chan struct{})}
			var published *mosquittotest.Subscriber
			if strings.Contains(script, "/dev/ttyUSB0") {
				dev := startSimulator(t, env, dir)
				script = strings.ReplaceAll(script, "/dev/ttyUSB0", dev)
				t.Logf("the meter is the simulator on %s", dev)
				// It reads the meter until Ctrl-C: stop it once it has
				// printed a whole telegram (its last line is !CRC).
				out.want = regexp.MustCompile(`(?m)^![0-9A-F]{4}\r?$`)
			}
			if strings.Contains(script, "tcp://localhost:1883") {
				broker := mosquittotest.Start(t, mosquittotest.Config{})
				script = strings.ReplaceAll(script, "tcp://localhost:1883", broker.URL())
				t.Logf("the broker is %s", broker.URL())
				published = mosquittotest.Subscribe(t, broker.URL(), "readme-test", "smarty/telegram", false)
				out.want = nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), mosquittotest.WaitLimit)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
			// The output goes through a pipe of the test's own, so
			// that Wait returns when bash ends, not when the last
			// program started with & closes its copy of the pipe.
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			copied := make(chan struct{})
			go func() {
				io.Copy(out, pr)
				pr.Close()
				close(copied)
			}()
			cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, pw, pw
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			done := make(chan error, 1)
			go func() {
				err := cmd.Wait()
				// What the block started with & and left running
				// (a simulator with -count) ends with the block, as
				// it would for a user who closes the terminal: wait
				// for it no longer than for the block itself.
				syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				<-copied
				done <- err
			}()
			switch {
			case published != nil:
				published.WaitFor(t, "a telegram on the broker", func(m []mosquittotest.Message) bool { return len(m) > 0 })
				syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
				err = <-done
			case out.want != nil:
				select {
				case <-out.seen:
					syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
					err = <-done
				case err = <-done:
					t.Errorf("it ended before printing a telegram")
				}
			default:
				err = <-done
			}
			if err != nil {
				t.Errorf("%v", err)
			}
			if t.Failed() {
				t.Logf("README.md:%d:\n%s\noutput:\n%s", b.line, script, out)
			}
		})
		if !ok {
			break // the next blocks build on this one
		}
	}
	// What the README promised: the key file is private.
	if fi, err := os.Stat(filepath.Join(dir, "smarty.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("smarty.key: %v, mode %v; want the file, readable by its owner only", err, fi.Mode().Perm())
	}
}
