package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RunOptions are the knobs of one run (the `etl run` flags).
type RunOptions struct {
	DryRun    bool   // read, map and check, but write nothing and open no warehouse
	Limit     int    // stop after this many source records; 0: no limit
	BatchSize int    // overrides the pipeline's batch_size when > 0
	Since     string // overrides the saved cursor: a value of the cursor's type (CursorKind)
	// Until bounds a backfill: records whose cursor is after it are skipped,
	// and the run saves no cursor (the saved one stays where it was).
	Until       string
	FullRefresh bool // ignore the saved cursor and read everything
	// WarehouseURL overrides the sink's url and ETL_WAREHOUSE_URL.
	WarehouseURL string
	// WarehouseRetry overrides the pipeline's warehouse_retry when > 0;
	// negative: no retry.
	WarehouseRetry time.Duration
	// LockWait is how long to wait for another run of the pipeline to
	// release its lock before giving up; 0 gives up at once. (A run killed a
	// moment ago can hold its lock until the server notices it is gone.)
	LockWait time.Duration
	Logger   *slog.Logger
	// Progress, when set, is called after each batch from the run's goroutine.
	Progress func(Progress)
	// Getenv reads ETL_WAREHOUSE_URL; os.Getenv by default.
	Getenv func(string) string

	replay *replaySource // set by Replay: the run reads the stored rejects

	// For etl serve (service/):
	// Labels are stored in the run's performance_metrics from its start
	// (which scheduled tick or trigger started it).
	Labels map[string]string
	// BeforeStart, when set, is called once the pipeline's lock is held and
	// before the run is recorded; an error ends the run with no history row
	// (ErrSkipRun: there is nothing to do).
	BeforeStart func(ctx context.Context, j Journal) error
	// Stop, when closed, ends the run gracefully: reading stops, the batches
	// already read land with their cursor, and the run ends failed with
	// ErrStopped.
	Stop <-chan struct{}
}

// ErrSkipRun is returned by a RunOptions.BeforeStart that finds the run
// needless; Run returns it as is.
var ErrSkipRun = errors.New("run skipped")

// ErrStopped is the error of a run ended through RunOptions.Stop.
var ErrStopped = errors.New("stopped: the server is shutting down; the batches read so far landed")

// Progress is a run's state after a batch.
type Progress struct {
	Tally   Tally
	Batches int
	Elapsed time.Duration
	// SourceDone and SourceTotal are how far the source has read, in its
	// own unit (bytes of a CSV file, records an API reported); SourceTotal
	// is 0 when the source cannot tell.
	SourceDone, SourceTotal int64
}

// ETA estimates the time left from the source's progress; ok is false when
// the source does not report its size.
func (p Progress) ETA() (left time.Duration, ok bool) {
	if p.SourceTotal <= 0 || p.SourceDone <= 0 || p.Elapsed <= 0 {
		return 0, false
	}
	if p.SourceDone >= p.SourceTotal {
		return 0, true
	}
	rest := float64(p.SourceTotal-p.SourceDone) / float64(p.SourceDone)
	return time.Duration(rest * float64(p.Elapsed)), true
}

// Result is the outcome of a run.
type Result struct {
	RunID    int64
	Pipeline string
	Status   Status
	Tally    Tally
	Valid    int64 // dry run: rows that would have been loaded
	Started  time.Time
	Finished time.Time
	Target   string // where the data went: warehouse and table
	Cursor   *Cursor
	Err      error // why the run failed; nil unless Status is failed
	// Counters are what the source counted besides records (ReadOptions.Count).
	Counters map[string]int64
	// Categories counts the records the run refused, new or already
	// rejected, by category.
	Categories map[RejectCategory]int64
	// Mode is RunModeReplay for a replay (Pipeline.Replay), else RunModeRun.
	Mode string
	// Locked is true when the run did not start because another run of the
	// pipeline held its lock (after RunOptions.LockWait).
	Locked bool
	// Notes say what the run changed in the table's shape (columns added,
	// types widened), for its summary.
	Notes []string
	// Warnings are what a successful run asks a person to look at: a full
	// read of no records while the table holds rows, deletes refused by
	// max_delete_share, columns added with NULL in the existing rows.
	Warnings []string
	// Absent lists the record fields the map reads ("record.email2") that
	// no record of the run had: their columns landed NULL throughout. Each
	// is also logged as a warning and kept in the history's metrics.
	Absent []string
}

