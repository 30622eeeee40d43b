package mqttpub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Reading is one telegram to publish, as the reader got it.
type Reading struct {
	// Telegram is the plaintext telegram, from '/' to the end of the line
	// after '!'. Add copies it.
	Telegram []byte
	// Encrypted is true when the telegram came in an envelope; then
	// SystemTitle and FrameCounter are the envelope's.
	Encrypted    bool
	SystemTitle  [8]byte
	FrameCounter uint32
	// Received is when the telegram arrived; the heartbeat of
	// Config.OnlyOnChange counts by it. Add sets it to the current time
	// when it is zero.
	Received time.Time
	// JSON, when the caller has it, is the telegram's JSON as
	// format.AppendJSON writes it with the envelope above
	// (live.Reading.JSON, shared by the outputs): the Publisher sends it
	// on <root>/telegram rather than make it again. It is kept in memory
	// only, and must not be modified. nil: the Publisher makes it.
	JSON []byte
}

// A record is a Reading as the queue stores it:
//
//	version (1), flags (1: bit 0 encrypted), system title (8),
//	frame counter (4, big-endian), received (8, Unix nanoseconds,
//	big-endian), telegram (the rest)
const (
	recordVersion = 1
	recordHeader  = 1 + 1 + 8 + 4 + 8
)

var errRecord = errors.New("mqttpub: damaged queue record")

func appendRecord(dst []byte, r *Reading) []byte {
	var flags byte
	if r.Encrypted {
		flags |= 1
	}
	dst = append(dst, recordVersion, flags)
	dst = append(dst, r.SystemTitle[:]...)
	dst = binary.BigEndian.AppendUint32(dst, r.FrameCounter)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Received.UnixNano()))
	return append(dst, r.Telegram...)
}

// decodeRecord is the inverse of appendRecord. The Reading's Telegram
// aliases b.
func decodeRecord(b []byte) (Reading, error) {
	var r Reading
	if len(b) < recordHeader {
		return r, fmt.Errorf("%w: %d bytes, shorter than its header", errRecord, len(b))
	}
	if b[0] != recordVersion {
		return r, fmt.Errorf("%w: version %d, this program writes %d", errRecord, b[0], recordVersion)
	}
	r.Encrypted = b[1]&1 != 0
	copy(r.SystemTitle[:], b[2:10])
	r.FrameCounter = binary.BigEndian.Uint32(b[10:14])
	r.Received = time.Unix(0, int64(binary.BigEndian.Uint64(b[14:22])))
	r.Telegram = b[recordHeader:]
	return r, nil
}

// memRec is a record in memory with its sequence number. Its bytes never
// change once added, so they may be read without the lock.
type memRec struct {
	seq uint64
	b   []byte
}

// deque is a queue of records in memory, oldest first.
type deque struct {
	recs []memRec
	head int
}

func (d *deque) len() int        { return len(d.recs) - d.head }
func (d *deque) push(r memRec)   { d.recs = append(d.recs, r) }
func (d *deque) front() memRec   { return d.recs[d.head] }
func (d *deque) at(i int) memRec { return d.recs[d.head+i] }
func (d *deque) popFront() {
	d.recs[d.head] = memRec{}
	d.head++
	switch {
	case d.head == len(d.recs):
		d.recs, d.head = d.recs[:0], 0
	case d.head >= 1024 && 2*d.head >= len(d.recs):
		n := copy(d.recs, d.recs[d.head:])
		clear(d.recs[n:])
		d.recs, d.head = d.recs[:n], 0
	}
}

const (
	// memDefault bounds the telegrams a queue with a directory keeps in
	// memory while the disk fails: a day of them.
	memDefault = 8640
	// retryEvery is how often, at most, a failing queue directory is
	// tried again, at the next telegram after it; the disk is also tried
	// at once when deliveries free a segment.
	retryEvery = time.Second
	// appendRecs bounds the records of one append.
	appendRecs = 256
	// addWait bounds how long add waits for its record to reach the disk.
	addWait = time.Second
	// warnEvery is how often, at most, a failing disk is logged as a
	// warning: a disk that other files keep filling makes room (when
	// delivered segments are removed) and fills up again.
	warnEvery = time.Hour
)

