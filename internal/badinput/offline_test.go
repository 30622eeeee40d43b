package badinput

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cmdtest"
)

// offlineDecryption returns the path of OfflineDecryption, built from
// this tree.
func offlineDecryption(t *testing.T) string {
	t.Helper()
	return cmdtest.Path(t, "OfflineDecryption")
}

// offlineRun is what a run of OfflineDecryption gave.
type offlineRun struct {
	stdout, stderr []byte
	status         int
	maxRSS         int64 // peak resident memory in bytes, when known
}

// runOffline runs OfflineDecryption with the suite's key on a dump file
// holding data, with -v 1 so that every failed frame is logged.
func runOffline(t *testing.T, data []byte, args ...string) offlineRun {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "dump.bin")
	if err := os.WriteFile(dump, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return runOfflineFile(t, dump, args...)
}

func runOfflineFile(t *testing.T, dump string, args ...string) offlineRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	// -allowPlain: the corpus mixes plain telegrams with the meter's
	// frames, as a meter with its encryption switched off would send them
	// (a key refuses them otherwise; internal/faults tests that).
	args = append([]string{"-key", suiteKeyHex, "-allowPlain", "-v", "1"}, args...)
	cmd := exec.CommandContext(ctx, offlineDecryption(t), append(args, dump)...)
	cmd.Env = append(os.Environ(), "SMARTY_KEY=", fmt.Sprintf("GOMEMLIMIT=%d", memoryMargin))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := watchPeak(cmd.Process.Pid)
	err := cmd.Wait()
	peak := hwm()
	if ctx.Err() != nil {
		t.Fatalf("OfflineDecryption did not finish before the deadline (a hang); stderr:\n%s", tail(stderr.Bytes()))
	}
	var r offlineRun
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.status = exit.ExitCode()
		if exit.ExitCode() < 0 {
			t.Fatalf("OfflineDecryption died: %v; stderr:\n%s", err, tail(r.stderr))
		}
	case err != nil:
		t.Fatal(err)
	}
	if bytes.Contains(r.stderr, []byte("panic:")) || bytes.Contains(r.stderr, []byte("goroutine ")) {
		t.Fatalf("OfflineDecryption panicked:\n%s", tail(r.stderr))
	}
	r.maxRSS = peak
	return r
}

// watchPeak follows the peak resident memory of a running process
// (VmHWM, Linux) until the returned function is called after it exited,
// which returns the last value read, or 0 when there is none. (The rusage
// of a child is no use here: it counts the parent's memory, shared up to
// the exec.)
func watchPeak(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	status := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(finished)
		for {
			if b, err := os.ReadFile(status); err == nil {
				if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
					var kb int64
					if _, err := fmt.Sscan(string(b[i+len("VmHWM:"):]), &kb); err == nil && kb*1024 > peak.Load() {
						peak.Store(kb * 1024)
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// tail returns the end of a long output, for failure messages.
func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// errorsIn returns the failed frames OfflineDecryption logged with -v 1.
func errorsIn(stderr []byte) []frameErr {
	var errs []frameErr
	for _, line := range strings.Split(string(stderr), "\n") {
		i := strings.Index(line, "] ")
		if !strings.HasPrefix(line, "I") || i < 0 {
			continue
		}
		msg := line[i+2:]
		if off, ok := offsetIn(msg); ok && strings.Contains(msg, "smarty: ") {
			errs = append(errs, frameErr{offset: off, text: msg[strings.Index(msg, "smarty: "):]})
		}
	}
	return errs
}

// checkOffline checks a run of OfflineDecryption over a stream: the good
// and accepted telegrams exactly on stdout, every bad frame reported with
// its reason and offset, the count in the summary, exit status 1.
func checkOffline(t *testing.T, s stream, r offlineRun) {
	t.Helper()
	if want := s.telegrams(); !bytes.Equal(r.stdout, want) {
		t.Errorf("stdout has %d bytes, want the %d of the good and accepted telegrams; stderr:\n%s", len(r.stdout), len(want), tail(r.stderr))
	}
	errs := errorsIn(r.stderr)
	checkErrors(t, s, errs)
	decoded := len(s.goods)
	for _, reg := range s.regions {
		if reg.accepted != nil {
			decoded++
		}
	}
	if want := fmt.Sprintf(": %d telegrams decoded, %d frames failed", decoded, len(errs)); len(errs) > 1 && !bytes.Contains(r.stderr, []byte(want)) {
		t.Errorf("the summary does not say %q:\n%s", want, tail(r.stderr))
	}
	if len(errs) > 0 && r.status != 1 {
		t.Errorf("exit status %d, want 1 when frames failed", r.status)
	}
}

// TestOfflineTable: the named kinds of bad input through OfflineDecryption.
func TestOfflineTable(t *testing.T) {
	m := newMaker()
	s := m.build(t, tableCases(t, m, 1<<20))
	checkOffline(t, s, runOffline(t, s.data))
}

// TestOfflineTableEach runs OfflineDecryption on each named case alone,
// between two good frames, and checks the summary names the reason and
// the offset.
func TestOfflineTableEach(t *testing.T) {
	m := newMaker()
	for _, c := range tableCases(t, m, 1<<20) {
		t.Run(c.name, func(t *testing.T) {
			s := m.build(t, []badCase{c})
			r := runOffline(t, s.data)
			checkOffline(t, s, r)
			for _, w := range c.want {
				want := fmt.Sprintf("at byte %d", s.regions[0].start+int64(w.at))
				if !bytes.Contains(r.stderr, []byte(want)) {
					t.Errorf("the summary does not say %q:\n%s", want, tail(r.stderr))
				}
			}
			if c.want == nil && c.accepted == nil && !bytes.Contains(r.stderr, []byte(fmt.Sprintf("%d bytes skipped", len(c.data)))) {
				t.Errorf("the summary does not count the %d bytes skipped:\n%s", len(c.data), tail(r.stderr))
			}
		})
	}
}

// TestOfflineCut: a frame cut after every byte position.
func TestOfflineCut(t *testing.T) {
	m := newMaker()
	s := m.build(t, cutCases(t, m))
	checkOffline(t, s, runOffline(t, s.data))
}

// TestOfflineFlip: one flipped bit in every part of a frame.
func TestOfflineFlip(t *testing.T) {
	m := newMaker()
	s := m.build(t, flipCases(t, m))
	checkOffline(t, s, runOffline(t, s.data))
}
