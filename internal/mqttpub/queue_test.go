package mqttpub

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rec(i int) []byte { return []byte(fmt.Sprintf("record %d", i)) }

func names(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, string(rec(i)))
	}
	return out
}

// memRecs returns the records from to to, with their numbers as sequence
// numbers.
func memRecs(from, to int) []memRec {
	var out []memRec
	for i := from; i <= to; i++ {
		out = append(out, memRec{seq: uint64(i), b: rec(i)})
	}
	return out
}

func openTestDisk(t *testing.T, dir string) *diskQueue {
	t.Helper()
	q, err := openDiskQueue(dir, newLog(t).logger())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// drainDisk delivers every record of a disk queue and returns them.
func drainDisk(t *testing.T, q *diskQueue) []string {
	t.Helper()
	var out []string
	for q.len() > 0 {
		var got []byte
		var seq uint64
		q.peek(1, func(r []byte, s uint64) bool {
			got, seq = append([]byte(nil), r...), s
			return true
		})
		if got == nil {
			break
		}
		out = append(out, string(got))
		if !q.pop(seq) {
			t.Fatalf("pop(%d) after peeking it did nothing", seq)
		}
	}
	if _, err := q.commit(q.next); err != nil {
		t.Fatal(err)
	}
	return out
}

// drainQueue delivers every record of a queue, a batch at a time, and
// returns them.
func drainQueue(t *testing.T, q *queue) []string {
	t.Helper()
	var out []string
	for {
		var seqs []uint64
		q.peek(4, func(r []byte, seq uint64) bool {
			out = append(out, string(r))
			seqs = append(seqs, seq)
			return true
		})
		if len(seqs) == 0 {
			return out
		}
		for _, s := range seqs {
			q.pop(s)
		}
		q.commit()
	}
}

func newTestQueue(t *testing.T, max int, dir string, log *logRecorder) *queue {
	t.Helper()
	q, err := newQueue(max, dir, log.logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	q.retry = 0
	t.Cleanup(func() { q.close() })
	return q
}

func TestQueues(t *testing.T) {
	kinds := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"memory", func(t *testing.T) string { return "" }},
		{"disk", func(t *testing.T) string { return t.TempDir() }},
	}
	for _, k := range kinds {
		open := func(t *testing.T, max int) *queue {
			q := newTestQueue(t, max, k.dir(t), newLog(t))
			if q.disk != nil {
				q.disk.segMax = 64 // a few records per segment, to cross segments
			}
			return q
		}
		// flush puts what is in memory on disk, as the writer does.
		flush := func(q *queue) {
			if q.disk != nil {
				q.flush(true)
			}
		}
		t.Run(k.name+"/in order", func(t *testing.T) {
			q := open(t, 100)
			for i := 1; i <= 20; i++ {
				if dropped, err := q.add(rec(i)); dropped || err != nil {
					t.Fatalf("add %d: dropped %v, err %v", i, dropped, err)
				}
				if i%3 == 0 {
					flush(q)
				}
			}
			if s := q.stats(); s.queued != 20 {
				t.Fatalf("%d queued, want 20", s.queued)
			}
			if diff := cmp.Diff(names(1, 20), drainQueue(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
			if s := q.stats(); s.queued != 0 {
				t.Fatalf("%d queued after draining", s.queued)
			}
		})
		t.Run(k.name+"/full drops the oldest", func(t *testing.T) {
			q := open(t, 3)
			drops := 0
			q.onDrop = func(n int) { drops += n }
			for i := 1; i <= 7; i++ {
				dropped, err := q.add(rec(i))
				if err != nil {
					t.Fatal(err)
				}
				if dropped {
					drops++
				}
				flush(q)
			}
			if drops != 4 {
				t.Errorf("%d drops, want 4", drops)
			}
			if diff := cmp.Diff(names(5, 7), drainQueue(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
		})
		t.Run(k.name+"/front dropped while being published", func(t *testing.T) {
			q := open(t, 2)
			q.add(rec(1))
			q.add(rec(2))
			flush(q)
			var seq uint64
			q.peek(1, func(_ []byte, s uint64) bool { seq = s; return true }) // the publisher takes record 1 ...
			q.add(rec(3))                                                     // ... the reader adds, record 1 is dropped
			flush(q)
			q.pop(seq)
			// Record 2 was never published, so it must still be there.
			if diff := cmp.Diff(names(2, 3), drainQueue(t, q)); diff != "" {
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
	q := openTestDisk(t, dir)
	q.segMax = 100
	for i := 1; i <= 30; i += 3 {
		if err := q.append(memRecs(i, i+2)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segFiles(t, dir)); n < 5 {
		t.Fatalf("%d segment files, want several (segMax is small)", n)
	}
	for i := 1; i <= 12; i++ {
		if !q.pop(uint64(i)) {
			t.Fatalf("pop(%d) did nothing", i)
		}
	}
	seq, _ := q.headSeq()
	if _, err := q.commit(seq); err != nil {
		t.Fatal(err)
	}
	before := len(segFiles(t, dir))
	q.close()

	q = openTestDisk(t, dir)
	if q.len() != 18 {
		t.Fatalf("after reopening: len %d, want 18", q.len())
	}
	if diff := cmp.Diff(names(13, 30), drainDisk(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
	if after := len(segFiles(t, dir)); after != 0 || after >= before {
		t.Errorf("%d segment files after delivering everything (were %d), want none: delivered segments are removed", after, before)
	}
	// Appending after a reopen starts a new segment, above the ack.
	if q.next != 31 {
		t.Errorf("next sequence number %d, want 31", q.next)
	}
	q.append(memRecs(31, 31))
	q.close()
	q = openTestDisk(t, dir)
	defer q.close()
	if diff := cmp.Diff(names(31, 31), drainDisk(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
}

// writeSegments makes a queue directory holding records 1 to 12 in three
// segments of four, and returns the segment files.
func writeSegments(t *testing.T, dir string) []string {
	t.Helper()
	q, err := openDiskQueue(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.segMax = 1 // each append starts a new segment
	for i := 1; i <= 12; i += 4 {
		if err := q.append(memRecs(i, i+3)); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	segs := segFiles(t, dir)
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	return segs
}

// TestDiskQueueDamageEveryByte flips each byte of each segment in turn: a
// byte in a record costs that record and no other, a byte in a header
// costs nothing, and the damage is reported.
func TestDiskQueueDamageEveryByte(t *testing.T) {
	base := t.TempDir()
	segs := writeSegments(t, base)
	files := map[string][]byte{}
	for _, s := range segs {
		files[filepath.Base(s)] = readFile(t, s)
	}
	dir := t.TempDir()
	for si, s := range segs {
		data := files[filepath.Base(s)]
		for off := range data {
			// The record the byte belongs to: 4 per segment, each
			// recPrefix+len(rec) bytes after the header.
			lost := 0
			if off >= segHeaderSize {
				pos := off - segHeaderSize
				for k := 0; k < 4; k++ {
					n := 4*si + k + 1
					size := recPrefix + len(rec(n))
					if pos < size {
						lost = n
						break
					}
					pos -= size
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.Remove(filepath.Join(dir, e.Name()))
			}
			for name, b := range files {
				b = bytes.Clone(b)
				if name == filepath.Base(s) {
					b[off] ^= 0x5A
				}
				os.WriteFile(filepath.Join(dir, name), b, 0o600)
			}
			log := &logRecorder{t: t, done: true}
			q, err := openDiskQueue(dir, log.logger())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			q.peek(q.len(), func(r []byte, _ uint64) bool {
				got = append(got, string(r))
				return true
			})
			q.close()
			var want []string
			for i := 1; i <= 12; i++ {
				if i != lost {
					want = append(want, string(rec(i)))
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("segment %d, byte %d flipped: records differ (-want +got):\n%s", si, off, diff)
			}
			lines := log.all()
			if off >= 8 && off < segHeaderSize {
				// The header's first sequence number is only a hint.
				if len(lines) != 0 {
					t.Fatalf("segment %d, byte %d flipped: log = %q, want nothing", si, off, lines)
				}
				continue
			}
			if len(lines) != 1 || !strings.Contains(lines[0], filepath.Base(s)) {
				t.Fatalf("segment %d, byte %d flipped: log = %q, want one line about the damage", si, off, lines)
			}
		}
	}
}

func TestDiskQueueTornTail(t *testing.T) {
	for _, tail := range []struct {
		name string
		data []byte
	}{
		{"half a length", []byte{0, 0}},
		{"prefix but no data", []byte{0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 9}},
		{"data cut short", []byte{0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 9, 'r', 'e'}},
		{"bad checksum", []byte{0, 0, 0, 2, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 9, 'h', 'i'}},
		{"impossible length", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}},
		{"zero length", make([]byte, 40)},
	} {
		t.Run(tail.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openTestDisk(t, dir)
			q.append(memRecs(1, 3))
			q.close()
			segs := segFiles(t, dir)
			f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail.data)
			f.Close()

			log := newLog(t)
			q, err = openDiskQueue(dir, log.logger())
			if err != nil {
				t.Fatal(err)
			}
			if q.len() != 3 {
				t.Fatalf("len %d after a torn tail, want 3", q.len())
			}
			q.append(memRecs(4, 4))
			q.close()
			if lines := log.all(); len(lines) != 1 || !strings.Contains(lines[0], "not a whole record") {
				t.Errorf("log = %q, want one line about the torn record", lines)
			}
			q = openTestDisk(t, dir)
			defer q.close()
			if diff := cmp.Diff(names(1, 4), drainDisk(t, q)); diff != "" {
				t.Fatalf("records differ (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiskQueueDamageWhileRunning damages a record after the queue was
// opened: reading skips that one record.
func TestDiskQueueDamageWhileRunning(t *testing.T) {
	dir := t.TempDir()
	log := newLog(t)
	q, err := openDiskQueue(dir, log.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	q.append(memRecs(1, 5))
	seg := segFiles(t, dir)[0]
	data := readFile(t, seg)
	i := bytes.Index(data, rec(3))
	data[i] ^= 1
	os.WriteFile(seg, data, 0o600)
	want := append(names(1, 2), names(4, 5)...)
	if diff := cmp.Diff(want, drainDisk(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
	if lines := log.all(); len(lines) != 1 || !strings.Contains(lines[0], "telegram 3") {
		t.Errorf("log = %q, want one line about record 3", lines)
	}
}

// TestDiskQueueAckInLine: records cut off by damage must not make new
// records reuse sequence numbers below the ack, which the next start would
// take for delivered.
func TestDiskQueueAckInLine(t *testing.T) {
	t.Run("all segments lost", func(t *testing.T) {
		dir := t.TempDir()
		q := openTestDisk(t, dir)
		q.append(memRecs(0, 9))
		drainDisk(t, q) // ack 10
		q.close()
		for _, s := range segFiles(t, dir) {
			os.Remove(s)
		}
		q = openTestDisk(t, dir)
		if q.next != 10 {
			t.Fatalf("next sequence number %d, want 10 (the ack)", q.next)
		}
		q.append(memRecs(10, 12))
		q.close()
		q = openTestDisk(t, dir)
		defer q.close()
		if diff := cmp.Diff(names(10, 12), drainDisk(t, q)); diff != "" {
			t.Fatalf("records differ (-want +got):\n%s", diff)
		}
	})
	t.Run("tail cut below the ack", func(t *testing.T) {
		dir := t.TempDir()
		q := openTestDisk(t, dir)
		q.append(memRecs(0, 9))
		for i := range 8 {
			q.pop(uint64(i))
		}
		q.commit(8)
		q.close()
		seg := segFiles(t, dir)[0]
		data := readFile(t, seg)
		os.WriteFile(seg, data[:bytes.Index(data, rec(5))], 0o600) // records 4 to 9 lost
		q = openTestDisk(t, dir)
		if q.len() != 0 || q.next != 8 {
			t.Fatalf("len %d, next %d; want 0 and 8", q.len(), q.next)
		}
		q.append([]memRec{{seq: q.next, b: rec(50)}})
		q.close()
		q = openTestDisk(t, dir)
		defer q.close()
		if diff := cmp.Diff(names(50, 50), drainDisk(t, q)); diff != "" {
			t.Fatalf("records differ (-want +got):\n%s", diff)
		}
	})
}

func TestDiskQueueAckLost(t *testing.T) {
	dir := t.TempDir()
	q := openTestDisk(t, dir)
	q.append(memRecs(1, 5))
	q.pop(1)
	q.pop(2)
	q.commit(3)
	q.close()
	os.WriteFile(filepath.Join(dir, ackName), []byte("garbage"), 0o600)
	q = openTestDisk(t, dir)
	defer q.close()
	// At least once: without a valid ack everything still on disk comes
	// again.
	if diff := cmp.Diff(names(1, 5), drainDisk(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
}

// TestDiskQueueLocked: a second publisher cannot open a directory in use,
// even after every file in it was deleted.
func TestDiskQueueLocked(t *testing.T) {
	if !unixLike() {
		t.Skip("queue directories are locked on Unix only")
	}
	dir := t.TempDir()
	q := openTestDisk(t, dir)
	defer q.close()
	q.append(memRecs(1, 2))
	q.commit(1)
	for _, try := range []string{"as it is", "after deleting every file"} {
		if try != "as it is" {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		_, err := openDiskQueue(dir, nil)
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("second open %s: err = %v, want the directory to be in use", try, err)
		}
	}
}

func unixLike() bool {
	_, err := os.Stat("/dev/null")
	return err == nil
}

func TestQueueDirChecks(t *testing.T) {
	if !unixLike() {
		t.Skip("ownership and modes are checked on Unix only")
	}
	t.Run("created private", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "queue")
		q := openTestDisk(t, dir)
		q.close()
		fi, _ := os.Stat(dir)
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("mode %04o, want 0700", perm)
		}
	})
	for _, tc := range []struct {
		mode os.FileMode
		want string // "" when accepted
	}{
		{0o700, ""},
		{0o755, ""},
		{0o750, ""},
		{0o770, "can be written by other users (mode 0770)"},
		{0o777, "can be written by other users (mode 0777)"},
		{0o1777, "can be written by other users (mode 0777)"},
	} {
		t.Run(fmt.Sprintf("mode %04o", tc.mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "q")
			os.Mkdir(dir, 0o700)
			os.Chmod(dir, tc.mode)
			q, err := openDiskQueue(dir, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				q.close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "chmod 700 "+dir) {
				t.Fatalf("err = %v, want a refusal saying %q and what to do", err, tc.want)
			}
		})
	}
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only root can give a directory away")
		}
		dir := filepath.Join(t.TempDir(), "q")
		os.Mkdir(dir, 0o700)
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err := openDiskQueue(dir, nil)
		if err == nil || !strings.Contains(err.Error(), "belongs to") || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("err = %v, want a refusal naming the owner", err)
		}
	})
}

// TestQueueNoFollow plants symbolic links to a file outside the queue
// directory under the names the queue writes: the file is never written.
func TestQueueNoFollow(t *testing.T) {
	if !unixLike() {
		t.Skip("symbolic links are refused on Unix")
	}
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(victim, []byte("precious"), 0o644)
	for _, name := range []string{ackTmpName, ackName, segName(99)} {
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	log := newLog(t)
	q, err := openDiskQueue(dir, log.logger())
	if err != nil {
		t.Fatal(err)
	}
	q.append(memRecs(1, 3))
	q.pop(1)
	if _, err := q.commit(2); err != nil {
		t.Fatal(err)
	}
	q.close()
	if got := string(readFile(t, victim)); got != "precious" {
		t.Fatalf("the file behind the links now holds %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(dir, ackName)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("ack is not a regular file after a commit: %v, %v", fi, err)
	}
	q = openTestDisk(t, dir)
	defer q.close()
	if diff := cmp.Diff(names(2, 3), drainDisk(t, q)); diff != "" {
		t.Fatalf("records differ (-want +got):\n%s", diff)
	}
	if got := string(readFile(t, victim)); got != "precious" {
		t.Fatalf("the file behind the links now holds %q", got)
	}
}

// faults makes the disk operations at the points for which fail returns
// true fail with err, until the test ends.
func faults(t *testing.T, err error, fail func(point string) bool) {
	faultPoint = func(point string) error {
		if fail(point) {
			return err
		}
		return nil
	}
	t.Cleanup(func() { faultPoint = nil })
}

// TestQueueDegrades makes the disk full: the queue keeps records in
// memory, says so once, delivers them in order, and goes back to disk
// when it can. Nothing is lost, and what is on disk at the end is what was
// not delivered.
func TestQueueDegrades(t *testing.T) {
	dir := t.TempDir()
	log := newLog(t)
	q := newTestQueue(t, 1000, dir, log)
	var full atomic.Bool
	faults(t, syscall.ENOSPC, func(point string) bool {
		return full.Load() && (point == "append:write" || point == "segment:create" || point == "ack:create")
	})
	for i := 1; i <= 5; i++ {
		q.add(rec(i))
	}
	q.flush(true)
	full.Store(true)
	for i := 6; i <= 15; i++ {
		q.add(rec(i))
		q.flush(false)
	}
	if s := q.stats(); !s.failing || s.inMemory != 10 || s.queued != 15 {
		t.Fatalf("stats %+v, want 10 in memory of 15, failing", s)
	}
	var got []string
	for len(got) < 12 { // deliver 12, 4 at a time: the acks cannot be written
		var seqs []uint64
		q.peek(min(4, 12-len(got)), func(r []byte, seq uint64) bool {
			got = append(got, string(r))
			seqs = append(seqs, seq)
			return true
		})
		for _, s := range seqs {
			q.pop(s)
		}
		q.commit()
	}
	if diff := cmp.Diff(names(1, 12), got); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	warnings := 0
	for _, l := range log.all() {
		if strings.HasPrefix(l, "warning: ") {
			warnings++
		}
	}
	if warnings != 2 {
		t.Errorf("%d warnings, want 2 (the queue and the acks, each once): %q", warnings, log.all())
	}
	full.Store(false)
	q.add(rec(16))
	q.flush(false)
	if s := q.stats(); s.failing || s.inMemory != 0 || s.queued != 4 {
		t.Fatalf("after the disk came back: stats %+v, want 4 queued, all on disk", s)
	}
	log.waitFor(t, "takes telegrams again")
	q.commit()
	if lost, err := q.close(); lost != 0 || err != nil {
		t.Fatalf("close: %d lost, %v", lost, err)
	}
	d := openTestDisk(t, dir)
	defer d.close()
	if diff := cmp.Diff(names(13, 16), drainDisk(t, d)); diff != "" {
		t.Fatalf("left on disk (-want +got):\n%s", diff)
	}
}

// TestQueueStartsOnFailingDisk: a queue directory that cannot be created
// (a full or read-only disk) is no error; the queue starts in memory and
// uses the directory once it can.
func TestQueueStartsOnFailingDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	var ro atomic.Bool
	ro.Store(true)
	faults(t, syscall.EROFS, func(point string) bool { return ro.Load() && point == "dir:create" })
	log := newLog(t)
	q := newTestQueue(t, 100, dir, log)
	if s := q.stats(); !s.failing {
		t.Fatalf("stats %+v, want the disk failing", s)
	}
	q.add(rec(1))
	q.add(rec(2))
	q.flush(false)
	if s := q.stats(); s.inMemory != 2 {
		t.Fatalf("stats %+v, want 2 in memory", s)
	}
	ro.Store(false)
	q.add(rec(3))
	q.flush(false)
	if s := q.stats(); s.failing || s.inMemory != 0 || s.queued != 3 {
		t.Fatalf("stats %+v, want 3 on disk", s)
	}
	q.close()
	d := openTestDisk(t, dir)
	defer d.close()
	if diff := cmp.Diff(names(1, 3), drainDisk(t, d)); diff != "" {
		t.Fatalf("on disk (-want +got):\n%s", diff)
	}
}

// TestQueueCloseWhileFailing: what the disk did not take is counted as
// lost at close.
func TestQueueCloseWhileFailing(t *testing.T) {
	q := newTestQueue(t, 100, t.TempDir(), newLog(t))
	faults(t, syscall.EIO, func(point string) bool { return point == "segment:written" })
	for i := 1; i <= 3; i++ {
		q.add(rec(i))
	}
	q.flush(true)
	lost, err := q.close()
	if lost != 3 || err != nil {
		t.Fatalf("close: %d lost, %v; want 3", lost, err)
	}
	if segs := segFiles(t, q.dirPath); len(segs) != 0 {
		t.Errorf("a failed segment was left behind: %v", segs)
	}
}

// TestAddNeverWaitsForDisk holds the disk's lock, as a stalled fsync would:
// Add still returns (after its bounded wait for the disk), and Stats at
// once.
func TestAddNeverWaitsForDisk(t *testing.T) {
	p, err := New(Config{Broker: "tcp://127.0.0.1:1", QueueDir: t.TempDir(), Log: newLog(t).logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.q.close()
	p.q.wait = time.Millisecond
	p.q.ioMu.Lock()
	done := make(chan struct{})
	go func() {
		for i := 1; i <= 100; i++ {
			p.Add(reading(i))
		}
		p.Stats()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Add waited for the disk")
	}
	if s := p.Stats(); s.InMemory != 100 || s.Queued != 100 {
		t.Errorf("stats %+v, want 100 queued in memory", s)
	}
	p.q.ioMu.Unlock()
	p.q.flush(true)
	if s := p.Stats(); s.InMemory != 0 || s.Queued != 100 {
		t.Errorf("stats %+v, want 100 queued on disk", s)
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
// were not written whole, and records come out in rising order.
func FuzzDiskQueueFiles(f *testing.F) {
	dir := f.TempDir()
	q, _ := openDiskQueue(dir, nil)
	q.append(memRecs(1, 2))
	q.append(memRecs(5, 5))
	q.pop(1)
	q.commit(2)
	q.close()
	seg := readFileF(f, filepath.Join(dir, segName(1)))
	ack := readFileF(f, filepath.Join(dir, ackName))
	f.Add(seg, ack)
	f.Add(seg[:len(seg)-3], []byte{})
	f.Add([]byte(segMagic), ack)
	f.Add(append([]byte(segMagicV1), seg[8:]...), ack)
	f.Fuzz(func(t *testing.T, seg, ack []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600)
		os.WriteFile(filepath.Join(dir, ackName), ack, 0o600)
		q, err := openDiskQueue(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			return
		}
		defer q.close()
		var seqs []uint64
		for i := 0; q.len() > 0; i++ {
			if i > len(seg) {
				t.Fatalf("more records than bytes: the queue loops")
			}
			var seq uint64
			got := false
			q.peek(1, func(r []byte, s uint64) bool {
				seq, got = s, true
				return true
			})
			if !got {
				break
			}
			seqs = append(seqs, seq)
			q.pop(seq)
		}
		if !slices.IsSorted(seqs) {
			t.Fatalf("records out of order: %v", seqs)
		}
		// The queue still takes and returns records.
		if err := q.append([]memRec{{seq: q.next, b: rec(7)}}); err != nil {
			t.Fatal(err)
		}
		var r []byte
		q.peek(1, func(b []byte, _ uint64) bool { r = append(r, b...); return true })
		if string(r) != string(rec(7)) {
			t.Fatalf("after draining: front = %q; want the record just appended", r)
		}
	})
}

func readFileF(f *testing.F, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