// queue holds the records waiting for the broker, oldest first, up to
// max; past it the oldest are dropped.
//
// Without a directory the records are in memory. With one, add puts a
// record in memory and the queue's writer goroutine moves it to disk;
// add waits for that, without holding any lock, for at most addWait. When
// the disk fails (full, read-only, unwritable)
// the records stay in memory, up to memMax, are delivered from there, and
// go to disk once it works again; the failure and the recovery are logged
// once each. Every record on disk is older than every record in memory.
//
// Locks: mu is the lock of add, the reader's call. It guards the memory
// part and the counts, and is never held for disk work or logging. ioMu
// serialises everything that touches the disk (the writer, the
// publisher's reads, pops and acks); add never takes it. Where both are
// held, ioMu is taken first.
type queue struct {
	max, memMax int
	dirPath     string // "" without a directory
	log         *slog.Logger
	// onDrop is told about records the writer dropped from the disk to
	// keep the queue within max; called with ioMu held.
	onDrop func(n int)

	mu       sync.Mutex
	mem      deque
	next     uint64 // sequence number of the next record added
	closed   bool
	onDisk   int           // disk.n, for stats
	failing  bool          // the disk failed the last write
	durable  uint64        // records below it are on disk or delivered
	progress chan struct{} // closed and replaced when durable moves or failing is set
	wait     time.Duration // addWait

	ioMu       sync.Mutex
	disk       *diskQueue
	failedAt   time.Time
	retry      time.Duration
	ackFailing bool
	warnedAt   time.Time // when a failure was last logged as a warning
	warned     bool      // the current failure was
	ackWarned  time.Time // when a failed ack was last logged as a warning

	wake       chan struct{}
	stop, done chan struct{}
}

// newQueue returns a queue of at most max records, on disk in dir unless
// dir is "". A directory that cannot be created because the disk fails
// (full, read-only) is not an error: the queue starts in memory and tries
// the disk again later.
func newQueue(max int, dir string, log *slog.Logger, onDrop func(int)) (*queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &queue{max: max, memMax: max, log: log, onDrop: onDrop, retry: retryEvery,
		progress: make(chan struct{}), wait: addWait}
	if dir == "" {
		return q, nil
	}
	q.dirPath = dir
	q.memMax = min(max, memDefault)
	disk, err := openDiskQueue(dir, log)
	switch {
	case err == nil:
		q.disk, q.next, q.onDisk, q.durable = disk, disk.next, disk.n, disk.next
	case diskTrouble(err):
		q.fail(err)
	default:
		return nil, err
	}
	q.wake = make(chan struct{}, 1)
	q.stop, q.done = make(chan struct{}), make(chan struct{})
	go q.writer()
	return q, nil
}

// add appends a record (which the queue keeps: the caller must not change
// it), dropping the oldest one in memory when memory is full. With a
// directory it then waits until the record is on disk, for at most q.wait,
// and not at all while the disk fails; it holds no lock meanwhile.
func (q *queue) add(rec []byte) (dropped bool, err error) {
	dropped, _, err = q.put(rec)
	return dropped, err
}

