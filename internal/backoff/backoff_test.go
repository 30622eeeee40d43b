package backoff

import (
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"defaults", Backoff{}, []time.Duration{1, 2, 4, 8, 16, 30, 30}},
		{"bounds", Backoff{Min: 2 * time.Second, Max: 5 * time.Second}, []time.Duration{2, 4, 5, 5}},
		{"max below min", Backoff{Min: 3 * time.Second, Max: time.Second}, []time.Duration{3, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, w := range tc.want {
				if got := tc.b.Next(); got != w*time.Second {
					t.Fatalf("wait %d = %v, want %v", i, got, w*time.Second)
				}
			}
			if tc.b.Attempts() != len(tc.want) {
				t.Errorf("Attempts = %d", tc.b.Attempts())
			}
			tc.b.Reset()
			if got := tc.b.Next(); got != tc.want[0]*time.Second {
				t.Errorf("after Reset: %v", got)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, Jitter: 0.2}
	for i := range 10 {
		full := min(time.Second<<i, time.Minute)
		got := b.Next()
		if got > full || got < full-full/5 {
			t.Fatalf("wait %d = %v, want within 20%% below %v", i, got, full)
		}
	}
}
