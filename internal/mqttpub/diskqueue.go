package mqttpub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// diskQueue keeps records in append-only segment files in a directory, so
// that they survive a restart or a crash of the program:
//
//	00000000000000000000.seg   segment: header, then records
//	00000000000000001391.seg   the next one, named by the sequence number of its first record
//	                           (a ".1" before ".seg" if a file of that name is in the way)
//	ack                        sequence number of the oldest record not yet delivered
//
// A segment starts with the magic "SMTYQ002" and the sequence number of
// its first record (8 bytes, big-endian). Each record is the length of its
// data (4 bytes), the CRC-32C of its sequence number and data (4 bytes),
// its sequence number (8 bytes) and the data, never empty. Sequence numbers
// rise from one record to the next, though not always by one: a record
// delivered or dropped while it was only in memory never reaches the disk.
//
// Because every record carries its own length, checksum and sequence
// number, damage costs exactly the damaged records: reading resynchronises
// at the next valid record, at open as while running, and the sequence
// numbers say which records are left whatever was lost between them.
//
// A run never appends to a segment an earlier run wrote: its first append
// starts a new one, and so does the first append after a failed write.
// Records are written with one write and synced before they count as on
// disk; a new segment is created whole (header and records) and its
// directory synced.
//
// The ack file holds the sequence number of the oldest record not yet
// delivered, with a CRC. It is written per batch of deliveries (write
// ack.tmp, sync, rename, sync the directory). It never points past what is
// on disk in a way that matters: at open, the next record gets a sequence
// number above both the ack and every record found. Should the ack be lost,
// records are delivered again: at least once, never zero times. A segment
// whose records have all been delivered is removed, unless it is the one
// being appended to.
//
// diskQueue is not safe for concurrent use: the queue that owns it
// serialises every call.
type diskQueue struct {
	dir    *queueDir
	log    *slog.Logger
	segs   []*segment // oldest first
	w      *os.File   // appends to the last segment; nil: the next append starts a new one
	n      int        // records not yet delivered
	next   uint64     // above every sequence number on disk and the ack
	ack    uint64     // the ack as on disk
	ackOK  bool       // ack is what the file holds
	segMax int64      // size past which appends start a new segment
	buf    []byte
}

type segment struct {
	name  string
	first uint64
	size  int64    // bytes in the file: where the next append goes
	recs  []recRef // records not yet delivered, oldest first
	f     *os.File // for reading, opened when first needed
	bad   bool     // damage found in it (reported once)
}

// recRef locates a record in its segment.
type recRef struct {
	seq  uint64
	off  int64  // of the record's prefix
	size uint32 // of its data
}

const (
	segMagic      = "SMTYQ002"
	segMagicV1    = "SMTYQ001" // implicit sequence numbers; not read any more
	segHeaderSize = 16
	segSuffix     = ".seg"
	ackMagic      = "SMTYACK1"
	ackSize       = 20
	ackName       = "ack"
	ackTmpName    = "ack.tmp"
	recPrefix     = 16
	// segMaxSize is the size past which a new segment is started: about
	// 1500 telegrams, four hours of them.
	segMaxSize = 1 << 20
	// maxRecord bounds a record read back from disk, so that a damaged
	// length cannot make the queue allocate gigabytes.
	maxRecord = 1 << 20
	// appendMax bounds the bytes of one append (it always takes at least
	// one record), so that a segment never grows far past segMaxSize.
	appendMax = 1 << 20
	// maxSegFile is the largest file taken for a segment: a segment is
	// at most segMaxSize+appendMax+maxRecord bytes.
	maxSegFile = 8 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// faultPoint, when a test sets it, is called at each point of a disk
// operation where a crash leaves a distinct state on disk: a test kills
// the process there, or returns an error that the operation then fails
// with, as if the disk had.
var faultPoint func(point string) error

func at(point string) error {
	if faultPoint != nil {
		return faultPoint(point)
	}
	return nil
}

// createQueueDir makes the queue directory, private, if it is not there.
func createQueueDir(dir string) error {
	err := at("dir:create")
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("mqttpub: creating the queue directory: %w", err)
	}
	return nil
}

