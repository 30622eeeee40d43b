package mqttpub

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// queue holds records in order, oldest first, up to a bound. It is not safe
// for concurrent use; the Publisher locks around it.
type queue interface {
	// push appends a record, dropping the oldest when the queue is full;
	// it reports whether one was dropped.
	push(rec []byte) (dropped bool, err error)
	// front returns the oldest record and its sequence number, nil when
	// the queue is empty. The slice is valid until the next call.
	front() (rec []byte, seq uint64, err error)
	// peek calls fn with up to n records from the oldest on, in order,
	// with their (consecutive) sequence numbers, until fn returns false.
	// A record slice is valid only during its call.
	peek(n int, fn func(rec []byte, seq uint64) bool) error
	// pop removes the oldest record if its sequence number is seq; it
	// does nothing when that record was dropped to make room meanwhile.
	pop(seq uint64) error
	len() int
	close() error
}

// memQueue is a ring of records in memory.
type memQueue struct {
	recs    [][]byte
	head    int
	n       int
	headSeq uint64 // sequence number of recs[head]
}

func newMemQueue(max int) *memQueue { return &memQueue{recs: make([][]byte, max)} }

func (q *memQueue) push(rec []byte) (bool, error) {
	dropped := false
	if q.n == len(q.recs) {
		q.pop(q.headSeq)
		dropped = true
	}
	i := (q.head + q.n) % len(q.recs)
	q.recs[i] = append(q.recs[i][:0], rec...)
	q.n++
	return dropped, nil
}

func (q *memQueue) front() ([]byte, uint64, error) {
	if q.n == 0 {
		return nil, 0, nil
	}
	return q.recs[q.head], q.headSeq, nil
}

func (q *memQueue) peek(n int, fn func([]byte, uint64) bool) error {
	for i := 0; i < n && i < q.n; i++ {
		if !fn(q.recs[(q.head+i)%len(q.recs)], q.headSeq+uint64(i)) {
			break
		}
	}
	return nil
}

func (q *memQueue) pop(seq uint64) error {
	if q.n == 0 || seq != q.headSeq {
		return nil
	}
	q.head = (q.head + 1) % len(q.recs)
	q.headSeq++
	q.n--
	return nil
}

func (q *memQueue) len() int     { return q.n }
func (q *memQueue) close() error { return nil }
