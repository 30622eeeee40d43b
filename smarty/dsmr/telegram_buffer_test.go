package dsmr

import (
	"bytes"
	"os"
	"testing"
)

// A telegram written into Buffer parses in place, exactly as a copy would,
// and without allocating once the buffer is big enough.
func TestBufferParsesInPlace(t *testing.T) {
	text, err := os.ReadFile("../../testdata/lux-spec-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	var copied, inPlace Telegram
	if err := copied.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	buf := append(inPlace.Buffer(len(text)), text...)
	if err := inPlace.UnmarshalText(buf); err != nil {
		t.Fatal(err)
	}
	if &inPlace.Bytes()[0] != &buf[0] {
		t.Error("UnmarshalText copied a telegram that was already in its buffer")
	}
	if !bytes.Equal(inPlace.Bytes(), copied.Bytes()) || len(inPlace.Objects()) != len(copied.Objects()) {
		t.Fatal("parsing in place gave another result")
	}
	for i, o := range copied.Objects() {
		p := inPlace.Objects()[i]
		if o.OBIS != p.OBIS || len(o.Values) != len(p.Values) || o.Values[len(o.Values)-1].String() != p.Values[len(p.Values)-1].String() {
			t.Fatalf("object %d: %v, in place %v", i, o, p)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		b := append(inPlace.Buffer(len(text)), text...)
		if err := inPlace.UnmarshalText(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per parse in place, want 0", allocs)
	}
	// A shorter telegram in the same buffer, then a slice that only
	// shares the memory from its middle, which must be copied.
	short := []byte("/ABC5\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!\r\n")
	if err := inPlace.UnmarshalText(append(inPlace.Buffer(len(short)), short...)); err != nil {
		t.Fatal(err)
	}
	mid := append(inPlace.Buffer(2*len(short)), "xx"...)
	mid = append(mid, short...)
	if err := inPlace.UnmarshalText(mid[2:]); err != nil {
		t.Fatal(err)
	}
	if string(inPlace.Bytes()) != string(short) {
		t.Errorf("Bytes() = %q", inPlace.Bytes())
	}
}