// countCategories adds the categories of the records b refused, the
// database's among them (c), to r.Categories.
func (r *Result) countCategories(b Batch, c Counts) {
	for cat, n := range b.Categories(c.Failed + c.KnownFailed) {
		if r.Categories == nil {
			r.Categories = map[RejectCategory]int64{}
		}
		r.Categories[cat] += n
	}
}

// Duration is how long the run took.
func (r *Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// DefaultWarehouseURL is where data lands when neither the sink nor
// ETL_WAREHOUSE_URL names a warehouse: an SQLite file in the working directory.
const DefaultWarehouseURL = "sqlite://etl.db"

// WarehouseURL resolves where a pipeline's data lands: the sink's url, else
// ETL_WAREHOUSE_URL, else DefaultWarehouseURL.
func (p *Pipeline) WarehouseURL(getenv func(string) string) string {
	if p.Sink.URL != "" {
		return p.Sink.URL
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if u := getenv("ETL_WAREHOUSE_URL"); u != "" {
		return u
	}
	return DefaultWarehouseURL
}

// OpenWarehouse opens the warehouse at rawURL with the driver its scheme
// names; a bare path is an SQLite file. kind is the sink block's label:
// "warehouse" accepts any driver, a driver name insists on that driver.
func (r *Registry) OpenWarehouse(ctx context.Context, kind, rawURL string) (Warehouse, error) {
	d, u, err := r.sinkDriver(kind, rawURL)
	if err != nil {
		return nil, err
	}
	return d.Open(ctx, u)
}

// InspectWarehouse is OpenWarehouse for looking only (etl plan): a driver
// with an Inspect function creates nothing that does not exist yet.
func (r *Registry) InspectWarehouse(ctx context.Context, kind, rawURL string) (Warehouse, error) {
	d, u, err := r.sinkDriver(kind, rawURL)
	if err != nil {
		return nil, err
	}
	if d.Inspect != nil {
		return d.Inspect(ctx, u)
	}
	return d.Open(ctx, u)
}

// sinkDriver finds the driver for rawURL's scheme and normalizes the URL.
func (r *Registry) sinkDriver(kind, rawURL string) (SinkDriver, string, error) {
	scheme := "sqlite"
	if i := strings.Index(rawURL, ":"); i > 0 && !strings.ContainsAny(rawURL[:i], `/\.`) {
		scheme = strings.ToLower(rawURL[:i])
	}
	d, ok := r.sinks[scheme]
	if !ok {
		return SinkDriver{}, "", fmt.Errorf("open warehouse: no sink serves %q URLs (known: %s)", scheme, strings.Join(sortedKeys(r.sinks), ", "))
	}
	if kind != "" && kind != "warehouse" && kind != d.Name {
		return SinkDriver{}, "", fmt.Errorf("open warehouse: the sink is %q but the URL is a %s URL", kind, d.Name)
	}
	if scheme == "sqlite" && !strings.HasPrefix(rawURL, "sqlite:") {
		rawURL = "sqlite:" + rawURL
	}
	return d, rawURL, nil
}

// errLimit stops a source once --limit records were read.
var errLimit = errors.New("limit reached")

// Run streams the source through map and checks into the sink, recording
// the run in the sync history. It returns the result and, when the run
// failed, the error (also in Result.Err). Secrets never appear in either.
func (p *Pipeline) Run(ctx context.Context, reg *Registry, opts RunOptions) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = p.redactLogger(log)
	res := &Result{Pipeline: p.Name, Started: time.Now(), Status: StatusFailed, Mode: RunModeRun}
	if opts.replay != nil {
		res.Mode = RunModeReplay
	}
	err := p.run(ctx, reg, opts, log, res)
	res.Finished = time.Now()
	if err != nil {
		res.Status = StatusFailed
		if errors.Is(err, ErrSkipRun) || errors.Is(err, ErrStopped) {
			res.Err = err // our own sentinels: no secret in them
			return res, err
		}
		res.Err = errors.New(p.Redact(err.Error()))
		return res, res.Err
	}
	return res, nil
}

func (p *Pipeline) run(ctx context.Context, reg *Registry, opts RunOptions, log *slog.Logger, res *Result) (err error) {
	table := p.Sink.Table
	// A bad window is the caller's mistake: refused before the warehouse
	// is opened or the run recorded.
	sinceOpt, until, err := p.window(opts)
	if err != nil {
		return err
	}
	var wh Warehouse
	if !opts.DryRun {
		u := p.WarehouseURL(opts.Getenv)
		if opts.WarehouseURL != "" {
			u = opts.WarehouseURL
		}
		wh, err = reg.OpenWarehouse(ctx, p.Sink.Kind, u)
		if err != nil {
			return err
		}
		defer wh.Close()
		if rc, ok := wh.(Reconnecting); ok {
			rc.RetryFor(p.warehouseRetry(opts), log)
		}
		name := table.QualifiedName()
		if tn, ok := wh.(TableNamer); ok {
			name = tn.TableName(table)
		}
		res.Target = wh.Describe() + " table " + name
		if err := wh.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate warehouse: %w", err)
		}
		var unlock func() error
		unlock, err = lockWithin(ctx, wh, p.Name, opts.LockWait)
		if errors.Is(err, ErrLocked) {
			res.Locked = true
			return fmt.Errorf("pipeline %s is already running (another etl run has held its lock for %s); wait for it to finish", p.Name, opts.LockWait)
		}
		if err != nil {
			return fmt.Errorf("lock pipeline %s: %w", p.Name, err)
		}
		defer unlock()
		if opts.BeforeStart != nil {
			if err := opts.BeforeStart(ctx, wh); err != nil {
				return err
			}
		}
		var labels map[string]any
		for k, v := range opts.Labels {
			if labels == nil {
				labels = map[string]any{}
			}
			labels[k] = v
		}
		start := Run{
			Pipeline: p.Name, System: p.System, Entity: p.Entity,
			Endpoint: p.describeSource(), Started: time.Now(), // after any wait for the lock
			Status: StatusRunning, Config: p.Config, Metrics: labels, Environment: p.Environment,
		}
		if opts.replay != nil {
			if err := opts.replay.load(ctx, wh); err != nil {
				return err
			}
			start.Mode, start.Endpoint = RunModeReplay, opts.replay.Describe()
		}
		res.RunID, err = wh.StartRun(ctx, start)
		if err != nil {
			return fmt.Errorf("record run start: %w", err)
		}
		// Whatever happens below, the run's row is finished.
		defer func() {
			fin := Run{ID: res.RunID, Finished: time.Now(), Status: res.Status, Tally: res.Tally, Categories: res.Categories, Metrics: map[string]any{
				"duration_ms":        time.Since(res.Started).Milliseconds(),
				"records_per_second": rate(res.Tally.Processed, time.Since(res.Started)),
				"batch_size":         p.batchSize(opts),
			}}
			if res.Cursor != nil {
				fin.Metrics["cursor"] = res.Cursor.String()
			}
			if len(res.Warnings) > 0 {
				fin.Metrics["warnings"] = res.Warnings
				fin.Error = "warning: " + strings.Join(res.Warnings, "; ")
			}
			if len(res.Counters) > 0 {
				fin.Metrics["counters"] = res.Counters
			}
			if len(res.Absent) > 0 {
				fin.Metrics["absent_fields"] = res.Absent
			}
			for k, v := range labels {
				fin.Metrics[k] = v
			}
			if rc, ok := wh.(Reconnecting); ok && rc.Reconnects() > 0 {
				fin.Metrics["warehouse_retries"] = rc.Reconnects()
			}
			if err != nil {
				fin.Status = StatusFailed
				fin.Error = p.Redact(err.Error())
			}
			if ferr := wh.FinishRun(context.WithoutCancel(ctx), fin); ferr != nil && err == nil {
				err = fmt.Errorf("record run end: %w", ferr)
			}
		}()
		table.RunID = res.RunID
	} else {
		res.Target = "nowhere (dry run)"
	}

	var since any
	if opts.replay == nil {
		if since, err = p.startCursor(ctx, wh, opts, sinceOpt); err != nil {
			return err
		}
	}
	if since != nil {
		log.Info("incremental run", "pipeline", p.Name, "since", Cursor{Value: since}.String())
	}
	if until != nil {
		log.Info("windowed run: the saved cursor does not move", "pipeline", p.Name, "until", Cursor{Value: until}.String())
	}

	if wh != nil {
		if err := wh.Prepare(ctx, table); err != nil {
			return fmt.Errorf("prepare table %s: %w", table.QualifiedName(), err)
		}
		if sn, ok := wh.(SchemaNoter); ok {
			res.Notes = sn.SchemaNotes(table)
		}
		defer func() {
			ok := err == nil
			if ferr := wh.Finish(context.WithoutCancel(ctx), table, ok); ferr != nil && err == nil {
				err = fmt.Errorf("finish table %s: %w", table.QualifiedName(), ferr)
			}
			if d, can := wh.(NewTableDropper); can && !ok {
				// A run that landed nothing leaves no new, empty table.
				if _, derr := d.DropIfNew(context.WithoutCancel(ctx), table); derr != nil {
					log.Warn("could not drop the empty table this failed run created", "error", p.Redact(derr.Error()))
				}
			}
		}()
	}
	return p.stream(ctx, wh, table, since, until, opts, log, res)
}