// openDiskQueue opens (creating it when needed) the queue in dir: see
// openQueueDir for the checks made on the directory.
func openDiskQueue(dir string, log *slog.Logger) (*diskQueue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := openQueueDir(dir)
	if err != nil {
		return nil, err
	}
	q := &diskQueue{dir: d, log: log, segMax: segMaxSize}
	if err := q.load(); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// load reads the ack file and the segments, and positions the queue at the
// oldest record not yet delivered.
func (q *diskQueue) load() error {
	q.ack, q.ackOK = q.readAck()
	q.dir.remove(ackTmpName) // left by a crash; may fail on a read-only disk
	entries, err := os.ReadDir(q.dir.path)
	if err != nil {
		return fmt.Errorf("mqttpub: reading the queue directory: %w", err)
	}
	var segs []*segment
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), segSuffix) {
			continue
		}
		if seg := q.scan(e.Name()); seg != nil {
			segs = append(segs, seg)
		}
	}
	// In the order of their records; a record whose sequence number does
	// not rise (written twice after a failed sync) is dropped.
	slices.SortStableFunc(segs, func(a, b *segment) int { return cmpSeq(a.recs[0].seq, b.recs[0].seq) })
	var last uint64
	seen := false
	for _, seg := range segs {
		seg.recs = slices.DeleteFunc(seg.recs, func(r recRef) bool { return seen && r.seq <= last })
		if n := len(seg.recs); n > 0 {
			last, seen = seg.recs[n-1].seq, true
		}
		if q.ackOK {
			i, _ := slices.BinarySearchFunc(seg.recs, q.ack, func(r recRef, ack uint64) int {
				return cmpSeq(r.seq, ack)
			})
			seg.recs = seg.recs[i:]
		}
		if len(seg.recs) == 0 {
			q.dir.remove(seg.name) // delivered
			continue
		}
		q.segs = append(q.segs, seg)
		q.n += len(seg.recs)
	}
	if seen {
		q.next = last + 1
	}
	if q.ackOK && q.ack > q.next {
		q.next = q.ack
	}
	return nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan reads one segment file and indexes its valid records, skipping
