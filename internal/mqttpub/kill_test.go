package mqttpub

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
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
// counters), says "queued" on stdout and publishes them to MQTTPUB_BROKER
// with the queue directory MQTTPUB_QUEUE until SIGTERM.
func helperMain() int {
	from, _ := strconv.Atoi(os.Getenv("MQTTPUB_FROM"))
	to, _ := strconv.Atoi(os.Getenv("MQTTPUB_TO"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	p, err := New(Config{
		Broker: os.Getenv("MQTTPUB_BROKER"), QoS: 1, QueueDir: os.Getenv("MQTTPUB_QUEUE"),
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for n := from; n <= to; n++ {
		if err := p.Add(reading(n)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("queued")
	// "delivered" once the queue is empty: every telegram acknowledged and
	// removed from the queue directory, so that a kill after it loses
	// nothing and repeats nothing.
	go func() {
		for p.Stats().Queued > 0 {
			time.Sleep(2 * time.Millisecond)
		}
		fmt.Println("delivered")
	}()
	if err := p.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHelper starts a publisher process and waits until it has queued its
// telegrams (with a queue directory: they are on disk).
func startHelper(t *testing.T, broker, queueDir string, from, to int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "MQTTPUB_BROKER="+broker, "MQTTPUB_QUEUE="+queueDir,
		"MQTTPUB_FROM="+strconv.Itoa(from), "MQTTPUB_TO="+strconv.Itoa(to))
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
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || line != "queued\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	helperOut[cmd] = r
	return cmd
}

// helperOut is the rest of each helper's standard output.
var helperOut = map[*exec.Cmd]*bufio.Reader{}

// waitDelivered waits until the helper says its queue is empty. The
// subscriber seeing the last telegram is not enough: the broker sends it
// on before the helper has the acknowledgement and has removed the
// telegram from its queue directory.
func waitDelivered(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	line, err := helperOut[cmd].ReadString('\n')
	if err != nil || line != "delivered\n" {
		t.Fatalf("helper: %q, %v", line, err)
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

	// Killed with the broker up: the broker publishes the will.
	status := subscribe(t, b.URL(), "status", "smarty/status", false)
	status.WaitFor(t, "online", func(m []received) bool { r, _ := lastOf(m, "smarty/status"); return r.Payload == "online" })
	waitDelivered(t, h)
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
