package mqttpub

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// helperEnv makes the test binary act as a publisher process (see
// helperMain), so that a test can kill it with SIGKILL.
const helperEnv = "MQTTPUB_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// helperMain queues the telegrams MQTTPUB_FROM to MQTTPUB_TO (frame
// counters), says "queued" on stdout once they are on disk, and publishes
// them to MQTTPUB_BROKER with the queue directory MQTTPUB_QUEUE until
// SIGTERM.
//
// With MQTTPUB_KILL_AT=point:n it kills itself with SIGKILL the n-th time
// the queue reaches that point (see faultPoint), and it publishes while it
// queues: it adds one telegram at a time, says "ondisk N" once telegram N
// is on disk, and waits until it is delivered. MQTTPUB_SEGMAX sets the
// size at which segments end.
func helperMain() int {
	from, _ := strconv.Atoi(os.Getenv("MQTTPUB_FROM"))
	to, _ := strconv.Atoi(os.Getenv("MQTTPUB_TO"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	p, err := New(Config{
		Broker: os.Getenv("MQTTPUB_BROKER"), QoS: 1, QueueDir: os.Getenv("MQTTPUB_QUEUE"),
		TopicRoot: os.Getenv("MQTTPUB_TOPIC"), ClientID: os.Getenv("MQTTPUB_CLIENT"), RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if n, _ := strconv.Atoi(os.Getenv("MQTTPUB_SEGMAX")); n > 0 {
		p.q.ioMu.Lock()
		p.q.disk.segMax = int64(n)
		p.q.ioMu.Unlock()
	}
	onDisk := func() {
		for p.Stats().InMemory > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if killAt := os.Getenv("MQTTPUB_KILL_AT"); killAt != "" {
		i := strings.LastIndexByte(killAt, ':')
		point := killAt[:i]
		n, _ := strconv.Atoi(killAt[i+1:])
		var hits atomic.Int32
		faultPoint = func(at string) error {
			if at == point && int(hits.Add(1)) == n {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
			return nil
		}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for i := from; i <= to; i++ {
			p.Add(reading(i))
			onDisk()
			fmt.Printf("ondisk %d\n", i)
			// One telegram per batch, so that the points are reached
			// in the same order every time.
			for p.Stats().Published < uint64(i-from+1) {
				time.Sleep(time.Millisecond)
			}
		}
		fmt.Println("queued")
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	for n := from; n <= to; n++ {
		if err := p.Add(reading(n)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	onDisk()
	fmt.Println("queued")
	if err := p.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHelper starts a publisher process and waits until it has queued its
// telegrams (with a queue directory: they are on disk).
func startHelper(t *testing.T, broker, queueDir string, from, to int, env ...string) *exec.Cmd {
	t.Helper()
	cmd, out := helperCmd(t, broker, queueDir, from, to, env...)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "queued\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd
}

func helperCmd(t *testing.T, broker, queueDir string, from, to int, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "MQTTPUB_BROKER="+broker, "MQTTPUB_QUEUE="+queueDir,
		"MQTTPUB_FROM="+strconv.Itoa(from), "MQTTPUB_TO="+strconv.Itoa(to))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out
}

// waitAck waits until the ack file of the queue directory dir records the
// delivery of every record below seq.
func waitAck(t *testing.T, dir string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, ackName))
		if len(b) == ackSize && binary.BigEndian.Uint64(b[8:16]) >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ack file never reached %d: %x", seq, b)
		}
		time.Sleep(time.Millisecond)
	}
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestKillWhileBrokerDown kills the publisher with SIGKILL while the broker
// is down, twice, each time with telegrams in its queue directory; when the
// broker comes back, a persistent subscriber gets every telegram once, in
// order. Killing it with the broker up makes the broker publish the last
// will, and a restart does not send again what was delivered.
func TestKillWhileBrokerDown(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "persistent", "smarty/telegram", true)
	queue := t.TempDir()
	b.Stop()

	kill(t, startHelper(t, b.URL(), queue, 1, 5))
	kill(t, startHelper(t, b.URL(), queue, 6, 8))
	h := startHelper(t, b.URL(), queue, 9, 9)
	b.Start()
	m := sub.WaitFor(t, "telegram 9", func(m []received) bool {
		fc := frameCounters(t, m)
		return len(fc) > 0 && fc[len(fc)-1] == 9
	})
	if diff := cmp.Diff(seq(1, 9), frameCounters(t, m)); diff != "" {
		t.Errorf("frame counters received (-want +got):\n%s", diff)
	}

	// Killed with the broker up: the broker publishes the will. (Once
	// the ack file says all nine were delivered: a kill between the
	// broker's acknowledgement and the ack file would deliver telegram 9
	// again, which TestKillPoints covers.)
	status := subscribe(t, b.URL(), "status", "smarty/status", false)
	status.WaitFor(t, "online", func(m []received) bool { r, _ := lastOf(m, "smarty/status"); return r.Payload == "online" })
	waitAck(t, queue, 9)
	kill(t, h)
	status.WaitFor(t, "the last will", func(m []received) bool { r, _ := lastOf(m, "smarty/status"); return r.Payload == "offline" })

	// A new run with the same directory does not send 1 to 9 again.
	h = startHelper(t, b.URL(), queue, 10, 10)
	m = sub.WaitFor(t, "telegram 10", func(m []received) bool {
		fc := frameCounters(t, m)
		return len(fc) > 0 && fc[len(fc)-1] == 10
	})
	if diff := cmp.Diff(seq(1, 10), frameCounters(t, m)); diff != "" {
		t.Errorf("frame counters received (-want +got):\n%s", diff)
	}
	// A clean stop (SIGTERM) says offline and exits 0.
	h.Process.Signal(syscall.SIGTERM)
	if err := h.Wait(); err != nil {
		t.Errorf("publisher after SIGTERM: %v", err)
	}
}

// TestKillPoints kills the publisher with SIGKILL at each point of the
// queue's disk work where a crash leaves a distinct state (after a write
// and before its fsync, between the fsync, the rename and the sync of the
// directory of an ack, after a segment is removed...), driven by the
// queue's fault hook, while it queues and publishes with the broker up.
// After a restart every telegram that was on disk reaches a persistent
// subscriber: once, or at most once more for those the crash caught
// between the broker's acknowledgement and the ack file.
func TestKillPoints(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	const n = 6
	for _, tc := range []struct {
		point string
		nth   int
	}{
		{"segment:written", 2}, {"segment:synced", 2}, {"segment:linked", 2},
		{"append:written", 2}, {"append:synced", 2},
		{"segment:removed", 1},
		{"ack:written", 3}, {"ack:synced", 3}, {"ack:renamed", 3}, {"ack:done", 3},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel() // each point with its own topics, client id and queue
			topic := "kill/" + strings.ReplaceAll(tc.point, ":", "-")
			client := "MQTTPUB_CLIENT=kill-" + strings.ReplaceAll(tc.point, ":", "-")
			sub := subscribe(t, b.URL(), "persistent-"+topic, topic+"/telegram", true)
			queue := t.TempDir()
			// A telegram's record is about 350 bytes: three per segment.
			cmd, out := helperCmd(t, b.URL(), queue, 1, n, "MQTTPUB_KILL_AT="+tc.point+":"+strconv.Itoa(tc.nth),
				"MQTTPUB_SEGMAX=1000", "MQTTPUB_TOPIC="+topic, client)
			confirmed := 0
			sc := bufio.NewScanner(out)
			for sc.Scan() && sc.Text() != "queued" {
				fmt.Sscanf(sc.Text(), "ondisk %d", &confirmed)
			}
			// The ack points come while publishing, after "queued".
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(waitLimit):
				t.Fatalf("the first run was not killed at %s: the point was not reached", tc.point)
			}
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("the first run was not killed at %s (%v): the point was not reached", tc.point, err)
			}
			t.Logf("killed at %s #%d with telegrams 1 to %d on disk", tc.point, tc.nth, confirmed)

			h := startHelper(t, b.URL(), queue, n+1, n+2, "MQTTPUB_TOPIC="+topic, client)
			m := sub.WaitFor(t, "the last telegram", func(m []received) bool {
				fc := frameCounters(t, m)
				return len(fc) > 0 && fc[len(fc)-1] == n+2
			})
			h.Process.Signal(syscall.SIGTERM)
			h.Wait()
			count := map[int]int{}
			for _, fc := range frameCounters(t, m) {
				count[fc]++
			}
			for fc := 1; fc <= n+2; fc++ {
				switch c := count[fc]; {
				case c > 2:
					t.Errorf("telegram %d delivered %d times", fc, c)
				case c == 2 && fc > n:
					t.Errorf("telegram %d of the second run delivered twice", fc)
				case c == 0 && fc <= confirmed:
					t.Errorf("telegram %d was on disk but never delivered", fc)
				case c == 0 && fc > n:
					t.Errorf("telegram %d of the second run never delivered", fc)
				}
			}
		})
	}
}
