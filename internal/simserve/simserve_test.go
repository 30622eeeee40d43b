package simserve

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/sim"
)

// hangGuard bounds a wait that only ends early when the code works; it is
// not a timing threshold.
const hangGuard = 20 * time.Second

func testGenerator(count int) *Generator {
	start, _ := time.Parse(time.RFC3339, "2025-06-02T06:00:00+02:00")
	return &Generator{
		Meter:  sim.New(sim.Config{Seed: 3, Start: start, Step: 10 * time.Second}),
		Framer: &sim.Framer{SystemTitle: sim.SystemTitle(3), Counter: 1},
		Count:  count,
	}
}

// TestTCPClientsLeave: clients that connect and leave take what they held
// with them: the server forgets them and their goroutines end, while it
// keeps serving (before, each one left a goroutine and a copy of every
// later frame behind: 300 clients, 315 goroutines).
func TestTCPClientsLeave(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCPServer(ln, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	before := runtime.NumGoroutine()
	go func() { done <- s.Serve(ctx, testGenerator(0), time.Millisecond) }()

	const n = 50
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		// Read one frame's first bytes, so that the client is known to
		// have been served, then leave.
		if _, err := io.ReadFull(c, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	deadline := time.Now().Add(hangGuard)
	for s.Clients() > 0 || runtime.NumGoroutine() > before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("after %d clients left: %d still served, %d goroutines (%d before)", n, s.Clients(), runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Still serving: a new client gets frames.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 100)); err != nil {
		t.Fatalf("a client after the others left: %v", err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestGeneratorCount(t *testing.T) {
	g := testGenerator(3)
	var sent int
	err := Pace(context.Background(), g, 0, nil, func(frame []byte) error {
		if len(frame) < 100 {
			t.Errorf("frame of %d bytes", len(frame))
		}
		sent++
		return nil
	})
	if err != nil || sent != 3 || g.Sent() != 3 {
		t.Errorf("Pace = %v after %d frames (Sent %d), want 3", err, sent, g.Sent())
	}
}