// damage. It returns nil for a file that holds no valid record.
func (q *diskQueue) scan(name string) *segment {
	path := q.dir.join(name)
	f, err := q.dir.open(name, os.O_RDONLY, 0)
	if err != nil {
		q.log.Warn(fmt.Sprintf("cannot read the queue file %s (%v); it is left alone", path, err))
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxSegFile {
		q.log.Warn(fmt.Sprintf("%s is not a queue segment (not a regular file, or too large); it is left alone", path))
		return nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		q.log.Warn(fmt.Sprintf("cannot read the queue file %s (%v); it is left alone", path, err))
		return nil
	}
	if bytes.HasPrefix(data, []byte(segMagicV1)) {
		q.log.Warn(fmt.Sprintf("queue file %s was written by an earlier development version in a format this one does not read; moved aside as %s.v1", path, name))
		q.dir.rename(name, name+".v1")
		return nil
	}
	seg := &segment{name: name, size: int64(len(data))}
	if len(data) >= segHeaderSize {
		seg.first = binary.BigEndian.Uint64(data[8:16])
	}
	headerOK := len(data) >= segHeaderSize && string(data[:8]) == segMagic
	var spans []span
	var last uint64
	seen := false
	off := int64(segHeaderSize)
	for off < int64(len(data)) {
		ref, ok := parseRecord(data, off, last, seen)
		if ok {
			seg.recs = append(seg.recs, ref)
			last, seen = ref.seq, true
			off += recPrefix + int64(ref.size)
			continue
		}
		start := off
		for off++; off < int64(len(data)); off++ {
			if _, ok := parseRecord(data, off, last, seen); ok {
				break
			}
		}
		spans = append(spans, span{start, off})
	}
	switch {
	case len(seg.recs) == 0 && len(spans) == 0 && (headerOK || bytes.HasPrefix([]byte(segMagic), data)):
		// An empty segment, or one cut short while it was being created.
		q.dir.remove(name)
		return nil
	case len(seg.recs) == 0:
		q.log.Warn(fmt.Sprintf("queue file %s holds no valid record (damaged, or not a queue file); moved aside as %s.bad", path, name))
		q.dir.rename(name, name+".bad")
		return nil
	}
	if !headerOK {
		q.log.Warn(fmt.Sprintf("queue file %s: its header is damaged; its %d valid records are kept", path, len(seg.recs)))
	}
	if len(spans) > 0 {
		seg.bad = true
		q.reportDamage(path, spans, int64(len(data)), len(seg.recs))
	}
	return seg
}

type span struct{ start, end int64 }

func (q *diskQueue) reportDamage(path string, spans []span, size int64, kept int) {
	var bad int64
	for _, s := range spans {
		bad += s.end - s.start
	}
	if len(spans) == 1 && spans[0].end == size {
		q.log.Warn(fmt.Sprintf("queue file %s ends with %d bytes at byte %d that are not a whole record (the program stopped while writing, or the disk filled up); they are skipped, the %d records before them are kept",
			path, bad, spans[0].start, kept))
		return
	}
	q.log.Warn(fmt.Sprintf("queue file %s is damaged: %d bytes in %d places, the first at byte %d, hold no valid record and are skipped; the %d valid records around them are kept",
		path, bad, len(spans), spans[0].start, kept))
}

// parseRecord checks for a whole, valid record at off in data whose
// sequence number rises above last (when seen).
func parseRecord(data []byte, off int64, last uint64, seen bool) (recRef, bool) {
	if off+recPrefix > int64(len(data)) {
		return recRef{}, false
	}
	p := data[off : off+recPrefix]
	size := binary.BigEndian.Uint32(p[0:4])
	if size == 0 || size > maxRecord || off+recPrefix+int64(size) > int64(len(data)) {
		return recRef{}, false
	}
	seq := binary.BigEndian.Uint64(p[8:16])
	if seen && seq <= last {
		return recRef{}, false
	}
	crc := crc32.Update(crc32.Checksum(p[8:16], castagnoli), castagnoli, data[off+recPrefix:off+recPrefix+int64(size)])
	if crc != binary.BigEndian.Uint32(p[4:8]) {
		return recRef{}, false
	}
	return recRef{seq: seq, off: off, size: size}, true
}

// appendRecord adds one record to the bytes of an append.
func appendDiskRecord(dst []byte, seq uint64, data []byte) []byte {
	var p [recPrefix]byte
	binary.BigEndian.PutUint32(p[0:4], uint32(len(data)))
	binary.BigEndian.PutUint64(p[8:16], seq)
	binary.BigEndian.PutUint32(p[4:8], crc32.Update(crc32.Checksum(p[8:16], castagnoli), castagnoli, data))
	dst = append(dst, p[:]...)
	return append(dst, data...)
}

// append writes recs (rising sequence numbers, above every record on disk)
// and syncs them. On error none of them counts as written, and the next
// append starts a new segment.
func (q *diskQueue) append(recs []memRec) error {
	if len(recs) == 0 {
		return nil
	}
	if q.w == nil || q.segs[len(q.segs)-1].size >= q.segMax {
		return q.newSegment(recs)
	}
	seg := q.segs[len(q.segs)-1]
	q.buf = q.buf[:0]
	refs := make([]recRef, 0, len(recs))
	for _, r := range recs {
		refs = append(refs, recRef{seq: r.seq, off: seg.size + int64(len(q.buf)), size: uint32(len(r.b))})
		q.buf = appendDiskRecord(q.buf, r.seq, r.b)
	}
	err := at("append:write")
	if err == nil {
		_, err = q.w.Write(q.buf)
	}
	if err == nil {
		err = at("append:written")
	}
	if err == nil {
		err = q.w.Sync()
	}
	if err != nil {
		q.w.Truncate(seg.size) // do not leave half a record behind, if the disk lets us
		q.w.Close()
		q.w = nil
		return fmt.Errorf("writing %s: %w", q.dir.join(seg.name), unwrapPath(err))
	}
	at("append:synced")
	seg.size += int64(len(q.buf))
	seg.recs = append(seg.recs, refs...)
	q.n += len(refs)
	q.next = max(q.next, recs[len(recs)-1].seq+1)
	return nil
}

// newSegment creates a segment holding recs.
func (q *diskQueue) newSegment(recs []memRec) error {
	if q.w != nil {
		q.w.Close()
		q.w = nil
	}
	name := segName(recs[0].seq)
	q.buf = append(q.buf[:0], segMagic...)
	q.buf = binary.BigEndian.AppendUint64(q.buf, recs[0].seq)
	refs := make([]recRef, 0, len(recs))
	for _, r := range recs {
		refs = append(refs, recRef{seq: r.seq, off: int64(len(q.buf)), size: uint32(len(r.b))})
		q.buf = appendDiskRecord(q.buf, r.seq, r.b)
	}
	err := at("segment:create")
	var f *os.File
	for i := 1; err == nil; i++ {
		f, err = q.dir.open(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			break
		}
		// A file by that name that is no segment of ours (it was left
		// alone at open): take another name.
		name, err = fmt.Sprintf("%020d.%d%s", recs[0].seq, i, segSuffix), nil
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", q.dir.join(name), unwrapPath(err))
	}
	_, err = f.Write(q.buf)
	if err == nil {
		err = at("segment:written")
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = at("segment:synced")
	}
	if err == nil {
		err = q.dir.sync()
	}
	if err != nil {
		f.Close()
		q.dir.remove(name)
		return fmt.Errorf("writing %s: %w", q.dir.join(name), unwrapPath(err))
	}
	at("segment:linked")
	q.w = f
	q.segs = append(q.segs, &segment{name: name, first: recs[0].seq, size: int64(len(q.buf)), recs: refs})
	q.n += len(refs)
	q.next = max(q.next, recs[len(recs)-1].seq+1)
	return nil
}

// unwrapPath drops the path an *fs.PathError repeats, since the messages
// name the file themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// head returns the oldest record's reference.
func (q *diskQueue) head() (*segment, bool) {
	for _, s := range q.segs {
		if len(s.recs) > 0 {
			return s, true
		}
	}
	return nil, false
}

// peek calls fn with up to n records from the oldest on, in order, until
// fn returns false. A record that no longer reads back whole (the disk
// changed under us) is reported, removed from the queue and skipped. The
// slice given to fn is valid only during the call.
func (q *diskQueue) peek(n int, fn func(rec []byte, seq uint64) bool) {
	count := 0
	for _, s := range q.segs {
		for i := 0; i < len(s.recs) && count < n; {
			data, err := q.read(s, s.recs[i])
			if err != nil {
				q.log.Warn(fmt.Sprintf("queue file %s: the record of telegram %d at byte %d %v; it is skipped",
					q.dir.join(s.name), s.recs[i].seq, s.recs[i].off, err))
				s.recs = slices.Delete(s.recs, i, i+1)
				q.n--
				continue
			}
			count++
			if !fn(data, s.recs[i].seq) {
				return
			}
			i++
		}
		if count >= n {
			return
		}
	}
}

var errDamaged = errors.New("fails its checksum (is the disk failing?)")

// read reads a record back and checks it.
func (q *diskQueue) read(s *segment, r recRef) ([]byte, error) {
	if s.f == nil {
		f, err := q.dir.open(s.name, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot be read (%v)", unwrapPath(err))
		}
		s.f = f
	}
	n := recPrefix + int(r.size)
	if cap(q.buf) < n {
		q.buf = make([]byte, n)
	}
	b := q.buf[:n]
	if _, err := s.f.ReadAt(b, r.off); err != nil {
		return nil, fmt.Errorf("cannot be read (%v)", unwrapPath(err))
	}
	ref, ok := parseRecord(b, 0, 0, false)
	if !ok || ref.seq != r.seq || ref.size != r.size {
		return nil, errDamaged
	}
	return b[recPrefix:], nil
}

// pop removes the oldest record if its sequence number is seq, and reports
// whether it did.
func (q *diskQueue) pop(seq uint64) bool {
	s, ok := q.head()
	if !ok || s.recs[0].seq != seq {
		return false
	}
	s.recs = s.recs[1:]
	q.n--
	return true
}

// dropOldest removes the oldest record.
func (q *diskQueue) dropOldest() {
	if s, ok := q.head(); ok {
		s.recs = s.recs[1:]
		q.n--
	}
}

// headSeq returns the sequence number of the oldest record.
func (q *diskQueue) headSeq() (uint64, bool) {
	s, ok := q.head()
	if !ok {
		return 0, false
	}
	return s.recs[0].seq, true
}

// commit removes the segments whose records are all gone (but the one
// appended to), then records ack, the sequence number of the oldest record
// not yet delivered, if it changed. It reports whether a segment was
// removed (space was freed).
func (q *diskQueue) commit(ack uint64) (freed bool, err error) {
	keep := q.segs[:0]
	for i, s := range q.segs {
		active := i == len(q.segs)-1 && q.w != nil
		if len(s.recs) > 0 || active {
			keep = append(keep, s)
			continue
		}
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
		if e := q.dir.remove(s.name); e != nil && !errors.Is(e, fs.ErrNotExist) {
			keep = append(keep, s) // tried again at the next commit
			continue
		}
		freed = true
		at("segment:removed")
	}
	clear(q.segs[len(keep):])
	q.segs = keep
	if q.ackOK && q.ack == ack {
		return freed, nil
	}
	return freed, q.writeAck(ack)
}

func (q *diskQueue) writeAck(ack uint64) error {
	var b [ackSize]byte
	copy(b[:], ackMagic)
	binary.BigEndian.PutUint64(b[8:], ack)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	q.dir.remove(ackTmpName)
	err := at("ack:create")
	var f *os.File
	if err == nil {
		f, err = q.dir.open(ackTmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", q.dir.join(ackTmpName), unwrapPath(err))
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = at("ack:written")
	}
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = at("ack:synced")
	}
	if err == nil {
		err = q.dir.rename(ackTmpName, ackName)
	}
	if err == nil {
		err = at("ack:renamed")
	}
	if err == nil {
		err = q.dir.sync()
	}
	if err != nil {
		q.dir.remove(ackTmpName)
		return fmt.Errorf("writing %s: %w", q.dir.join(ackName), unwrapPath(err))
	}
	at("ack:done")
	q.ack, q.ackOK = ack, true
	return nil
}

func (q *diskQueue) readAck() (uint64, bool) {
	f, err := q.dir.open(ackName, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false
	}
	var b [ackSize + 1]byte
	n := 0
	if err == nil {
		n, err = io.ReadFull(f, b[:])
		f.Close()
		if err == io.ErrUnexpectedEOF {
			err = nil
		}
	}
	if err != nil || n != ackSize || !bytes.Equal(b[:8], []byte(ackMagic)) ||
		crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:20]) {
		q.log.Warn(fmt.Sprintf("queue file %s is damaged or unreadable; telegrams already delivered may be delivered again",
			q.dir.join(ackName)))
		return 0, false
	}
	return binary.BigEndian.Uint64(b[8:16]), true
}

func (q *diskQueue) len() int { return q.n }

func (q *diskQueue) close() error {
	var err error
	if q.w != nil {
		err = q.w.Close()
		q.w = nil
	}
	for _, s := range q.segs {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	if q.dir != nil {
		q.dir.close()
		q.dir = nil
	}
	return err
}