// lockWithin takes the pipeline's lock, trying again for up to wait while
// another run holds it.
func lockWithin(ctx context.Context, wh Warehouse, pipeline string, wait time.Duration) (func() error, error) {
	deadline := time.Now().Add(wait)
	for {
		unlock, err := wh.Lock(ctx, pipeline)
		if !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(200*time.Millisecond, time.Until(deadline))):
		}
	}
}

func (p *Pipeline) batchSize(opts RunOptions) int {
	if opts.BatchSize > 0 {
		return opts.BatchSize
	}
	return p.BatchSize
}

func (p *Pipeline) warehouseRetry(opts RunOptions) time.Duration {
	if opts.WarehouseRetry != 0 {
		return max(opts.WarehouseRetry, 0)
	}
	return p.WarehouseRetry
}

func (p *Pipeline) describeSource() string {
	if d, ok := p.Source.(Describer); ok {
		return p.Redact(d.Describe())
	}
	return p.SourceKind
}

// startCursor is the run's lower bound: since (--since, parsed by
// window), else the saved cursor (unless --full-refresh), else nil.
func (p *Pipeline) startCursor(ctx context.Context, wh Warehouse, opts RunOptions, since any) (any, error) {
	if p.Cursor == nil {
		return nil, nil
	}
	if since != nil {
		return since, nil
	}
	if opts.FullRefresh || wh == nil {
		return nil, nil
	}
	c, err := wh.State(ctx, p.Name)
	if err != nil {
		return nil, fmt.Errorf("read saved cursor: %w", err)
	}
	if c == nil {
		return nil, nil
	}
	return c.Value, nil
}

