package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/etl-dev/etl/engine"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver River's SQLite driver uses
)

// RunArgs is the one job kind: run a pipeline once.
type RunArgs struct {
	Pipeline string `json:"pipeline"`
	// Tick is the scheduled fire time that made the job; zero for a trigger.
	Tick time.Time `json:"tick,omitzero"`
	// Trigger says who asked: "schedule", "manual" or "webhook".
	Trigger string `json:"trigger"`
	// NotBefore (webhook runs) is the end of the delivery bucket the job
	// serves: the run waits until it, plus storeDeadline, has passed.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// Kind is the River job kind.
func (RunArgs) Kind() string { return "etl_run_pipeline" }

// Tick is one scheduled fire time of one pipeline.
type Tick struct {
	Pipeline    string
	Time        time.Time
	MaxAttempts int
}

// queue is River on one warehouse, whichever its driver: the client, and
// the few statements of the engine's own that go with it (durable ticks,
// queue depth).
type queue interface {
	client() riverClient
	// insertTicks records each tick in etl_ticks and inserts its job, in
	// one transaction; a tick already recorded is left alone. It returns
	// how many ticks were new.
	insertTicks(ctx context.Context, ticks []Tick) (int, error)
	// trigger inserts a manual run unless one is already waiting or running.
	trigger(ctx context.Context, pipeline string, maxAttempts int) (jobID int64, duplicate bool, err error)
	// accept stores a delivery's records in the pipeline's inbox (a
	// record whose dedupe key is known is left out) and, when any was new,
	// enqueues the run of its bucket, in one transaction. It returns how
	// many records were new.
	accept(ctx context.Context, pipeline string, recs []engine.DeliveredRecord, notBefore time.Time, maxAttempts int) (int, error)
	// enqueueAfter enqueues a run that starts after notBefore, unless the
	// same bucket's run is already enqueued.
	enqueueAfter(ctx context.Context, pipeline, trigger string, notBefore time.Time, maxAttempts int) (jobID int64, duplicate bool, err error)
	// pruneInbox deletes the pipeline's processed deliveries received
	// before before; it returns how many.
	pruneInbox(ctx context.Context, pipeline string, before time.Time) (int64, error)
	// supersede marks pipeline's tick at fire superseded when a later tick
	// of the pipeline is recorded, and reports whether it did.
	supersede(ctx context.Context, pipeline string, fire time.Time) (bool, error)
	// depth is how many jobs wait to run, and how long the oldest has waited.
	depth(ctx context.Context) (n int64, oldest time.Duration, err error)
	db() *sql.DB
	close()
}

// riverClient is what the server needs of a river.Client, whatever its
// transaction type.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	PeriodicJobs() *river.PeriodicJobBundle
	ID() string
}

// QueueOptions configure the River client of a queue.
type QueueOptions struct {
	Workers     int           // jobs run at once by this process; 0: no worker (insert only)
	RescueAfter time.Duration // a job running longer is rescued (see Config.RescueAfter)
	// Work is the worker of RunArgs jobs; nil with Workers 0.
	Work   river.Worker[RunArgs]
	Logger *slog.Logger // River's own log lines
}

// queueName is the River queue every run job goes to.
const queueName = "etl"

type riverQueue[TTx any] struct {
	c       *river.Client[TTx]
	sqlDB   *sql.DB
	begin   func(ctx context.Context) (TTx, error)
	exec    func(ctx context.Context, tx TTx, q string, args ...any) (int64, error)
	commit  func(ctx context.Context, tx TTx) error
	abort   func(ctx context.Context, tx TTx)
	timeArg func(time.Time) any
	depthQ  string
	closeFn func()
}

func (q *riverQueue[TTx]) client() riverClient { return q.c }
func (q *riverQueue[TTx]) db() *sql.DB         { return q.sqlDB }
func (q *riverQueue[TTx]) close()              { q.closeFn() }

