package mqttpub

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/gcmbaseline"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// BenchmarkBuild measures turning one telegram (the Luxembourg example, 57
// objects) into its messages in the steady state of the live path:
// discovery configs already sent, one message per number, the messages
// built in the memory of the last ones (as Publisher.publish does), and
// the JSON telegram made once by the live loop for all the outputs
// (live.Reading.JSON), which the builder takes as it is.
// BenchmarkBuildOwnJSON is the same when the Publisher makes the JSON
// itself (a backlog, a queue read back from disk), and
// BenchmarkBuildBaselineJSON, beside them, the JSON alone, which
// -format json costs too.
//
//	go test -run '^$' -bench Build -count 6 ./internal/mqttpub
//
// BenchmarkBuildBaselineGCM runs beside them: the bare AES-128-GCM Open of
// the real frame.
func BenchmarkBuild(b *testing.B) { benchBuild(b, true) }

func BenchmarkBuildOwnJSON(b *testing.B) { benchBuild(b, false) }

func benchBuild(b *testing.B, shared bool) {
	data := readFile(&testing.T{}, "../../testdata/lux-spec-example.txt")
	tel, err := dsmr.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Broker: "tcp://x"}
	cfg.setDefaults()
	bl := builder{cfg: &cfg}
	r := Reading{Telegram: data}
	if shared {
		r.JSON = format.AppendJSON(nil, tel, nil)
	}
	id := identityOf(&cfg, tel.MeterID())
	bl.commit(bl.build(tel, &r, &id), r.Received)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var msgs []message // reused, as Publisher.publish does
	for b.Loop() {
		msgs = bl.appendBuild(msgs[:0], tel, &r, &id)
	}
}

func BenchmarkBuildBaselineJSON(b *testing.B) {
	data := readFile(&testing.T{}, "../../testdata/lux-spec-example.txt")
	tel, err := dsmr.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = format.AppendJSON(buf[:0], tel, nil)
	}
}

// BenchmarkBuildBaselineGCM is the bare AES-128-GCM Open of the real
// 647-byte frame (testdata/smarty-2018.bin), run beside the Build
// benchmarks so that their figures read as a ratio to it, whatever the
// machine's speed at the time.
func BenchmarkBuildBaselineGCM(b *testing.B) { gcmbaseline.Benchmark(b, "../../testdata") }

// BenchmarkQueueAddDisk measures what Add costs the reader with a queue
// directory: the record goes to memory, the queue's writer puts it on disk
// on its own goroutine. BenchmarkQueueAddMemory is the same without the
// directory, and BenchmarkDiskAppend the writer's cost for one record (a
// write and an fsync), which Add no longer waits for.
func BenchmarkQueueAddDisk(b *testing.B) {
	q, err := newQueue(1<<30, b.TempDir(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.close()
	benchAdd(b, q)
}

func BenchmarkQueueAddMemory(b *testing.B) {
	q, _ := newQueue(1<<30, "", nil, nil)
	benchAdd(b, q)
}

func benchAdd(b *testing.B, q *queue) {
	r := reading(1)
	rec := appendRecord(nil, &r)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.add(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiskAppend(b *testing.B) {
	q, err := openDiskQueue(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.close()
	r := reading(1)
	recs := []memRec{{b: appendRecord(nil, &r)}}
	b.SetBytes(int64(len(recs[0].b)))
	b.ReportAllocs()
	for b.Loop() {
		if err := q.append(recs); err != nil {
			b.Fatal(err)
		}
		recs[0].seq++
	}
}

// BenchmarkDrain measures how fast a backlog reaches a real Mosquitto with
// its default settings (QoS 1, memory queue, loopback): each op is one
// telegram of 9 messages, published and acknowledged.
// BenchmarkDrainBaselineNoDelay is the same broker with set_tcp_nodelay,
// which removes the broker's delayed small writes that batching works
// around.
func BenchmarkDrain(b *testing.B) { benchDrain(b, "") }

func BenchmarkDrainBaselineNoDelay(b *testing.B) { benchDrain(b, "set_tcp_nodelay true\n") }

func benchDrain(b *testing.B, extra string) {
	broker := mosquittotest.Start(b, mosquittotest.Config{Extra: extra})
	p, err := New(Config{Broker: broker.URL(), QoS: 1, QueueSize: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	r := reading(1)
	// Connect and announce before the clock starts.
	p.Add(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for p.Stats().Published < 1 {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.FrameCounter = uint32(i + 2)
		p.Add(r)
	}
	for p.Stats().Published < uint64(b.N)+1 {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
}
