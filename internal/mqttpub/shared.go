package mqttpub

import (
	"bytes"
	"sync"
)

// sharedJSON keeps the JSON of the last telegrams added with one
// (Reading.JSON: the live loop makes it once for every output), so that
// publishing them takes it instead of making it again. It holds a few,
// in memory only: a telegram published later (a backlog, a queue read
// back from disk) has its JSON made again, the same.
type sharedJSON struct {
	mu   sync.Mutex
	ring [sharedRing]sharedEntry
	next int
}

// sharedRing is how many telegrams sharedJSON keeps: those added since the
// last batch was built, in the steady state one.
const sharedRing = 8

type sharedEntry struct {
	key      sharedKey
	telegram []byte // the caller's, never modified
	json     []byte
}

// sharedKey tells the queued telegrams apart: the time they were received
// is in nanoseconds, and the telegram itself is compared too.
type sharedKey struct {
	received  int64
	counter   uint32
	title     [8]byte
	encrypted bool
}

func keyOf(r *Reading) sharedKey {
	return sharedKey{r.Received.UnixNano(), r.FrameCounter, r.SystemTitle, r.Encrypted}
}

// put keeps r's JSON, if it has one.
func (s *sharedJSON) put(r *Reading) {
	if r.JSON == nil {
		return
	}
	s.mu.Lock()
	s.ring[s.next] = sharedEntry{key: keyOf(r), telegram: r.Telegram, json: r.JSON}
	s.next = (s.next + 1) % sharedRing
	s.mu.Unlock()
}

// get returns the JSON kept for r, nil when there is none.
func (s *sharedJSON) get(r *Reading) []byte {
	key := keyOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.ring {
		if e := &s.ring[k]; e.json != nil && e.key == key && bytes.Equal(e.telegram, r.Telegram) {
			return e.json
		}
	}
	return nil
}
