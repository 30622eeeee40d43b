package mqttpub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
)

// diskQueue keeps records in append-only segment files in a directory, so
// that they survive a restart or a crash of the program:
//
//	00000000000000000000.seg   segment: header, then records
//	00000000000000001391.seg   the next one, named by its first sequence number
//	ack                        sequence number of the oldest record not yet delivered
//
// A segment starts with the magic "SMTYQ001" and its first sequence number
// (8 bytes, big-endian). Each record is its length (4 bytes), the CRC-32C
// of its bytes (4 bytes) and the bytes, never empty. A record is appended with one
// write and synced to the disk before push returns, so a record push
// returned for is there after a crash or a power cut. A record torn by a
// crash in the middle of a write is cut off when the directory is opened
// again.
//
// The ack file holds the sequence number of the oldest record not yet
// delivered, with a CRC; it is replaced (write and rename) at every pop.
// Should it be lost, records are delivered again: at least once, never
// zero times. A segment whose records have all been delivered is removed.
type diskQueue struct {
	dir  string
	max  int
	log  *slog.Logger
	lock *os.File

	segs     []*segment // oldest first; the last is the one appended to
	w        *os.File   // the last segment, for appending
	r        *os.File   // segs[0], for reading
	head     uint64     // sequence number of the oldest record
	off      int64      // its offset in segs[0]
	n        int        // records in the queue
	frontLen int64      // size on disk of the record front returned, 0 if none
	segMax   int64      // size at which a new segment is started
	buf      []byte
}

type segment struct {
	first uint64 // sequence number of its first record
	count int    // records in it
	size  int64  // bytes, header included
	path  string
}

const (
	segMagic      = "SMTYQ001"
	segHeaderSize = 16
	ackMagic      = "SMTYACK1"
	recPrefix     = 8
	// segMaxSize is the size at which a new segment is started: about
	// 1500 telegrams, four hours of them.
	segMaxSize = 1 << 20
	// maxRecord bounds a record read back from disk, so that a damaged
	// length cannot make the queue allocate gigabytes.
	maxRecord = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openDiskQueue opens (creating it when needed) the queue in dir.
func openDiskQueue(dir string, max int, log *slog.Logger) (*diskQueue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mqttpub: queue directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	q := &diskQueue{dir: dir, max: max, log: log, lock: lock, segMax: segMaxSize}
	if err := q.load(); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// load reads the ack file and the segments, cuts off a torn last record
// and positions the queue at the oldest record not yet delivered.
func (q *diskQueue) load() error {
	ack, ackOK := q.readAck()
	names, err := filepath.Glob(filepath.Join(q.dir, "*.seg"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	for i, path := range names {
		last := i == len(names)-1
		seg, err := q.scan(path, last)
		if err != nil {
			return err
		}
		if seg != nil {
			q.segs = append(q.segs, seg)
		}
	}
	if !ackOK && len(q.segs) > 0 {
		ack = q.segs[0].first
	}
	// Remove the segments whose records have all been delivered, but
	// keep the last one to append to.
	for len(q.segs) > 1 && q.segs[0].first+uint64(q.segs[0].count) <= ack {
		os.Remove(q.segs[0].path)
		q.segs = q.segs[1:]
	}
	if len(q.segs) == 0 {
		if err := q.newSegment(ack); err != nil {
			return err
		}
	} else {
		last := q.segs[len(q.segs)-1]
		if q.w, err = os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return fmt.Errorf("mqttpub: queue: %w", err)
		}
	}
	if err := q.openHead(); err != nil {
		return err
	}
	// Skip what the ack file says was delivered.
	for q.head < ack && q.n > 0 {
		rec, _, err := q.front()
		if err != nil {
			return err
		}
		if rec == nil {
			break
		}
		if q.head < ack {
			q.advance()
		}
	}
	return nil
}

// scan checks one segment file and counts its records. A damaged record
// ends the segment: in the last segment (a crash in the middle of an
// append) the file is cut there; in an older one the rest is skipped.
func (q *diskQueue) scan(path string, last bool) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: queue: %w", err)
	}
	defer f.Close()
	var hdr [segHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:8]) != segMagic {
		q.log.Warn(fmt.Sprintf("queue file %s is not a queue segment (damaged or foreign): moved aside as %s.bad", path, filepath.Base(path)))
		os.Rename(path, path+".bad")
		return nil, nil
	}
	seg := &segment{first: binary.BigEndian.Uint64(hdr[8:]), path: path, size: segHeaderSize}
	if want := segName(seg.first); filepath.Base(path) != want {
		q.log.Warn(fmt.Sprintf("queue file %s says it starts at record %d; using it anyway", path, seg.first))
	}
	r := &countingReader{r: f}
	var prefix [recPrefix]byte
	var rec []byte
	for {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			if err != io.EOF {
				q.damaged(f, seg, last, "cut short")
			}
			break
		}
		size := binary.BigEndian.Uint32(prefix[:4])
		if size == 0 || size > maxRecord { // push never writes an empty record
			q.damaged(f, seg, last, "has an impossible length")
			break
		}
		if cap(rec) < int(size) {
			rec = make([]byte, size)
		}
		rec = rec[:size]
		if _, err := io.ReadFull(r, rec); err != nil {
			q.damaged(f, seg, last, "cut short")
			break
		}
		if crc32.Checksum(rec, castagnoli) != binary.BigEndian.Uint32(prefix[4:]) {
			q.damaged(f, seg, last, "fails its checksum")
			break
		}
		seg.count++
		seg.size += recPrefix + int64(size)
	}
	return seg, nil
}

