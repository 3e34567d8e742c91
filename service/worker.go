package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/etl-dev/etl/engine"
)

// runWorker works RunArgs jobs: one run of one pipeline through the engine.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	s *Server
}

// Timeout follows the pipeline's own timeout attribute: River cancels the
// run past it, and the job is retried.
func (w *runWorker) Timeout(job *river.Job[RunArgs]) time.Duration {
	if p, ok := w.s.byName[job.Args.Pipeline]; ok {
		return p.Serve.Timeout
	}
	return -1
}

// Work runs the pipeline. A run that finds the pipeline's lock held (another
// run, maybe of a job the rescuer made available again while it still runs)
// is snoozed, not failed — or, for a tick with a later tick already waiting,
// dropped as superseded. A failed run returns its error, so River retries
// it with backoff up to the pipeline's max_attempts; a partial run completes
// the job (its rejects are data problems a retry would not mend). A job
// whose run already finished (its process died before River heard of it)
// completes without running again.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	s := w.s
	p, ok := s.byName[job.Args.Pipeline]
	if !ok {
		return river.JobCancel(fmt.Errorf("no pipeline named %q is loaded by this server; every etl serve of a warehouse must serve the same folder", job.Args.Pipeline))
	}
	if !p.Serve.Enabled {
		return river.JobCancel(fmt.Errorf("pipeline %s is disabled (enabled = false)", p.Name))
	}
	if !job.Args.NotBefore.IsZero() {
		if err := waitNotBefore(ctx, job.Args.NotBefore); err != nil {
			return err
		}
	}
	jobID := strconv.FormatInt(job.ID, 10)
	labels := map[string]string{"job": jobID, "trigger": job.Args.Trigger, "attempt": strconv.Itoa(job.Attempt)}
	if !job.Args.Tick.IsZero() {
		labels["tick"] = job.Args.Tick.UTC().Format(time.RFC3339)
	}
	log := s.log.With("pipeline", p.Name, "job", job.ID, "attempt", job.Attempt)
	res, err := p.Run(ctx, s.cfg.Registry, engine.RunOptions{
		WarehouseURL: s.cfg.WarehouseURL,
		Logger:       log,
		Labels:       labels,
		Stop:         s.stopping,
		BeforeStart: func(ctx context.Context, j engine.Journal) error {
			done, err := jobDone(ctx, j, p.Name, jobID)
			if err != nil {
				return err
			}
			if done {
				return engine.ErrSkipRun
			}
			return nil
		},
	})
	switch {
	case res.Locked && !job.Args.Tick.IsZero():
		// Overlap policy: one run of a pipeline at a time and at most one
		// tick waiting for it. A tick that finds the pipeline running while
		// a later tick is already recorded is dropped (superseded), so a
		// pipeline slower than its schedule never builds a backlog.
		superseded, serr := s.q.supersede(ctx, p.Name, job.Args.Tick)
		if serr != nil {
			log.Warn("could not check for a later tick", "error", serr)
		}
		if superseded {
			s.metrics.superseded.WithLabelValues(p.Name).Inc()
			log.Info("tick superseded: the pipeline is still running and a later tick waits", "tick", job.Args.Tick)
			return nil
		}
		fallthrough
	case res.Locked:
		s.metrics.snoozed.WithLabelValues(p.Name).Inc()
		log.Info("pipeline is running elsewhere; job snoozed", "for", s.cfg.Snooze.String())
		return river.JobSnooze(s.cfg.Snooze)
	case errors.Is(err, engine.ErrSkipRun):
		log.Info("this job's run already finished; nothing to do")
		return nil
	case errors.Is(err, engine.ErrStopped):
		s.metrics.observe(p, res)
		log.Info("run stopped by shutdown; the job is retried at once elsewhere", "run", res.RunID)
		return river.JobSnooze(0)
	}
	s.metrics.observe(p, res)
	s.afterWebhookRun(ctx, p)
	if err != nil {
		log.Warn("run failed", "run", res.RunID, "error", err)
		return err
	}
	log.Info("run finished", "run", res.RunID, "status", res.Status, "processed", res.Tally.Processed)
	return nil
}

// jobDone reports whether the sync history holds a finished run (success
// or partial) of this job. It is read under the pipeline's lock, so no run
// of the job can finish meanwhile.
func jobDone(ctx context.Context, j engine.Journal, pipeline, jobID string) (bool, error) {
	runs, err := j.Runs(ctx, engine.HistoryFilter{Pipeline: pipeline, Limit: 200})
	if err != nil {
		return false, fmt.Errorf("read history of %s: %w", pipeline, err)
	}
	for _, r := range runs {
		if fmt.Sprint(r.Metrics["job"]) == jobID && (r.Status == engine.StatusSuccess || r.Status == engine.StatusPartial) {
			return true, nil
		}
	}
	return false, nil
}
