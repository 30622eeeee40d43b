package smarty

import (
	"bytes"
	"fmt"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// EventKind says what a Tracker noticed about a telegram.
type EventKind int

// The kinds of Event.
const (
	// CounterGap: the frame counter went up by more than one; frames were
	// missed (a reconnect, a glitch, a reader that was stopped).
	CounterGap EventKind = iota + 1
	// CounterRepeat: the same frame counter came twice, a replayed frame.
	CounterRepeat
	// CounterStepBack: the frame counter went down: the meter restarted,
	// its key was renewed (the counter starts again at 0), or an old
	// frame was replayed.
	CounterStepBack
	// SystemTitleChange: the frames now come from another system title,
	// another meter (the meter was replaced).
	SystemTitleChange
	// MeterIDChange: the meter id in the telegram changed (the meter was
	// replaced).
	MeterIDChange
)

var eventKindNames = [...]string{
	CounterGap:        "frame counter gap",
	CounterRepeat:     "frame counter repeat",
	CounterStepBack:   "frame counter step back",
	SystemTitleChange: "system title change",
	MeterIDChange:     "meter id change",
}

// String returns a short name of the kind, "frame counter gap".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something a Tracker noticed about one telegram.
type Event struct {
	Kind EventKind
	// Offset is the stream position of the telegram that caused it.
	Offset int64
	// SystemTitle is the telegram's system title; PreviousTitle the one
	// before, for SystemTitleChange.
	SystemTitle, PreviousTitle SystemTitle
	// Counter is the telegram's frame counter; Previous the last one seen
	// from the same system title, for the counter events.
	Counter, Previous uint32
	// Missed is the number of frames a CounterGap skipped.
	Missed uint32
	// MeterID and PreviousMeterID are the meter ids of a MeterIDChange.
	MeterID, PreviousMeterID string
}

// String describes the event for a log line.
func (e Event) String() string {
	switch e.Kind {
	case CounterGap:
		s := "s"
		if e.Missed == 1 {
			s = ""
		}
		return fmt.Sprintf("frame counter of %s jumped from %d to %d: %d frame%s missed", e.SystemTitle, e.Previous, e.Counter, e.Missed, s)
	case CounterRepeat:
		return fmt.Sprintf("frame counter of %s repeated %d: a replayed frame?", e.SystemTitle, e.Counter)
	case CounterStepBack:
		return fmt.Sprintf("frame counter of %s went back from %d to %d: the meter restarted, its key was renewed, or an old frame was replayed", e.SystemTitle, e.Previous, e.Counter)
	case SystemTitleChange:
		return fmt.Sprintf("system title changed from %s to %s: was the meter replaced?", e.PreviousTitle, e.SystemTitle)
	case MeterIDChange:
		return fmt.Sprintf("meter id changed from %s to %s: was the meter replaced?", e.PreviousMeterID, e.MeterID)
	}
	return e.Kind.String()
}

// TrackerCounts counts what a Tracker has seen.
type TrackerCounts struct {
	Telegrams      int64 // telegrams observed, encrypted or plain
	Gaps           int64 // CounterGap events
	Missed         int64 // frames missed, summed over the gaps
	Repeats        int64 // CounterRepeat events
	StepBacks      int64 // CounterStepBack events
	TitleChanges   int64 // SystemTitleChange events
	MeterIDChanges int64 // MeterIDChange events
}

// String lists the counts on one line: "frame counter gaps 2 (5 frames
// missed), repeats 0, steps back 0, system title changes 0, meter id
// changes 0".
func (c TrackerCounts) String() string {
	return fmt.Sprintf("frame counter gaps %d (%d frames missed), repeats %d, steps back %d, system title changes %d, meter id changes %d",
		c.Gaps, c.Missed, c.Repeats, c.StepBacks, c.TitleChanges, c.MeterIDChanges)
}

// Add adds the counts of o to c, for a total over several streams.
func (c *TrackerCounts) Add(o TrackerCounts) {
	c.Telegrams += o.Telegrams
	c.Gaps += o.Gaps
	c.Missed += o.Missed
	c.Repeats += o.Repeats
	c.StepBacks += o.StepBacks
	c.TitleChanges += o.TitleChanges
	c.MeterIDChanges += o.MeterIDChanges
}

// Anomalies returns the number of events counted.
func (c TrackerCounts) Anomalies() int64 {
	return c.Gaps + c.Repeats + c.StepBacks + c.TitleChanges + c.MeterIDChanges
}

// maxTitles bounds the system titles a Tracker remembers, so that a
// stream of forged or damaged titles cannot grow it; the least recently
// seen is forgotten first.
const maxTitles = 16

type titleState struct {
	title   SystemTitle
	counter uint32
	seen    int64 // Telegrams when last seen
}

// Tracker follows the frame counter of each meter (system title) in a
// stream of telegrams, and the identity of the meter, and reports what
// does not look like one meter sending frame after frame: gaps, repeats,
// steps back, a change of system title or of meter id. Each anomaly is
// reported once, by the telegram where it shows, and counted.
//
// A Tracker only observes: every telegram stays the user's data, whatever
// it reports. The zero Tracker is ready to use. It is not safe for
// concurrent use.
type Tracker struct {
	titles    []titleState
	lastTitle SystemTitle
	hasTitle  bool
	meterID   string
	// meterIDRaw is the value meterID was decoded from by Observe, so
	// that a telegram with the same one costs no string; empty after
	// ObserveTelegram.
	meterIDRaw []byte
	counts     TrackerCounts
	events     []Event
}

// Observe records a telegram returned by [Reader.Next] and returns what it
// noticed, usually nothing. The events are valid until the next call.
// Observe allocates nothing while the meter id stays the same.
func (t *Tracker) Observe(m *Message) []Event {
	t.begin(m.Offset, m.Encrypted, m.Header)
	// Decode the meter id only when its text in the telegram changes.
	if raw := meterIDValue(&m.Telegram); len(raw) > 0 && !bytes.Equal(raw, t.meterIDRaw) {
		t.observeMeterID(m.Offset, m.Header, m.Telegram.MeterID())
		t.meterIDRaw = append(t.meterIDRaw[:0], raw...)
	}
	return t.events
}

// ObserveTelegram is Observe for a telegram given by its parts: its stream
// offset, whether it came encrypted with header h, and its meter id (empty
// when the telegram has none).
func (t *Tracker) observeTelegram(offset int64, encrypted bool, h Header, meterID string) []Event {
	t.begin(offset, encrypted, h)
	if meterID != "" {
		t.observeMeterID(offset, h, meterID)
		t.meterIDRaw = t.meterIDRaw[:0]
	}
	return t.events
}

// begin starts on a telegram: it clears the events, counts the telegram
// and follows its frame counter.
func (t *Tracker) begin(offset int64, encrypted bool, h Header) {
	t.events = t.events[:0]
	t.counts.Telegrams++
	if encrypted {
		t.observeCounter(offset, h)
	}
}

// observeMeterID compares the telegram's meter id, not empty, with the
// last one.
func (t *Tracker) observeMeterID(offset int64, h Header, meterID string) {
	if t.meterID != "" && meterID != t.meterID {
		t.counts.MeterIDChanges++
		t.events = append(t.events, Event{Kind: MeterIDChange, Offset: offset,
			SystemTitle: h.SystemTitle, MeterID: meterID, PreviousMeterID: t.meterID})
	}
	t.meterID = meterID
}

// meterIDValue returns the text of the value that dsmr.Telegram.MeterID
// decodes the meter id from, nil when the telegram has none.
func meterIDValue(tg *dsmr.Telegram) []byte {
	if v, ok := tg.MeterIDValue(); ok {
		return v.Bytes()
	}
	return nil
}

func (t *Tracker) observeCounter(offset int64, h Header) {
	st := h.SystemTitle
	if t.hasTitle && st != t.lastTitle {
		t.counts.TitleChanges++
		t.events = append(t.events, Event{Kind: SystemTitleChange, Offset: offset,
			SystemTitle: st, PreviousTitle: t.lastTitle, Counter: h.FrameCounter})
	}
	t.lastTitle, t.hasTitle = st, true

	s := t.state(st)
	if s == nil {
		t.remember(st, h.FrameCounter)
		return
	}
	prev, c := s.counter, h.FrameCounter
	s.counter, s.seen = c, t.counts.Telegrams
	e := Event{Offset: offset, SystemTitle: st, Counter: c, Previous: prev}
	switch {
	case uint64(c) == uint64(prev)+1:
		return
	case c > prev:
		e.Kind, e.Missed = CounterGap, c-prev-1
		t.counts.Gaps++
		t.counts.Missed += int64(e.Missed)
	case c == prev:
		e.Kind = CounterRepeat
		t.counts.Repeats++
	default:
		e.Kind = CounterStepBack
		t.counts.StepBacks++
	}
	t.events = append(t.events, e)
}

// state returns what is known of system title st, or nil.
func (t *Tracker) state(st SystemTitle) *titleState {
	for i := range t.titles {
		if t.titles[i].title == st {
			return &t.titles[i]
		}
	}
	return nil
}

// remember starts following system title st, forgetting the least
// recently seen title when maxTitles are followed already.
func (t *Tracker) remember(st SystemTitle, counter uint32) {
	s := titleState{title: st, counter: counter, seen: t.counts.Telegrams}
	if len(t.titles) < maxTitles {
		t.titles = append(t.titles, s)
		return
	}
	oldest := 0
	for i := range t.titles {
		if t.titles[i].seen < t.titles[oldest].seen {
			oldest = i
		}
	}
	t.titles[oldest] = s
}

// Counts returns the counts so far.
func (t *Tracker) Counts() TrackerCounts { return t.counts }
