package smarty

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	trackTitleA = SystemTitle{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x54}
	trackTitleB = SystemTitle{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x99}
)

// trackStep is one telegram fed to a Tracker and the kinds of event it
// must cause.
type trackStep struct {
	plain   bool
	title   SystemTitle
	counter uint32
	meterID string
	want    []EventKind
}

func TestTracker(t *testing.T) {
	A, B := trackTitleA, trackTitleB
	tests := []struct {
		name  string
		steps []trackStep
		want  TrackerCounts
	}{
		{
			name: "steady",
			steps: []trackStep{
				{title: A, counter: 100, meterID: "SAG1030700114004"},
				{title: A, counter: 101, meterID: "SAG1030700114004"},
				{title: A, counter: 102, meterID: "SAG1030700114004"},
			},
			want: TrackerCounts{Telegrams: 3},
		},
		{
			name: "gap",
			steps: []trackStep{
				{title: A, counter: 100},
				{title: A, counter: 105, want: []EventKind{CounterGap}},
				{title: A, counter: 106},
				{title: A, counter: 108, want: []EventKind{CounterGap}},
			},
			want: TrackerCounts{Telegrams: 4, Gaps: 2, Missed: 5},
		},
		{
			name: "repeat",
			steps: []trackStep{
				{title: A, counter: 7},
				{title: A, counter: 7, want: []EventKind{CounterRepeat}},
				{title: A, counter: 8},
			},
			want: TrackerCounts{Telegrams: 3, Repeats: 1},
		},
		{
			name: "step back to 0 after a new key",
			steps: []trackStep{
				{title: A, counter: 370915},
				{title: A, counter: 0, want: []EventKind{CounterStepBack}},
				{title: A, counter: 1},
			},
			want: TrackerCounts{Telegrams: 3, StepBacks: 1},
		},
		{
			name: "counter at its end",
			steps: []trackStep{
				{title: A, counter: 0xFFFFFFFE},
				{title: A, counter: 0xFFFFFFFF},
				{title: A, counter: 0, want: []EventKind{CounterStepBack}},
			},
			want: TrackerCounts{Telegrams: 3, StepBacks: 1},
		},
		{
			name: "meter replaced",
			steps: []trackStep{
				{title: A, counter: 500, meterID: "SAG1030700114004"},
				{title: B, counter: 3, meterID: "SAG1030700119999", want: []EventKind{SystemTitleChange, MeterIDChange}},
				{title: B, counter: 4, meterID: "SAG1030700119999"},
			},
			want: TrackerCounts{Telegrams: 3, TitleChanges: 1, MeterIDChanges: 1},
		},
		{
			name: "back to a title seen before: its counter goes on",
			steps: []trackStep{
				{title: A, counter: 500},
				{title: B, counter: 3, want: []EventKind{SystemTitleChange}},
				{title: A, counter: 503, want: []EventKind{SystemTitleChange, CounterGap}},
			},
			want: TrackerCounts{Telegrams: 3, TitleChanges: 2, Gaps: 1, Missed: 2},
		},
		{
			name: "plain telegrams: meter id only",
			steps: []trackStep{
				{plain: true, meterID: "E0043007052870318"},
				{plain: true},
				{plain: true, meterID: "E0043007052870318"},
				{plain: true, meterID: "E0043007099999999", want: []EventKind{MeterIDChange}},
			},
			want: TrackerCounts{Telegrams: 4, MeterIDChanges: 1},
		},
		{
			name: "plain between encrypted frames changes nothing",
			steps: []trackStep{
				{title: A, counter: 9},
				{plain: true},
				{title: A, counter: 10},
			},
			want: TrackerCounts{Telegrams: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			for i, s := range tt.steps {
				h := Header{SystemTitle: s.title, FrameCounter: s.counter, Security: securityByte}
				events := tr.observeTelegram(int64(i*650), !s.plain, h, s.meterID)
				var kinds []EventKind
				for _, e := range events {
					kinds = append(kinds, e.Kind)
					if e.Offset != int64(i*650) {
						t.Errorf("step %d: event %v has offset %d, want %d", i, e.Kind, e.Offset, i*650)
					}
				}
				if diff := cmp.Diff(s.want, kinds); diff != "" {
					t.Errorf("step %d: events (-want +got):\n%s", i, diff)
				}
			}
			if diff := cmp.Diff(tt.want, tr.Counts()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: CounterGap, SystemTitle: trackTitleA, Previous: 370915, Counter: 370920, Missed: 4},
			"frame counter of 534147677001BD54 jumped from 370915 to 370920: 4 frames missed"},
		{Event{Kind: CounterGap, SystemTitle: trackTitleA, Previous: 1, Counter: 3, Missed: 1},
			"frame counter of 534147677001BD54 jumped from 1 to 3: 1 frame missed"},
		{Event{Kind: CounterRepeat, SystemTitle: trackTitleA, Previous: 9, Counter: 9},
			"frame counter of 534147677001BD54 repeated 9: a replayed frame?"},
		{Event{Kind: CounterStepBack, SystemTitle: trackTitleA, Previous: 9, Counter: 0},
			"frame counter of 534147677001BD54 went back from 9 to 0: the meter restarted, its key was renewed, or an old frame was replayed"},
		{Event{Kind: SystemTitleChange, SystemTitle: trackTitleB, PreviousTitle: trackTitleA},
			"system title changed from 534147677001BD54 to 534147677001BD99: was the meter replaced?"},
		{Event{Kind: MeterIDChange, MeterID: "SAG2", PreviousMeterID: "SAG1"},
			"meter id changed from SAG1 to SAG2: was the meter replaced?"},
		{Event{Kind: 42}, "EventKind(42)"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() =\n%q, want\n%q", got, tt.want)
		}
	}
}

// TestTrackerBounded: a stream of ever new system titles (forged, or
// damaged frames accepted without authentication) does not grow the
// Tracker.
func TestTrackerBounded(t *testing.T) {
	var tr Tracker
	for i := range 10000 {
		var st SystemTitle
		st[0], st[1] = byte(i), byte(i>>8)
		tr.observeTelegram(0, true, Header{SystemTitle: st, FrameCounter: uint32(i)}, "")
	}
	if len(tr.titles) > maxTitles {
		t.Fatalf("the tracker follows %d titles, more than %d", len(tr.titles), maxTitles)
	}
	if got := tr.Counts().TitleChanges; got != 9999 {
		t.Errorf("title changes %d, want 9999", got)
	}
}

func TestTrackerCountsString(t *testing.T) {
	c := TrackerCounts{Telegrams: 10, Gaps: 2, Missed: 5, StepBacks: 1}
	want := "frame counter gaps 2 (5 frames missed), repeats 0, steps back 1, system title changes 0, meter id changes 0"
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if c.Anomalies() != 3 {
		t.Errorf("Anomalies() = %d, want 3", c.Anomalies())
	}
}

func ExampleTracker() {
	var tr Tracker
	st := SystemTitle{'S', 'A', 'G', 0x67, 0x70, 0x01, 0xBD, 0x54}
	for _, counter := range []uint32{370915, 370916, 370919, 370919} {
		h := Header{SystemTitle: st, FrameCounter: counter}
		for _, e := range tr.observeTelegram(0, true, h, "SAG1030700114004") {
			fmt.Println("warning:", e)
		}
	}
	fmt.Println(tr.Counts())
	// Output:
	// warning: frame counter of 534147677001BD54 jumped from 370916 to 370919: 2 frames missed
	// warning: frame counter of 534147677001BD54 repeated 370919: a replayed frame?
	// frame counter gaps 1 (2 frames missed), repeats 1, steps back 0, system title changes 0, meter id changes 0
}

// realMessage returns an encrypted Message holding the real 2018
// telegram, as Reader.Next returns it.
func realMessage(t *testing.T) *Message {
	t.Helper()
	text, err := os.ReadFile("../testdata/smarty-2018.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Encrypted: true}
	if err := m.Telegram.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrackerObserveMessage feeds a Message as Reader.Next returns it,
// with the real 2018 telegram, whose meter id is SAG1030700114004.
func TestTrackerObserveMessage(t *testing.T) {
	m := realMessage(t)
	m.Header = Header{SystemTitle: trackTitleA, FrameCounter: 0x0005A8E3}
	var tr Tracker
	tr.Observe(m)
	m.Header.FrameCounter += 2
	m.Offset = 1294
	events := tr.Observe(m)
	if len(events) != 1 || events[0].Kind != CounterGap || events[0].Offset != 1294 {
		t.Fatalf("events %v, want one gap at 1294", events)
	}
	if tr.meterID != "SAG1030700114004" {
		t.Errorf("meter id %q, want SAG1030700114004", tr.meterID)
	}
}

// meterTelegram returns a message whose telegram has the given meter id
// line ("" for none).
func meterTelegram(t testing.TB, idLine string) *Message {
	t.Helper()
	text := "/Lux5\\253663629_D\r\n\r\n1-3:0.2.8(42)\r\n"
	if idLine != "" {
		text += idLine + "\r\n"
	}
	text += "1-0:1.8.0(000006.695*kWh)\r\n!\r\n"
	m := new(Message)
	if err := m.Telegram.UnmarshalText([]byte(text)); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrackerObserveMeterID: Observe reads the meter id as
// dsmr.Telegram.MeterID does, and reports a change only when the decoded
// id changes; ObserveTelegram between calls of Observe is not forgotten.
func TestTrackerObserveMeterID(t *testing.T) {
	const (
		sagHex   = "0-0:42.0.0(53414731303330373030313134303034)" // SAG1030700114004
		zenUpper = "0-0:42.0.0(5A454E31303330373030313134303034)" // ZEN1030700114004
		zenLower = "0-0:42.0.0(5a454e31303330373030313134303034)"
		sag9Hex  = "0-0:42.0.0(53414731303330373030313139393939)"   // SAG1030700119999
		dutch    = "0-0:96.1.1(4530303434303037313331363530363137)" // E0044007131650617
		rawID    = "0-0:96.1.1(E0043007099)"                        // not hex text: the raw value
	)
	type step struct {
		idLine  string // for Observe
		direct  string // when not "", ObserveTelegram with this id instead
		want    []string
		meterID string // the Tracker's meter id after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"same id", []step{
			{idLine: sagHex, meterID: "SAG1030700114004"},
			{idLine: sagHex, meterID: "SAG1030700114004"},
		}},
		{"same id in lower-case hex", []step{
			{idLine: zenUpper, meterID: "ZEN1030700114004"},
			{idLine: zenLower, meterID: "ZEN1030700114004"},
			{idLine: zenUpper, meterID: "ZEN1030700114004"},
		}},
		{"changed", []step{
			{idLine: sagHex, meterID: "SAG1030700114004"},
			{idLine: sag9Hex, want: []string{"meter id changed from SAG1030700114004 to SAG1030700119999: was the meter replaced?"}, meterID: "SAG1030700119999"},
			{idLine: sag9Hex, meterID: "SAG1030700119999"},
		}},
		{"absent for a while", []step{
			{idLine: dutch, meterID: "E0044007131650617"},
			{idLine: "", meterID: "E0044007131650617"},
			{idLine: dutch, meterID: "E0044007131650617"},
		}},
		{"raw id", []step{
			{idLine: rawID, meterID: "E0043007099"},
			{idLine: dutch, want: []string{"meter id changed from E0043007099 to E0044007131650617: was the meter replaced?"}, meterID: "E0044007131650617"},
		}},
		{"ObserveTelegram in between", []step{
			{idLine: sagHex, meterID: "SAG1030700114004"},
			{direct: "SAG1030700119999", want: []string{"meter id changed from SAG1030700114004 to SAG1030700119999: was the meter replaced?"}, meterID: "SAG1030700119999"},
			{idLine: sagHex, want: []string{"meter id changed from SAG1030700119999 to SAG1030700114004: was the meter replaced?"}, meterID: "SAG1030700114004"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr Tracker
			for i, s := range tc.steps {
				var events []Event
				if s.direct != "" {
					events = tr.observeTelegram(0, false, Header{}, s.direct)
				} else {
					m := meterTelegram(t, s.idLine)
					if id := m.Telegram.MeterID(); s.idLine != "" && id != s.meterID {
						t.Fatalf("step %d: the telegram's MeterID is %q, want %q", i, id, s.meterID)
					}
					events = tr.Observe(m)
				}
				var got []string
				for _, e := range events {
					got = append(got, e.String())
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("step %d: events (-want +got):\n%s", i, diff)
				}
				if tr.meterID != s.meterID {
					t.Errorf("step %d: meter id %q, want %q", i, tr.meterID, s.meterID)
				}
			}
		})
	}
}

// TestTrackerObserveAllocs: following a meter frame after frame allocates
// nothing once the Tracker has seen it.
func TestTrackerObserveAllocs(t *testing.T) {
	m := realMessage(t)
	m.Header = Header{SystemTitle: trackTitleA, FrameCounter: 1}
	var tr Tracker
	tr.Observe(m)
	allocs := testing.AllocsPerRun(100, func() {
		m.Header.FrameCounter++
		if events := tr.Observe(m); len(events) != 0 {
			t.Fatalf("events %v", events)
		}
	})
	if allocs != 0 {
		t.Errorf("Observe allocates %v times per telegram, want 0", allocs)
	}
}

func TestTrackerCountsAdd(t *testing.T) {
	a := TrackerCounts{Telegrams: 1, Gaps: 2, Missed: 3, Repeats: 4, StepBacks: 5, TitleChanges: 6, MeterIDChanges: 7}
	b := a
	b.Add(a)
	want := TrackerCounts{Telegrams: 2, Gaps: 4, Missed: 6, Repeats: 8, StepBacks: 10, TitleChanges: 12, MeterIDChanges: 14}
	if b != want {
		t.Errorf("Add gave %+v, want %+v", b, want)
	}
}
