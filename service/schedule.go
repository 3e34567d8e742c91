package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/etl-dev/etl/engine"
)

// tickSchedule is a pipeline's schedule as River's periodic job enqueuer
// sees it. River calls Next(now) when a process becomes leader, then
// Next(previous fire time) after each fire; the constructor runs between the
// two and reads the fire time being fired from pending.
//
// The policy for missed ticks lives here: when River (re)starts the
// schedule — a process became leader — the first fire time offered is the
// latest one due (Prev(now)), so a tick missed while no leader ran is run
// once; etl_ticks makes it a no-op when it had already run. Older missed
// ticks are skipped.
type tickSchedule struct {
	s *engine.Schedule

	mu      sync.Mutex
	pending time.Time // the fire time River will fire next
}

func (t *tickSchedule) Next(cur time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n time.Time
	if !t.pending.IsZero() && cur.Equal(t.pending) {
		n = t.s.Next(cur) // the tick just fired: on to the next
	} else if n = t.s.Prev(cur); n.IsZero() {
		n = t.s.Next(cur) // (re)started: catch up the latest due tick
	}
	t.pending = n
	return n
}

func (t *tickSchedule) firing() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// ticker writes the ticks River fires into etl_ticks with their jobs. The
// periodic job constructors must not block, so they hand each tick to it;
// it writes what arrived together in one transaction.
type ticker struct {
	q   queue
	log *slog.Logger
	in  chan Tick
	// fired, when set, is told of each tick once recorded (benchmarks, tests).
	fired func(t Tick, recorded bool)
}

func newTicker(q queue, log *slog.Logger) *ticker {
	return &ticker{q: q, log: log, in: make(chan Tick, 4096)}
}

// periodicJob is p's periodic job for River: its constructor hands the tick
// to the ticker and inserts nothing itself.
func (tk *ticker) periodicJob(p *engine.Pipeline) *river.PeriodicJob {
	ts := &tickSchedule{s: p.Serve.Schedule}
	return river.NewPeriodicJob(ts, func() (river.JobArgs, *river.InsertOpts) {
		t := Tick{Pipeline: p.Name, Time: ts.firing(), MaxAttempts: p.Serve.MaxAttempts}
		select {
		case tk.in <- t:
		default:
			tk.log.Error("tick dropped: the tick writer is behind", "pipeline", p.Name, "tick", t.Time)
		}
		return nil, nil
	}, nil)
}

// run writes ticks until ctx ends.
func (tk *ticker) run(ctx context.Context) {
	for {
		var batch []Tick
		select {
		case <-ctx.Done():
			return
		case t := <-tk.in:
			batch = append(batch, t)
		}
	more:
		for len(batch) < 500 {
			select {
			case t := <-tk.in:
				batch = append(batch, t)
			default:
				break more
			}
		}
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if _, err = tk.q.insertTicks(ctx, batch); err == nil || ctx.Err() != nil {
				break
			}
			tk.log.Warn("record ticks failed; retrying", "error", err, "ticks", len(batch))
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
			}
		}
		if err != nil {
			tk.log.Error("ticks not recorded", "error", err, "ticks", len(batch))
		}
		if tk.fired != nil {
			for _, t := range batch {
				tk.fired(t, err == nil)
			}
		}
	}
}