func (q *riverQueue[TTx]) insertTicks(ctx context.Context, ticks []Tick) (int, error) {
	tx, err := q.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("record ticks: begin: %w", err)
	}
	defer q.abort(ctx, tx)
	n := 0
	now := q.timeArg(time.Now())
	for _, t := range ticks {
		fire := q.timeArg(t.Time)
		added, err := q.exec(ctx, tx, `INSERT INTO etl_ticks (pipeline, fire_time, job_id, enqueued_at) VALUES ($1, $2, 0, $3)
			ON CONFLICT (pipeline, fire_time) DO NOTHING`, t.Pipeline, fire, now)
		if err != nil {
			return 0, fmt.Errorf("record tick %s of %s: %w", t.Time.Format(time.RFC3339), t.Pipeline, err)
		}
		if added == 0 {
			continue // another process, or an earlier leader, enqueued this tick
		}
		res, err := q.c.InsertTx(ctx, tx, RunArgs{Pipeline: t.Pipeline, Tick: t.Time.UTC(), Trigger: "schedule"}, &river.InsertOpts{
			// No ScheduledAt: River inserts a job with one as "scheduled",
			// which waits for its scheduler's next pass (seconds); the tick
			// is due now, and its time is in the args.
			Queue: queueName, MaxAttempts: t.MaxAttempts,
		})
		if err != nil {
			return 0, fmt.Errorf("enqueue tick %s of %s: %w", t.Time.Format(time.RFC3339), t.Pipeline, err)
		}
		if _, err := q.exec(ctx, tx, `UPDATE etl_ticks SET job_id = $1 WHERE pipeline = $2 AND fire_time = $3`, res.Job.ID, t.Pipeline, fire); err != nil {
			return 0, fmt.Errorf("record tick %s of %s: %w", t.Time.Format(time.RFC3339), t.Pipeline, err)
		}
		n++
	}
	if err := q.commit(ctx, tx); err != nil {
		return 0, fmt.Errorf("record ticks: commit: %w", err)
	}
	return n, nil
}

func (q *riverQueue[TTx]) accept(ctx context.Context, pipeline string, recs []engine.DeliveredRecord, notBefore time.Time, maxAttempts int) (int, error) {
	tx, err := q.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store delivery: begin: %w", err)
	}
	defer q.abort(ctx, tx)
	now := q.timeArg(time.Now())
	n := 0
	for _, r := range recs {
		var key any
		if r.Key != "" {
			key = r.Key
		}
		added, err := q.exec(ctx, tx, `INSERT INTO etl_webhook_inbox (pipeline, dedupe_key, record, received_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (pipeline, dedupe_key) DO NOTHING`, pipeline, key, r.Fields, now)
		if err != nil {
			return 0, fmt.Errorf("store delivery: %w", err)
		}
		n += int(added)
	}
	if n > 0 {
		if _, err := q.c.InsertTx(ctx, tx, RunArgs{Pipeline: pipeline, Trigger: "webhook", NotBefore: notBefore.UTC()}, webhookJobOpts(maxAttempts)); err != nil {
			return 0, fmt.Errorf("store delivery: enqueue its run: %w", err)
		}
	}
	if err := q.commit(ctx, tx); err != nil {
		return 0, fmt.Errorf("store delivery: commit: %w", err)
	}
	return n, nil
}

func (q *riverQueue[TTx]) enqueueAfter(ctx context.Context, pipeline, trigger string, notBefore time.Time, maxAttempts int) (int64, bool, error) {
	res, err := q.c.Insert(ctx, RunArgs{Pipeline: pipeline, Trigger: trigger, NotBefore: notBefore.UTC()}, webhookJobOpts(maxAttempts))
	if err != nil {
		return 0, false, fmt.Errorf("enqueue a run of %s: %w", pipeline, err)
	}
	return res.Job.ID, res.UniqueSkippedAsDuplicate, nil
}

func (q *riverQueue[TTx]) pruneInbox(ctx context.Context, pipeline string, before time.Time) (int64, error) {
	r, err := q.sqlDB.ExecContext(ctx, `DELETE FROM etl_webhook_inbox WHERE pipeline = $1 AND processed_run IS NOT NULL AND received_at < $2`,
		pipeline, q.timeArg(before))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (q *riverQueue[TTx]) trigger(ctx context.Context, pipeline string, maxAttempts int) (int64, bool, error) {
	res, err := q.c.Insert(ctx, RunArgs{Pipeline: pipeline, Trigger: "manual"}, &river.InsertOpts{
		Queue: queueName, MaxAttempts: maxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateScheduled, rivertype.JobStateRetryable,
		}},
	})
	if err != nil {
		return 0, false, fmt.Errorf("trigger %s: %w", pipeline, err)
	}
	return res.Job.ID, res.UniqueSkippedAsDuplicate, nil
}

