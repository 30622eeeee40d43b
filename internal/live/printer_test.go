package live

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// message decodes the real telegram sealed under counter.
func message(t *testing.T, counter uint32) *smarty.Message {
	t.Helper()
	m, err := smarty.NewReader(bytes.NewReader(newFramer(t).frame(counter)), testCipher()).Next()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReadingJSON: the JSON is format's, made once however many outputs
// ask for it at once, and the same slice for all of them.
func TestReadingJSON(t *testing.T) {
	m := message(t, 7)
	want := format.AppendMessage(nil, m)
	r := NewReading(m, time.Now())
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for k := range got {
		wg.Go(func() { got[k] = r.JSON() })
	}
	wg.Wait()
	for k := range got {
		if !bytes.Equal(got[k], want) {
			t.Fatalf("JSON() = %s\nwant %s", got[k], want)
		}
		if &got[k][0] != &got[0][0] {
			t.Errorf("call %d made the JSON again", k)
		}
		if cap(got[k]) != len(got[k]) {
			t.Errorf("the shared slice has room to append into")
		}
	}
	if n := testing.AllocsPerRun(10, func() { r.JSON() }); n != 0 {
		t.Errorf("JSON() allocates %v times once made", n)
	}
}

func TestPrinter(t *testing.T) {
	m := message(t, 7)
	tests := []struct {
		kind format.Kind
		want string
	}{
		{format.Text, string(m.Telegram.Bytes())},
		{format.JSON, string(format.AppendMessage(nil, m)) + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			var writes []string
			p := NewPrinter(writerFunc(func(b []byte) (int, error) {
				writes = append(writes, string(b))
				return len(b), nil
			}), tc.kind)
			p.Reading(NewReading(m, time.Now()))
			p.Reading(NewReading(m, time.Now()))
			if len(writes) != 2 || writes[0] != tc.want || writes[1] != tc.want {
				t.Errorf("writes %q, want two of %q, each in one call", writes, tc.want)
			}
		})
	}
	t.Run("a failed write ends Run", func(t *testing.T) {
		writes := 0
		p := NewPrinter(writerFunc(func(b []byte) (int, error) {
			writes++
			return 0, errors.New("broken pipe")
		}), format.JSON)
		p.Reading(NewReading(m, time.Now()))
		p.Reading(NewReading(m, time.Now()))
		err := p.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "writing the telegrams: broken pipe") || writes != 1 {
			t.Errorf("Run = %v after %d writes, want the write's error after one", err, writes)
		}
	})
}
