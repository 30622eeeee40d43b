package mqttpub

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rec(i int) []byte { return []byte(fmt.Sprintf("record %d", i)) }

// drain pops every record and returns them as strings.
func drain(t *testing.T, q queue) []string {
	t.Helper()
	var out []string
	for {
		r, seq, err := q.front()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return out
		}
		out = append(out, string(r))
		if err := q.pop(seq); err != nil {
			t.Fatal(err)
		}
	}
}

func names(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, string(rec(i)))
	}
	return out
}

func openTestDisk(t *testing.T, dir string, max int) *diskQueue {
	t.Helper()
	q, err := openDiskQueue(dir, max, newLog(t).logger())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQueues(t *testing.T) {
	kinds := []struct {
		name string
		open func(t *testing.T, max int) queue
	}{
		{"memory", func(t *testing.T, max int) queue { return newMemQueue(max) }},
		{"disk", func(t *testing.T, max int) queue {
			q := openTestDisk(t, t.TempDir(), max)
			q.segMax = 64 // a few records per segment, to cross segments
			t.Cleanup(func() { q.close() })
			return q
		}},
	}
	for _, k := range kinds {
		t.Run(k.name+"/in order", func(t *testing.T) {
			q := k.open(t, 100)
			for i := 1; i <= 20; i++ {
				if dropped, err := q.push(rec(i)); dropped || err != nil {
					t.Fatalf("push %d: dropped %v, err %v", i, dropped, err)
				}
			}
			if q.len() != 20 {
				t.Fatalf("len %d, want 20", q.len())
			}
			if diff := cmp.Diff(names(1, 20), drain(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
			if q.len() != 0 {
				t.Fatalf("len %d after draining", q.len())
			}
		})
		t.Run(k.name+"/full drops the oldest", func(t *testing.T) {
			q := k.open(t, 3)
			var drops int
			for i := 1; i <= 7; i++ {
				dropped, err := q.push(rec(i))
				if err != nil {
					t.Fatal(err)
				}
				if dropped {
					drops++
				}
			}
			if drops != 4 {
				t.Errorf("%d drops, want 4", drops)
			}
			if diff := cmp.Diff(names(5, 7), drain(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
		})
		t.Run(k.name+"/peek", func(t *testing.T) {
			q := k.open(t, 100)
			for i := 1; i <= 10; i++ {
				q.push(rec(i))
			}
			var got []string
			var seqs []uint64
			q.peek(4, func(r []byte, seq uint64) bool {
				got = append(got, string(r))
				seqs = append(seqs, seq)
				return true
			})
			// A disk queue stops a batch at the end of a segment.
			if len(got) == 0 || len(got) > 4 {
				t.Fatalf("peek(4) gave %d records", len(got))
			}
			if diff := cmp.Diff(names(1, len(got)), got); diff != "" {
				t.Errorf("peek (-want +got):\n%s", diff)
			}
			for i := range seqs {
				if seqs[i] != seqs[0]+uint64(i) {
					t.Errorf("sequence numbers %v are not consecutive", seqs)
				}
			}
			for _, seq := range seqs {
				q.pop(seq)
			}
			if diff := cmp.Diff(names(len(got)+1, 10), drain(t, q)); diff != "" {
				t.Errorf("after popping the peeked records (-want +got):\n%s", diff)
			}
		})
		t.Run(k.name+"/front dropped while being published", func(t *testing.T) {
			q := k.open(t, 2)
			q.push(rec(1))
			q.push(rec(2))
			_, seq, _ := q.front() // the publisher takes record 1 ...
			q.push(rec(3))         // ... the reader pushes, record 1 is dropped
			if err := q.pop(seq); err != nil {
				t.Fatal(err)
			}
			// Record 2 was never published, so it must still be there.
			if diff := cmp.Diff(names(2, 3), drain(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
		})
	}
}

func segFiles(t *testing.T, dir string) []string {
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiskQueueReopen(t *testing.T) {
	dir := t.TempDir()
	q := openTestDisk(t, dir, 1000)
	q.segMax = 100
	for i := 1; i <= 30; i++ {
		if _, err := q.push(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segFiles(t, dir)); n < 5 {
		t.Fatalf("%d segment files, want several (segMax is small)", n)
	}
	for range 12 {
		_, seq, _ := q.front()
		q.pop(seq)
	}
	before := len(segFiles(t, dir))
	q.close()

	q = openTestDisk(t, dir, 1000)
	defer q.close()
	if q.len() != 18 {
		t.Fatalf("after reopening: len %d, want 18", q.len())
	}
	if diff := cmp.Diff(names(13, 30), drain(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
	if after := len(segFiles(t, dir)); after != 1 || after >= before {
		t.Errorf("%d segment files after delivering everything (were %d), want 1: delivered segments are removed", after, before)
	}
	// Appending after a reopen continues the sequence.
	q.push(rec(31))
	q.close()
	q = openTestDisk(t, dir, 1000)
	defer q.close()
	if diff := cmp.Diff(names(31, 31), drain(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
}

func TestDiskQueueTornTail(t *testing.T) {
	for _, tail := range []struct {
		name string
		data []byte
	}{
		{"half a length", []byte{0, 0}},
		{"length but no data", []byte{0, 0, 0, 9, 1, 2, 3, 4}},
		{"data cut short", []byte{0, 0, 0, 9, 1, 2, 3, 4, 'r', 'e'}},
		{"bad checksum", []byte{0, 0, 0, 2, 1, 2, 3, 4, 'h', 'i'}},
		{"impossible length", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}},
	} {
		t.Run(tail.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openTestDisk(t, dir, 100)
			for i := 1; i <= 3; i++ {
				q.push(rec(i))
			}
			q.close()
			segs := segFiles(t, dir)
			f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail.data)
			f.Close()

			log := newLog(t)
			q, err = openDiskQueue(dir, 100, log.logger())
			if err != nil {
				t.Fatal(err)
			}
			if q.len() != 3 {
				t.Fatalf("len %d after a torn tail, want 3", q.len())
			}
			q.push(rec(4))
			q.close()
			if lines := log.all(); len(lines) != 1 || !strings.Contains(lines[0], "cutting") {
				t.Errorf("log = %q, want one line about cutting the torn record off", lines)
			}
			q = openTestDisk(t, dir, 100)
			defer q.close()
			if diff := cmp.Diff(names(1, 4), drain(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiskQueueDamagedOlderSegment(t *testing.T) {
	dir := t.TempDir()
	q := openTestDisk(t, dir, 100)
	q.segMax = 60 // three records of 8+8 bytes and the header per segment
	for i := 1; i <= 9; i++ {
		q.push(rec(i))
	}
	q.close()
	segs := segFiles(t, dir)
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	// Damage the second record of the first segment.
	data, _ := os.ReadFile(segs[0])
	data[segHeaderSize+16+recPrefix] ^= 0xFF
	os.WriteFile(segs[0], data, 0o600)

	log := newLog(t)
	q, err := openDiskQueue(dir, 100, log.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	want := append(names(1, 1), names(4, 9)...)
	if diff := cmp.Diff(want, drain(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
	if lines := log.all(); len(lines) != 1 || !strings.Contains(lines[0], "checksum") {
		t.Errorf("log = %q, want one line about the damaged record", lines)
	}
}

func TestDiskQueueAckLost(t *testing.T) {
	dir := t.TempDir()
	q := openTestDisk(t, dir, 100)
	for i := 1; i <= 5; i++ {
		q.push(rec(i))
	}
	for range 2 {
		_, seq, _ := q.front()
		q.pop(seq)
	}
	q.close()
	os.WriteFile(filepath.Join(dir, "ack"), []byte("garbage"), 0o600)
	q = openTestDisk(t, dir, 100)
	defer q.close()
	// At least once: without a valid ack everything still on disk comes
	// again.
	if diff := cmp.Diff(names(1, 5), drain(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
}

func TestDiskQueueLocked(t *testing.T) {
	dir := t.TempDir()
	q := openTestDisk(t, dir, 10)
	defer q.close()
	_, err := openDiskQueue(dir, 10, nil)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: err = %v, want the directory to be in use", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := reading(42)
	got, err := decodeRecord(appendRecord(nil, &r))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Telegram) != string(r.Telegram) || got.FrameCounter != 42 || !got.Encrypted ||
		got.SystemTitle != r.SystemTitle || !got.Received.Equal(r.Received) {
		t.Errorf("round trip changed the reading: %+v", got)
	}
	for _, bad := range [][]byte{nil, {1, 0}, append([]byte{9}, make([]byte, recordHeader)...)} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%x) accepted a damaged record", bad)
		}
	}
}

// FuzzDiskQueueFiles opens a queue directory whose segment and ack files
// hold arbitrary bytes: it must never panic, hang or return records that
// were not written whole.
func FuzzDiskQueueFiles(f *testing.F) {
	dir := f.TempDir()
	q, _ := openDiskQueue(dir, 100, nil)
	q.log = slog.New(slog.DiscardHandler)
	q.push(rec(1))
	q.push(rec(2))
	_, seq, _ := q.front()
	q.pop(seq)
	q.close()
	seg, _ := os.ReadFile(filepath.Join(dir, segName(0)))
	ack, _ := os.ReadFile(filepath.Join(dir, "ack"))
	f.Add(seg, ack)
	f.Add(seg[:len(seg)-3], []byte{})
	f.Add([]byte(segMagic), ack)
	f.Fuzz(func(t *testing.T, seg, ack []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(0)), seg, 0o600)
		os.WriteFile(filepath.Join(dir, "ack"), ack, 0o600)
		q, err := openDiskQueue(dir, 1000, slog.New(slog.DiscardHandler))
		if err != nil {
			return
		}
		defer q.close()
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; ; i++ {
			q.peek(5, func([]byte, uint64) bool { return true })
			r, seq, err := q.front()
			if err != nil || r == nil {
				break
			}
			if i > len(seg) || time.Now().After(deadline) {
				t.Fatalf("more records than bytes: the queue loops")
			}
			q.pop(seq)
		}
		// The queue still takes and returns records.
		q.push(rec(7))
		r, _, err := q.front()
		if err != nil || string(r) != string(rec(7)) {
			t.Fatalf("after draining: front = %q, %v; want the record just pushed", r, err)
		}
	})
}
