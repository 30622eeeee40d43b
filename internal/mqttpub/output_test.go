package mqttpub

import (
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

// TestOutputLink: the meter's availability follows the link the loop
// reports.
func TestOutputLink(t *testing.T) {
	p, err := New(Config{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOutput(p)
	for _, tc := range []struct {
		s    live.LinkState
		want int32
	}{
		{live.LinkWaiting, meterUnknown},
		{live.LinkUp, meterOnline},
		{live.LinkSilent, meterOffline},
		{live.LinkUp, meterOnline},
		{live.LinkDown, meterOffline},
	} {
		o.Link(tc.s)
		if got := p.meter.Load(); got != tc.want || o.LinkState() != tc.s {
			t.Errorf("after %v: meter state %d, link %v; want %d, %v", tc.s, got, o.LinkState(), tc.want, tc.s)
		}
	}
}