func (q *riverQueue[TTx]) supersede(ctx context.Context, pipeline string, fire time.Time) (bool, error) {
	r, err := q.sqlDB.ExecContext(ctx, `UPDATE etl_ticks SET outcome = 'superseded'
		WHERE pipeline = $1 AND fire_time = $2
		AND EXISTS (SELECT 1 FROM etl_ticks later WHERE later.pipeline = $1 AND later.fire_time > $2)`, pipeline, q.timeArg(fire))
	if err != nil {
		return false, fmt.Errorf("supersede tick %s of %s: %w", fire.Format(time.RFC3339), pipeline, err)
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

func (q *riverQueue[TTx]) depth(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var secs float64
	if err := q.sqlDB.QueryRowContext(ctx, q.depthQ).Scan(&n, &secs); err != nil {
		return 0, 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, time.Duration(secs * float64(time.Second)), nil
}

func riverConfig(o QueueOptions) *river.Config {
	// The client ID names the process (host, pid) in River's attempted_by,
	// so an operator can tell which process ran or holds a job.
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	cfg := river.Config{Logger: o.Logger, ID: fmt.Sprintf("%s_pid%d_%d", host, os.Getpid(), time.Now().UnixNano())}
	cfg.RescueStuckJobsAfter = o.RescueAfter
	cfg.JobTimeout = -1 // each pipeline's own, from RunWorker.Timeout
	if o.Workers > 0 {
		cfg.Queues = map[string]river.QueueConfig{queueName: {MaxWorkers: o.Workers}}
		cfg.Workers = river.NewWorkers()
		river.AddWorker(cfg.Workers, o.Work)
	}
	return &cfg
}

// openQueue opens River on the warehouse at rawURL (postgres:// or an
// SQLite URL) and applies River's migrations, under the engine's migration
// lock on PostgreSQL.
func openQueue(ctx context.Context, rawURL string, o QueueOptions, migrate bool) (queue, error) {
	if strings.HasPrefix(rawURL, "postgres:") || strings.HasPrefix(rawURL, "postgresql:") {
		return openPostgres(ctx, rawURL, o, migrate)
	}
	return openSQLite(ctx, rawURL, o, migrate)
}

func openPostgres(ctx context.Context, rawURL string, o QueueOptions, migrate bool) (queue, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", redactPassword(err, rawURL))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", redactPassword(err, rawURL))
	}
	driver := riverpgxv5.New(pool)
	if migrate {
		if err := migratePostgres(ctx, pool, driver); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate River's tables: %w", redactPassword(err, rawURL))
		}
	}
	c, err := river.NewClient(driver, riverConfig(o))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("river client: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	return &riverQueue[pgx.Tx]{
		c:     c,
		sqlDB: sqlDB,
		begin: func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
		exec: func(ctx context.Context, tx pgx.Tx, q string, args ...any) (int64, error) {
			tag, err := tx.Exec(ctx, q, args...)
			return tag.RowsAffected(), err
		},
		commit:  func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		abort:   func(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(context.WithoutCancel(ctx)) },
		timeArg: func(t time.Time) any { return t },
		depthQ: `SELECT count(*), coalesce(extract(epoch FROM now() - min(scheduled_at)), 0)::float8
			FROM river_job WHERE state = 'available' AND queue = 'etl'`,
		closeFn: func() { sqlDB.Close(); pool.Close() },
	}, nil
}

// migratePostgres applies River's migrations under the engine's migration
// lock (sinks/postgres), held by a session of its own: River applies each
// version in a transaction of its own (one adds an enum value that a later
// statement uses, which PostgreSQL refuses within one transaction), and
// processes starting together migrate one at a time.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const key = `hashtextextended('etl:migrate:' || coalesce(current_schema(), ''), 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`) }()
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

func openSQLite(ctx context.Context, rawURL string, o QueueOptions, migrate bool) (queue, error) {
	path, err := sqlitePath(rawURL)
	if err != nil {
		return nil, err
	}
	// One connection, as River's SQLite driver asks; it waits for the
	// engine's writes (another connection) rather than failing busy.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	driver := riversqlite.New(db)
	if migrate {
		m, err := rivermigrate.New(driver, nil)
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate River's tables in %s: %w", path, err)
		}
	}
	cfg := riverConfig(o)
	// SQLite has no LISTEN/NOTIFY: workers poll, often, a local file.
	cfg.FetchPollInterval = 200 * time.Millisecond
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &riverQueue[*sql.Tx]{
		c:     c,
		sqlDB: db,
		begin: func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
		exec: func(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
			r, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			return r.RowsAffected()
		},
		commit:  func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		abort:   func(_ context.Context, tx *sql.Tx) { _ = tx.Rollback() },
		timeArg: func(t time.Time) any { return t.UTC().Format(time.RFC3339Nano) },
		depthQ: `SELECT count(*), coalesce((julianday('now') - julianday(min(scheduled_at))) * 86400.0, 0)
			FROM river_job WHERE state = 'available' AND queue = 'etl'`,
		closeFn: func() { db.Close() },
	}, nil
}

// sqlitePath is the file an SQLite warehouse URL names, as the sqlite sink
// reads it: sqlite://etl.db, sqlite:etl.db and file:etl.db are relative to
// the working directory, sqlite:///abs/etl.db absolute; a bare path is a path.
func sqlitePath(rawURL string) (string, error) {
	p := rawURL
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			p = rest
			break
		}
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "", fmt.Errorf("open queue: %q names no SQLite file", rawURL)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("open queue %s: %w", p, err)
	}
	return abs, nil
}

// redactPassword removes the URL's password from err's text.
func redactPassword(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "[redacted]"))
}