// ParseSince reads a --since value: a date or timestamp (naive ones in loc),
// else an integer, else the string itself.
func ParseSince(s string, loc *time.Location) (any, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		l := loc
		if layout == time.RFC3339Nano {
			l = time.UTC
		}
		if t, err := time.ParseInLocation(layout, s, l); err == nil {
			return t.UTC(), nil
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err == nil && fmt.Sprint(n) == s {
		return n, nil
	}
	return s, nil
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// sourceBatch is a slice of records on their way from the source.
type sourceBatch struct {
	records []Record
}

// stream runs the three stages — read, transform, write — as goroutines
// joined by channels, so reading the next batch overlaps mapping and loading
// the last one.
func (p *Pipeline) stream(ctx context.Context, wh Warehouse, table Table, since, until any, opts RunOptions, log *slog.Logger, res *Result) error {
	// ctx ends every stage (a write failed, or the caller gave up); readCtx
	// ends only reading, so on an abort check the batches already mapped
	// still land.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	var stopped atomic.Bool
	if opts.Stop != nil {
		go func() {
			select {
			case <-opts.Stop:
				stopped.Store(true)
				cancelRead()
			case <-ctx.Done():
			}
		}()
	}
	size := p.batchSize(opts)
	var src Source = p.Source
	if opts.replay != nil {
		src = opts.replay
	}
	ordered := false
	if o, ok := src.(CursorOrdered); ok {
		ordered = o.CursorOrdered()
	}

	// Deletes: a complete read of everything (no cursor, limit or window,
	// not a replay) may delete at its end the rows it did not see.
	// A source of deliveries (webhooks) reads only what is new: never a
	// full read, so neither deletes nor the empty-read warning apply.
	_, delivered := p.Source.(Receiver)
	fullRead := since == nil && until == nil && opts.Limit == 0 && opts.replay == nil && !delivered
	dt, err := p.newDeleteTracker(ctx, wh, table, fullRead)
	if err != nil {
		return err
	}
	if dt != nil {
		defer dt.forget(context.WithoutCancel(ctx), log)
	}

	// Stage 1: read.
	var srcDone, srcTotal atomic.Int64
	var countMu sync.Mutex
	counters := map[string]int64{}
	defer func() {
		countMu.Lock()
		defer countMu.Unlock()
		if len(counters) > 0 {
			res.Counters = counters
		}
	}()
	raw := make(chan sourceBatch, 1)
	readErr := make(chan error, 1)
	batcher := newBatcher(readCtx, raw, size, maxBatchWait)
	go func() {
		defer close(raw)
		defer batcher.stop()
		n := 0
		ropts := ReadOptions{Since: since, Location: p.Location, Logger: log, Progress: func(done, total int64) {
			srcDone.Store(done)
			srcTotal.Store(total)
		}, Count: func(name string, n int64) {
			countMu.Lock()
			counters[name] += n
			countMu.Unlock()
		}}
		if st, ok := wh.(SourceStateStore); ok {
			ropts.State = redactingState{st.SourceState(p.Name), p.redactor}
		}
		if ib, ok := wh.(InboxStore); ok {
			ropts.Inbox = ib.Inbox(p.Name)
		}
		err := src.Read(readCtx, ropts, func(r Record) error {
			if opts.Limit > 0 && n >= opts.Limit {
				return errLimit
			}
			n++
			return batcher.add(r)
		})
		if errors.Is(err, errLimit) {
			err = nil
		}
		if err == nil {
			err = batcher.flush()
		}
		if err != nil {
			err = fmt.Errorf("source %s: %w", p.SourceKind, err)
		}
		readErr <- err
	}()

	// Stage 2: transform.
	type work struct {
		batch   Batch
		tally   Tally
		max     any    // largest cursor in this batch and before
		deleted []bool // deleted[i]: the map's deleted condition held for row i
	}
	out := make(chan work, 1)
	transErr := make(chan error, 1)
	go func() {
		defer close(out)
		pool := newTransformPool(p, since, transformWorkers())
		pool.setUntil(until)
		ncols := len(p.Columns)
		var max any
		warnLogged := 0
		for sb := range raw {
			w := work{batch: Batch{RunID: res.RunID, Pipeline: p.Name,
				Rows:    make([][]any, 0, len(sb.records)),
				Origins: make([]*Record, 0, len(sb.records))}}
			vals := make([]any, len(sb.records)*ncols)
			results, err := pool.apply(sb.records, vals)
			if err != nil {
				transErr <- err
				cancelRead()
				for range raw { // let the reader finish
				}
				return
			}
			for i := range sb.records {
				rec := &sb.records[i]
				row := vals[i*ncols : (i+1)*ncols : (i+1)*ncols]
				r := results[i]
				if rec.InboxID != 0 {
					w.batch.Inbox = append(w.batch.Inbox, rec.InboxID)
				}
				if r.cursor != nil {
					if max == nil {
						max = r.cursor
					} else if c, err := compareCursor(r.cursor, max); err == nil && c > 0 {
						max = r.cursor
					}
				}
				switch r.out {
				case outSkip:
					w.tally.Skipped++
					continue
				case outReject:
					w.tally.Processed++
					w.tally.Rejected++
					w.batch.Rejects = append(w.batch.Rejects, r.reject)
					continue
				}
				w.tally.Processed++
				if len(r.warns) > 0 {
					w.tally.Warned++
					if warnLogged < 20 {
						warnLogged++
						for _, c := range r.warns {
							log.Warn("check failed", "check", c.Name, "message", c.Message, "at", rec.Pos.String())
						}
					}
				}
				w.batch.Rows = append(w.batch.Rows, row)
				w.batch.Origins = append(w.batch.Origins, rec)
				if p.Deleted != nil {
					w.deleted = append(w.deleted, r.deleted)
				}
				if opts.replay != nil {
					w.batch.Resolve = append(w.batch.Resolve, opts.replay.id(rec))
				}
			}
			w.max = max
			select {
			case out <- w:
			case <-ctx.Done():
				transErr <- nil
				return
			}
		}
		res.Absent = pool.absent(log)
		transErr <- nil
	}()

	// Stage 3: write, here.
	var writeErr error
	var best any = since
	batches := 0
	for w := range out {
		if writeErr != nil {
			continue // drain
		}
		if w.max != nil && ordered && until == nil && newer(w.max, best) {
			best = w.max
			w.batch.State = &Cursor{Value: best}
		}
		var c Counts
		w.batch.Tally = w.tally
		w.batch.pipeline = p
		if wh != nil {
			if !w.batch.Empty() {
				c, writeErr = wh.Write(ctx, table, w.batch)
				if writeErr != nil {
					writeErr = fmt.Errorf("sink %s: %w", table.QualifiedName(), writeErr)
					cancel()
					continue
				}
			}
		} else {
			res.Valid += int64(len(w.batch.Rows))
		}
		if w.batch.State != nil {
			res.Cursor = w.batch.State
		}
		if !ordered && w.max != nil {
			best = w.max
		}
		batches++
		res.Tally = res.Tally.Add(w.batch.Landed(c))
		res.countCategories(w.batch, c)
		if dt != nil {
			n, err := dt.afterWrite(ctx, w.batch.Rows, w.deleted)
			if err != nil {
				writeErr = fmt.Errorf("sink %s: %w", table.QualifiedName(), err)
				cancel()
				continue
			}
			res.Tally.Deleted += n
		}
		t := &res.Tally
		if p.MaxRejects.exceeded(t.Rejected+t.Failed, t.Processed, false) {
			writeErr = budgetError(p.MaxRejects, t.Rejected+t.Failed, t.Processed)
			cancel()
		}
		if opts.Progress != nil {
			opts.Progress(Progress{Tally: *t, Batches: batches, Elapsed: time.Since(res.Started),
				SourceDone: srcDone.Load(), SourceTotal: srcTotal.Load()})
		}
	}
	rerr := <-readErr
	terr := <-transErr
	switch {
	case terr != nil:
		return terr
	case writeErr != nil:
		return writeErr
	case rerr != nil && stopped.Load() && errors.Is(rerr, context.Canceled):
		return ErrStopped
	case rerr != nil:
		if ctx.Err() != nil && errors.Is(rerr, context.Canceled) {
			return fmt.Errorf("interrupted: %w", rerr)
		}
		return rerr
	}

	if bad := res.Tally.Rejected + res.Tally.Failed; p.MaxRejects.exceeded(bad, res.Tally.Processed, true) {
		return budgetError(p.MaxRejects, bad, res.Tally.Processed)
	}

	// The whole source was read and landed. An unordered source's cursor is
	// saved only now, so an interrupted run never skips a record.
	if !ordered && wh != nil && best != nil && newer(best, since) && opts.Limit == 0 && until == nil && opts.replay == nil {
		st := &Cursor{Value: best}
		if _, err := wh.Write(ctx, table, Batch{RunID: res.RunID, Pipeline: p.Name, State: st}); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		res.Cursor = st
	}
	if err := p.finishDeletes(ctx, dt, wh, table, fullRead, res, log); err != nil {
		return err
	}
	res.Status = StatusSuccess
	if res.Tally.Rejected+res.Tally.Failed > 0 {
		res.Status = StatusPartial
	}
	return nil
}

// newer reports whether cursor a is after b (b nil: always).
func newer(a, b any) bool {
	if b == nil {
		return true
	}
	c, err := compareCursor(a, b)
	return err == nil && c > 0
}
