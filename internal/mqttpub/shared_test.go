package mqttpub

import (
	"bytes"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// telegramPayload returns the payload of the <root>/telegram message the
// Publisher builds for the oldest queued telegram.
func telegramPayload(t *testing.T, p *Publisher) []byte {
	t.Helper()
	batch := p.nextBatch(1)
	if len(batch) != 1 {
		t.Fatalf("%d telegrams queued", len(batch))
	}
	p.q.pop(batch[0].seq)
	for _, m := range p.b.build(&p.tel, &batch[0].reading, &batch[0].ident) {
		if m.kind == kindTelegram {
			return m.payload
		}
	}
	t.Fatal("no telegram message")
	return nil
}

// TestSharedJSON: the JSON a Reading brings is published as it is; without
// one the Publisher makes the same, in the zone of the telegrams it was
// given; only the last few are kept.
func TestSharedJSON(t *testing.T) {
	p, err := New(Config{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	shared := []byte(`{"made":"by the live loop"}`)
	r := reading(1)
	r.JSON = shared
	if err := p.Add(r); err != nil {
		t.Fatal(err)
	}
	if got := telegramPayload(t, p); &got[0] != &shared[0] {
		t.Errorf("published %s, not the shared JSON", got)
	}

	// Without: made, in the zone given.
	dublin, err := dsmr.LoadLocation("Europe/Dublin")
	if err != nil {
		t.Fatal(err)
	}
	p.SetZone(dublin)
	r = reading(2)
	if err := p.Add(r); err != nil {
		t.Fatal(err)
	}
	tel, err := dsmr.Parse(r.Telegram)
	if err != nil {
		t.Fatal(err)
	}
	tel.Location = dublin
	want := format.AppendJSON(nil, tel, &format.Envelope{SystemTitle: r.SystemTitle, FrameCounter: r.FrameCounter})
	got := telegramPayload(t, p)
	if !bytes.Equal(got, want) {
		t.Errorf("made\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(string(got), `"timestamp":"2020-07-06T10:00:20+01:00"`) {
		t.Errorf("the telegram's time is not read in Dublin's zone: %s", got)
	}

	// A telegram the same but for its bytes does not take another's JSON,
	// and only the last sharedRing are kept.
	var s sharedJSON
	for n := range sharedRing + 1 {
		r := reading(n)
		r.JSON = []byte{byte('a' + n)}
		s.put(&r)
	}
	r0, r1 := reading(0), reading(1)
	if s.get(&r0) != nil {
		t.Errorf("the oldest of %d was kept", sharedRing+1)
	}
	if got := s.get(&r1); string(got) != "b" {
		t.Errorf("get = %q, want b", got)
	}
	r1.Telegram = reading(2).Telegram
	if got := s.get(&r1); got != nil {
		t.Errorf("another telegram under the same envelope and time got %q", got)
	}
}
