package mqttpub

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
)

// DefaultReportInterval is how often an Output logs the publisher's
// counts.
const DefaultReportInterval = time.Hour

// Output is the live.Output of a Publisher: it queues every telegram
// (never waiting for the broker), runs the Publisher, logs its counts
// every ReportInterval and at the end, and follows the meter's link.
type Output struct {
	pub *Publisher
	// ReportInterval is how often Run logs the counts; 0 means
	// DefaultReportInterval.
	ReportInterval time.Duration
	link           atomic.Int32 // live.LinkState
}

// NewOutput returns the Output of p.
func NewOutput(p *Publisher) *Output { return &Output{pub: p} }

// Publisher returns the Publisher the Output runs.
func (o *Output) Publisher() *Publisher { return o.pub }

// Reading queues r's telegram, and hands its quarter-hour figures, if
// any, to the Publisher. A queue that fails is logged by the Publisher,
// once; reading goes on.
func (o *Output) Reading(r *live.Reading) {
	m := &r.Message
	o.pub.SetZone(m.Telegram.Location)
	// The JSON is made once for all the outputs (live.Reading.JSON).
	rd := Reading{Telegram: m.Telegram.Bytes(), Encrypted: m.Encrypted, Received: r.Received, JSON: r.JSON()}
	if m.Encrypted {
		rd.SystemTitle = m.Header.SystemTitle
		rd.FrameCounter = m.Header.FrameCounter
	}
	if safe, err := o.pub.add(rd); err == nil && m.Encrypted {
		// "on disk" once a crash would not lose it (or it is
		// delivered already); "in memory" otherwise.
		where := "in memory"
		if safe {
			where = "on disk"
		}
		o.pub.log.Log(context.Background(), levelTrace, fmt.Sprintf("queued telegram, frame counter %d, %s", m.Header.FrameCounter, where))
	}
	o.pub.SetQuarter(r.Quarter) // with -refPower
}

// levelTrace is the level of a line per telegram, below slog.LevelDebug
// (glog's -v 2 in the commands).
const levelTrace = slog.LevelDebug - 4

// Link records the meter's link state (LinkState returns it) and tells
// the Publisher the meter's availability: offline when the link is silent
// or down, online when it is up again (Publisher.MeterOnline).
func (o *Output) Link(s live.LinkState) {
	o.link.Store(int32(s))
	switch s {
	case live.LinkUp:
		o.pub.MeterOnline(true)
	case live.LinkSilent, live.LinkDown:
		o.pub.MeterOnline(false)
	}
}

// LinkState returns the last state Link was given.
func (o *Output) LinkState() live.LinkState { return live.LinkState(o.link.Load()) }

// Run runs the Publisher until ctx is done (see Publisher.Run) and logs
// its counts every ReportInterval and at the end.
func (o *Output) Run(ctx context.Context) error {
	interval := o.ReportInterval
	if interval <= 0 {
		interval = DefaultReportInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	reportCtx, stopReports := context.WithCancel(ctx)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		for {
			select {
			case <-reportCtx.Done():
				return
			case <-t.C:
				o.pub.log.Info(o.pub.Stats().String())
			}
		}
	}()
	err := o.pub.Run(ctx)
	stopReports()
	<-reported
	o.pub.log.Info("at exit: " + o.pub.Stats().String())
	return err
}

// Drain waits until the queue is empty, or ctx is done, or the Publisher
// has stopped.
func (o *Output) Drain(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for o.pub.Stats().Queued > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

var _ live.Drainer = (*Output)(nil)