// put is add, and also reports whether the record is safe when put
// returns: on disk, or delivered already. It is not while the disk fails,
// when the disk took longer than q.wait, and without a directory.
func (q *queue) put(rec []byte) (dropped, safe bool, err error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, false, ErrClosed
	}
	if q.mem.len() >= q.memMax {
		q.mem.popFront()
		dropped = true
	}
	seq := q.next
	q.mem.push(memRec{seq: seq, b: rec})
	q.next++
	q.mu.Unlock()
	if q.wake == nil {
		return dropped, false, nil
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	var timer *time.Timer
	for {
		q.mu.Lock()
		safe = q.durable > seq
		done := safe || q.failing || q.closed
		ch := q.progress
		q.mu.Unlock()
		if done {
			return dropped, safe, nil
		}
		if timer == nil {
			timer = time.NewTimer(q.wait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return dropped, false, nil
		}
	}
}

// advance moves durable up to d and wakes the adds waiting for it. The
// caller holds mu.
func (q *queue) advance(d uint64) {
	q.durable = max(q.durable, d)
	close(q.progress)
	q.progress = make(chan struct{})
}

func (q *queue) writer() {
	defer close(q.done)
	for {
		select {
		case <-q.wake:
			q.flush(false)
		case <-q.stop:
			return
		}
	}
}

// flush moves the records in memory to disk. While the disk fails it tries
// at most every q.retry, unless force.
func (q *queue) flush(force bool) {
	q.ioMu.Lock()
	defer q.ioMu.Unlock()
	for {
		q.mu.Lock()
		var batch []memRec
		size := 0
		for i := 0; i < q.mem.len() && len(batch) < appendRecs && (size < appendMax || len(batch) == 0); i++ {
			r := q.mem.at(i)
			batch = append(batch, r)
			size += recPrefix + len(r.b)
		}
		failing := q.failing
		q.mu.Unlock()
		if len(batch) == 0 || (failing && !force && time.Since(q.failedAt) < q.retry) {
			return
		}
		if q.disk == nil && (q.dirPath == "" || !q.attach()) {
			return
		}
		err := q.disk.append(batch)
		partial := false
		for err != nil && len(batch) > 1 {
			// A smaller write may fit in the space left.
			batch, partial = batch[:len(batch)/2], true
			err = q.disk.append(batch)
		}
		if err != nil {
			q.fail(err)
			return
		}
		q.mu.Lock()
		for q.mem.len() > 0 && q.mem.front().seq <= batch[len(batch)-1].seq {
			q.mem.popFront()
		}
		q.onDisk = q.disk.n // with the records leaving memory, so that Stats counts each once
		inMem := q.mem.len()
		// The failure is over once memory is all on disk: a disk with
		// room for part of it only would otherwise be logged as
		// failing and recovering at every telegram.
		recovered := failing && inMem == 0
		if recovered || !failing {
			q.failing = false
		}
		q.advance(batch[len(batch)-1].seq + 1)
		q.mu.Unlock()
		if partial {
			q.failedAt = time.Now() // the rest waits for the next try
		}
		drops := 0
		for q.disk.n > 0 && q.disk.n+inMem > q.max {
			q.disk.dropOldest()
			drops++
		}
		q.setOnDisk()
		if recovered && q.warned {
			q.warned = false
			q.log.Info(fmt.Sprintf("the queue directory %s takes telegrams again: those kept in memory meanwhile are on disk now", q.dirPath))
		} else if recovered {
			q.log.Debug(fmt.Sprintf("the queue directory %s takes telegrams again", q.dirPath))
		}
		if drops > 0 {
			q.commitLocked()
			if q.onDrop != nil {
				q.onDrop(drops)
			}
		}
	}
}

// fail notes a failed write to the disk, and logs the first of a run of
// them: as a warning if none was logged in the last warnEvery.
func (q *queue) fail(err error) {
	q.failedAt = time.Now()
	q.mu.Lock()
	first := !q.failing
	q.failing = true
	q.advance(0)
	q.mu.Unlock()
	if first && (q.warnedAt.IsZero() || time.Since(q.warnedAt) >= warnEvery) {
		q.warnedAt, q.warned = time.Now(), true
		q.log.Warn(fmt.Sprintf("cannot write to the queue directory %s: %v; telegrams are kept in memory (up to %d) and delivered from there until the disk works again, but a restart meanwhile loses them",
			q.dirPath, err, q.memMax))
	} else {
		q.log.Debug(fmt.Sprintf("the queue directory %s fails: %v", q.dirPath, err))
	}
}

// attach opens the queue directory when it could not be created at start.
func (q *queue) attach() bool {
	d, err := openDiskQueue(q.dirPath, q.log)
	if err != nil {
		q.fail(err)
		return false
	}
	q.mu.Lock()
	first := q.next
	if q.mem.len() > 0 {
		first = q.mem.front().seq
	}
	q.mu.Unlock()
	if d.n > 0 && d.next > first {
		// Someone made the directory meanwhile and left telegrams in
		// it, numbered like ours: they cannot be put in order.
		q.log.Warn(fmt.Sprintf("the queue directory %s, which could not be created at start, now holds %d telegrams of another run; this run keeps its queue in memory (restart the program to deliver those)",
			q.dirPath, d.n))
		d.close()
		q.dirPath = ""
		return false
	}
	// An ack above our first record (left by an earlier run) would make
	// the next start discard our records: bring it in line first.
	if err := d.writeAck(first); err != nil {
		d.close()
		q.fail(err)
		return false
	}
	q.disk = d
	return true
}

// peek calls fn with up to n records from the oldest on, in order, with
// their (rising) sequence numbers, until fn returns false. A record slice
// is valid only during its call.
func (q *queue) peek(n int, fn func(rec []byte, seq uint64) bool) {
	q.ioMu.Lock()
	defer q.ioMu.Unlock()
	if q.disk != nil && q.disk.n > 0 {
		got := 0
		q.disk.peek(n, func(rec []byte, seq uint64) bool {
			got++
			return fn(rec, seq)
		})
		q.setOnDisk()
		if got > 0 {
			return
		}
	}
	q.mu.Lock()
	recs := make([]memRec, 0, min(n, q.mem.len()))
	for i := 0; i < n && i < q.mem.len(); i++ {
		recs = append(recs, q.mem.at(i))
	}
	q.mu.Unlock()
	for _, r := range recs {
		if !fn(r.b, r.seq) {
			return
		}
	}
}

// pop removes the oldest record if its sequence number is seq; it does
// nothing when that record was dropped meanwhile. The removal is recorded
// on disk by the next commit.
func (q *queue) pop(seq uint64) {
	q.ioMu.Lock()
	defer q.ioMu.Unlock()
	if q.disk != nil && q.disk.pop(seq) {
		q.setOnDisk()
		return
	}
	q.mu.Lock()
	if q.mem.len() > 0 && q.mem.front().seq == seq {
		q.mem.popFront()
		q.advance(seq + 1) // delivered: nothing left to write
	}
	q.mu.Unlock()
}

// commit records on disk what pop removed: one ack for a batch.
func (q *queue) commit() {
	q.ioMu.Lock()
	defer q.ioMu.Unlock()
	q.commitLocked()
}

func (q *queue) commitLocked() {
	if q.disk == nil {
		return
	}
	ack, ok := q.disk.headSeq()
	q.mu.Lock()
	if !ok && q.mem.len() > 0 {
		ack, ok = q.mem.front().seq, true
	}
	if !ok {
		ack = q.next
	}
	failing := q.failing
	q.mu.Unlock()
	freed, err := q.disk.commit(ack)
	switch {
	case err != nil && !q.ackFailing:
		q.ackFailing = true
		if q.ackWarned.IsZero() || time.Since(q.ackWarned) >= warnEvery {
			q.ackWarned = time.Now()
			q.log.Warn(fmt.Sprintf("cannot record deliveries in the queue directory: %v; they are recorded once the disk works again (a restart meanwhile delivers them again)", err))
		} else {
			q.log.Debug(fmt.Sprintf("cannot record deliveries in the queue directory: %v", err))
		}
	case err == nil && q.ackFailing:
		q.ackFailing = false
	}
	if freed && failing {
		// Space was freed: try the disk at once.
		q.failedAt = time.Time{}
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *queue) setOnDisk() {
	q.mu.Lock()
	q.onDisk = q.disk.n
	q.mu.Unlock()
}

// queueStats is what Stats reports of the queue.
type queueStats struct {
	queued, inMemory int
	failing          bool
}

func (q *queue) stats() queueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return queueStats{queued: q.onDisk + q.mem.len(), inMemory: q.mem.len(), failing: q.failing}
}

func (q *queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// close stops taking records, writes those in memory to disk if it can,
// records the deliveries and closes the directory. It returns the records
// left only in memory: with a directory, those the failing disk did not
// take, which are lost.
func (q *queue) close() (lost int, err error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, nil
	}
	q.closed = true
	q.advance(0)
	q.mu.Unlock()
	if q.stop == nil {
		return 0, nil
	}
	close(q.stop)
	<-q.done
	q.flush(true)
	q.ioMu.Lock()
	defer q.ioMu.Unlock()
	q.commitLocked()
	q.mu.Lock()
	lost = q.mem.len()
	q.mu.Unlock()
	if q.disk != nil {
		err = q.disk.close()
		q.disk = nil
	}
	return lost, err
}