func (q *diskQueue) damaged(f *os.File, seg *segment, last bool, why string) {
	if last {
		fi, _ := f.Stat()
		q.log.Warn(fmt.Sprintf("queue file %s: the record after %d good ones %s (the program stopped in the middle of writing it); cutting %d bytes off",
			seg.path, seg.count, why, fi.Size()-seg.size))
		f.Truncate(seg.size)
		f.Sync()
		return
	}
	q.log.Warn(fmt.Sprintf("queue file %s: the record after %d good ones %s; the rest of the file is skipped", seg.path, seg.count, why))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openHead opens segs[0] for reading at its first record and counts the
// records of every segment.
func (q *diskQueue) openHead() error {
	if q.r != nil {
		q.r.Close()
	}
	var err error
	if q.r, err = os.Open(q.segs[0].path); err != nil {
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	q.head, q.off, q.frontLen = q.segs[0].first, segHeaderSize, 0
	q.n = 0
	for _, s := range q.segs {
		q.n += s.count
	}
	return nil
}

func (q *diskQueue) newSegment(first uint64) error {
	path := filepath.Join(q.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	var hdr [segHeaderSize]byte
	copy(hdr[:], segMagic)
	binary.BigEndian.PutUint64(hdr[8:], first)
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	syncDir(q.dir)
	if q.w != nil {
		q.w.Close()
	}
	q.w = f
	q.segs = append(q.segs, &segment{first: first, size: segHeaderSize, path: path})
	return nil
}

func (q *diskQueue) push(rec []byte) (bool, error) {
	if len(rec) == 0 {
		return false, errors.New("mqttpub: queue: an empty record") // a reading always encodes to some bytes
	}
	dropped := false
	if q.n >= q.max {
		_, seq, err := q.front()
		if err != nil {
			return false, err
		}
		if err := q.pop(seq); err != nil {
			return false, err
		}
		dropped = true
	}
	last := q.segs[len(q.segs)-1]
	if last.size >= q.segMax {
		if err := q.newSegment(last.first + uint64(last.count)); err != nil {
			return dropped, err
		}
		q.removeDelivered()
		last = q.segs[len(q.segs)-1]
	}
	q.buf = q.buf[:0]
	q.buf = binary.BigEndian.AppendUint32(q.buf, uint32(len(rec)))
	q.buf = binary.BigEndian.AppendUint32(q.buf, crc32.Checksum(rec, castagnoli))
	q.buf = append(q.buf, rec...)
	if _, err := q.w.Write(q.buf); err != nil {
		q.w.Truncate(last.size) // do not leave half a record behind
		return dropped, fmt.Errorf("mqttpub: queue: writing to %s: %w", last.path, err)
	}
	if err := q.w.Sync(); err != nil {
		return dropped, fmt.Errorf("mqttpub: queue: syncing %s: %w", last.path, err)
	}
	last.count++
	last.size += int64(len(q.buf))
	q.n++
	return dropped, nil
}

func (q *diskQueue) front() ([]byte, uint64, error) {
	for q.n > 0 {
		// Move on to the next segment when the head one is used up
		// (this is where a damaged older segment ends early).
		if q.head == q.segs[0].first+uint64(q.segs[0].count) {
			if len(q.segs) == 1 {
				return nil, 0, nil
			}
			os.Remove(q.segs[0].path)
			q.segs = q.segs[1:]
			if err := q.openHead(); err != nil {
				return nil, 0, err
			}
			continue
		}
		var prefix [recPrefix]byte
		if _, err := q.r.ReadAt(prefix[:], q.off); err != nil {
			return nil, 0, fmt.Errorf("mqttpub: queue: reading %s: %w", q.segs[0].path, err)
		}
		size := binary.BigEndian.Uint32(prefix[:4])
		if size == 0 || size > maxRecord {
			return nil, 0, fmt.Errorf("mqttpub: queue: %s is damaged at byte %d", q.segs[0].path, q.off)
		}
		if cap(q.buf) < int(size) {
			q.buf = make([]byte, size)
		}
		rec := q.buf[:size]
		if _, err := q.r.ReadAt(rec, q.off+recPrefix); err != nil {
			return nil, 0, fmt.Errorf("mqttpub: queue: reading %s: %w", q.segs[0].path, err)
		}
		q.frontLen = recPrefix + int64(size)
		if crc32.Checksum(rec, castagnoli) != binary.BigEndian.Uint32(prefix[4:]) {
			q.log.Warn(fmt.Sprintf("queue file %s: record %d fails its checksum (disk error?); skipped", q.segs[0].path, q.head))
			q.advance()
			continue
		}
		return rec, q.head, nil
	}
	return nil, 0, nil
}

// peek reads ahead of the oldest record within its segment: a batch never
// spans two segments, nor a damaged record (front deals with those when
// they come first).
func (q *diskQueue) peek(n int, fn func([]byte, uint64) bool) error {
	rec, seq, err := q.front()
	if err != nil || rec == nil || n <= 0 || !fn(rec, seq) {
		return err
	}
	end := q.segs[0].first + uint64(q.segs[0].count)
	off := q.off + q.frontLen
	for i := 1; i < n && seq+uint64(i) < end; i++ {
		var prefix [recPrefix]byte
		if _, err := q.r.ReadAt(prefix[:], off); err != nil {
			return fmt.Errorf("mqttpub: queue: reading %s: %w", q.segs[0].path, err)
		}
		size := binary.BigEndian.Uint32(prefix[:4])
		if size == 0 || size > maxRecord {
			return nil
		}
		if cap(q.buf) < int(size) {
			q.buf = make([]byte, size)
		}
		rec := q.buf[:size]
		if _, err := q.r.ReadAt(rec, off+recPrefix); err != nil {
			return fmt.Errorf("mqttpub: queue: reading %s: %w", q.segs[0].path, err)
		}
		if crc32.Checksum(rec, castagnoli) != binary.BigEndian.Uint32(prefix[4:]) {
			return nil
		}
		if !fn(rec, seq+uint64(i)) {
			return nil
		}
		off += recPrefix + int64(size)
	}
	return nil
}

// advance moves past the record front returned.
func (q *diskQueue) advance() {
	q.off += q.frontLen
	q.frontLen = 0
	q.head++
	q.n--
}

func (q *diskQueue) pop(seq uint64) error {
	if q.n == 0 {
		return nil
	}
	if q.frontLen == 0 {
		if _, _, err := q.front(); err != nil {
			return err
		}
		if q.n == 0 {
			return nil
		}
	}
	if q.head != seq {
		return nil // already dropped to make room
	}
	q.advance()
	q.removeDelivered()
	return q.writeAck()
}

// removeDelivered removes the oldest segment when all its records have
// been delivered and it is not the one appended to.
func (q *diskQueue) removeDelivered() {
	for len(q.segs) > 1 && q.head == q.segs[0].first+uint64(q.segs[0].count) {
		os.Remove(q.segs[0].path)
		q.segs = q.segs[1:]
		q.openHead()
	}
}

func (q *diskQueue) writeAck() error {
	var b [20]byte
	copy(b[:], ackMagic)
	binary.BigEndian.PutUint64(b[8:], q.head)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(q.dir, "ack.tmp")
	if err := os.WriteFile(tmp, b[:], 0o600); err != nil {
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(q.dir, "ack")); err != nil {
		return fmt.Errorf("mqttpub: queue: %w", err)
	}
	return nil
}

func (q *diskQueue) readAck() (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(q.dir, "ack"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err != nil || len(b) != 20 || !bytes.Equal(b[:8], []byte(ackMagic)) ||
		crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:]) {
		q.log.Warn(fmt.Sprintf("queue file %s is damaged; telegrams already delivered may be delivered again",
			filepath.Join(q.dir, "ack")))
		return 0, false
	}
	return binary.BigEndian.Uint64(b[8:16]), true
}

func (q *diskQueue) len() int { return q.n }

func (q *diskQueue) close() error {
	var err error
	for _, f := range []*os.File{q.w, q.r} {
		if f != nil {
			if e := f.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	q.w, q.r = nil, nil
	if q.lock != nil {
		unlockDir(q.lock)
		q.lock = nil
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
