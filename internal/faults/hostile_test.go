package faults

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
)

// TestQueueDirRefused: a queue directory other users can write, or that
// belongs to another user, is refused at start with the reason (exit 2),
// before anything is written in it.
func TestQueueDirRefused(t *testing.T) {
	_, url := broker(t)
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"world-writable", func(dir string) error { return os.Chmod(dir, 0o777) }, "can be written by other users (mode 0777)"},
		{"group-writable", func(dir string) error { return os.Chmod(dir, 0o770) }, "can be written by other users (mode 0770)"},
		{"another user's", func(dir string) error {
			requireRoot(t)
			return os.Chown(dir, 65534, 65534)
		}, "belongs to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queue := filepath.Join(t.TempDir(), "queue")
			os.Mkdir(queue, 0o700)
			if err := tc.setup(queue); err != nil {
				t.Fatal(err)
			}
			p := publisher(t, "-device", dump(t, 1), "-mqttBroker", url, "-queueDir", queue)
			if status := p.wait(); status != cli.ExitUsage {
				t.Errorf("exit status %d, want %d", status, cli.ExitUsage)
			}
			if !strings.Contains(p.stderr(), tc.want) {
				t.Errorf("the refusal does not say %q", tc.want)
			}
			if entries, _ := os.ReadDir(queue); len(entries) != 0 {
				t.Errorf("files written in a refused directory: %v", entries)
			}
			noLeak(t, p)
		})
	}
}

// TestPlantedLinks plants symbolic links to a file of root's under the
// names the queue writes (ack.tmp, ack, a segment): the publisher,
// running as root, never writes through them, and works.
func TestPlantedLinks(t *testing.T) {
	requireRoot(t)
	_, url := broker(t)
	sub := subscriber(t, url)
	victim := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(victim, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	queue := filepath.Join(t.TempDir(), "queue")
	os.Mkdir(queue, 0o700)
	for _, name := range []string{"ack.tmp", "ack", "00000000000000000000.seg"} {
		if err := os.Symlink(victim, filepath.Join(queue, name)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 5
	p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", queue)
	if status := p.wait(); status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	exactlyOnce(t, waitCounter(t, sub, counter0+n-1), seq(counter0, counter0+n-1))
	if got, _ := os.ReadFile(victim); string(got) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("the file behind the links was written: %q", got)
	}
	noLeak(t, p)
}

// TestLockNotBypassed: with a publisher running on a queue directory, a
// second one on the same directory is refused (cli.ExitLocked), even after every
// file in the directory was deleted.
func TestLockNotBypassed(t *testing.T) {
	b, url := broker(t)
	b.Stop()
	queue := filepath.Join(t.TempDir(), "queue")
	p1 := publisher(t, "-device", dump(t, 3), "-mqttBroker", url, "-queueDir", queue)
	p1.waitLog("has ended")
	entries, _ := os.ReadDir(queue)
	for _, e := range entries {
		os.Remove(filepath.Join(queue, e.Name()))
	}
	p2 := publisher(t, "-device", dump(t, 3), "-mqttBroker", url, "-queueDir", queue)
	if status := p2.wait(); status != cli.ExitLocked {
		t.Errorf("second publisher: exit status %d, want %d", status, cli.ExitLocked)
	}
	if !strings.Contains(p2.stderr(), "in use by another running publisher") {
		t.Error("the second publisher does not say the directory is in use")
	}
	if !p1.running() {
		t.Error("the first publisher ended")
	}
	p1.stop(syscall.SIGTERM)
	noLeak(t, p1, p2)
}

// TestCredentials: credentials in the broker URL are used, and shown
// nowhere: not when the broker refuses them (cli.ExitBroker), not in the warning
// for credentials sent unencrypted to a host that is not this machine.
func TestCredentials(t *testing.T) {
	b, url := broker(t)
	t.Run("refused", func(t *testing.T) {
		wrong := strings.Replace(url, password, password+"-wrong", 1)
		p := publisher(t, "-device", dump(t, 1), "-mqttBroker", wrong)
		if status := p.wait(); status != cli.ExitBroker {
			t.Errorf("exit status %d, want %d", status, cli.ExitBroker)
		}
		if !strings.Contains(p.stderr(), "wrong user name or password") {
			t.Error("the refusal is not explained")
		}
		noLeak(t, p)
	})
	t.Run("password flag", func(t *testing.T) {
		sub := subscriber(t, url)
		p := publisher(t, "-device", dump(t, 2), "-mqttBroker", "tcp://"+b.Addr, "-mqttUser", user, "-mqttPassword", password)
		if status := p.wait(); status != 0 {
			t.Errorf("exit status %d, want 0", status)
		}
		exactlyOnce(t, waitCounter(t, sub, counter0+1), seq(counter0, counter0+1))
		noLeak(t, p)
	})
	t.Run("unencrypted to another host", func(t *testing.T) {
		// 0.0.0.0 is not a loopback name, so the warning is due; yet a
		// connection to it stays on this machine (Linux takes it for
		// a local address), on a port where no one listens: the test
		// sends nothing onto a network.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		p := publisher(t, "-device", dump(t, 1), "-mqttBroker", fmt.Sprintf("tcp://%s:%s@0.0.0.0:%d", user, password, port))
		p.waitLog("unencrypted")
		p.stop(syscall.SIGTERM)
		noLeak(t, p)
	})
}

// TestSIGHUP: SIGHUP stops the publisher as cleanly as SIGTERM: a memory
// backlog is reported lost (it used to vanish without a word), a disk
// backlog stays for the next run, which delivers it once.
func TestSIGHUP(t *testing.T) {
	b, url := broker(t)
	sub := subscriber(t, url)
	b.Stop()
	const n = 5
	t.Run("memory", func(t *testing.T) {
		p := publisher(t, "-device", dump(t, n), "-mqttBroker", url)
		p.waitLog("has ended")
		if status := p.stop(syscall.SIGHUP); status != 0 {
			t.Errorf("exit status %d after SIGHUP, want 0", status)
		}
		if !strings.Contains(p.stderr(), "stopping with 5 telegrams not yet delivered; they are lost") {
			t.Error("the lost backlog is not reported")
		}
		noLeak(t, p)
	})
	t.Run("queue directory", func(t *testing.T) {
		queue := filepath.Join(t.TempDir(), "queue")
		p := publisher(t, "-device", dump(t, n), "-mqttBroker", url, "-queueDir", queue)
		p.waitLog("has ended")
		if status := p.stop(syscall.SIGHUP); status != 0 {
			t.Errorf("exit status %d after SIGHUP, want 0", status)
		}
		if !strings.Contains(p.stderr(), "they stay in "+queue) {
			t.Error("the kept backlog is not reported")
		}
		b.Start()
		p2 := publisher(t, "-device", dump(t, 0), "-mqttBroker", url, "-queueDir", queue)
		if status := p2.wait(); status != 0 {
			t.Errorf("second run: exit status %d, want 0", status)
		}
		exactlyOnce(t, waitCounter(t, sub, counter0+n-1), seq(counter0, counter0+n-1))
		noLeak(t, p, p2)
	})
}
