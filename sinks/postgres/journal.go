package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/migrations"
)

// interrupted is the error of a run whose process died before finishing it.
const interrupted = "interrupted: the process running it stopped before it finished"

// Migrate applies the engine's migrations that etl_schema_migrations does not
// list yet, each in its own transaction under a transaction-scoped advisory
// lock, so concurrent processes apply each exactly once.
func (w *Warehouse) Migrate(ctx context.Context) error {
	ms, err := migrations.For(migrations.Postgres)
	if err != nil {
		return fmt.Errorf("sink postgres: migrate: %w", err)
	}
	err = w.withConn(ctx, func(c *pgx.Conn) error {
		if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if err := migrationLock(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS etl_schema_migrations (
				version    integer PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`)
			return err
		}); err != nil {
			return fmt.Errorf("create etl_schema_migrations: %w", err)
		}
		for _, m := range ms {
			if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if err := migrationLock(ctx, tx); err != nil {
					return err
				}
				var applied bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl_schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil {
					return err
				}
				if applied {
					return nil
				}
				// No arguments: the simple protocol runs every statement of the script.
				if _, err := tx.Exec(ctx, m.SQL); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO etl_schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`, m.Version, m.Name)
				return err
			}); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sink postgres: migrate: %w", err)
	}
	return nil
}

// migrationLock serializes migrations of the engine tables in the current
// schema until the transaction ends.
func migrationLock(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('etl:migrate:' || coalesce(current_schema(), ''), 0))`)
	return err
}

// Lock takes the pipeline's session advisory lock (keyed by the current
// schema and the pipeline name) on a connection of its own, held until unlock
// or Close; the server releases it if the process dies.
func (w *Warehouse) Lock(ctx context.Context, pipeline string) (func() error, error) {
	pc, err := w.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("sink postgres: lock pipeline %q: %w", pipeline, err)
	}
	var ok bool
	err = pc.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('etl:run:' || coalesce(current_schema(), '') || ':' || $1, 0))`, pipeline).Scan(&ok)
	if err != nil || !ok {
		pc.Release()
		if err == nil {
			err = engine.ErrLocked
		}
		return nil, fmt.Errorf("sink postgres: lock pipeline %q: %w", pipeline, err)
	}
	c := pc.Hijack() // out of the pool: only unlock or Close ends this session
	w.mu.Lock()
	w.locks[c] = struct{}{}
	w.lockPID[pipeline] = c.PgConn().PID()
	w.mu.Unlock()

	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			w.mu.Lock()
			_, held := w.locks[c]
			delete(w.locks, c)
			delete(w.lockPID, pipeline)
			w.mu.Unlock()
			if !held { // Close released it
				return
			}
			err := releaseLock(c)
			if err != nil {
				unlockErr = fmt.Errorf("sink postgres: unlock pipeline %q: %w", pipeline, err)
			}
		})
		return unlockErr
	}, nil
}

// releaseLock unlocks and closes a lock's session. Closing alone would
// release the lock too, but only once the server notices, a moment later.
func releaseLock(c *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	if cerr := c.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// StartRun marks the pipeline's runs still running as failed (interrupted)
// and inserts r as a new running run, in one transaction.
func (w *Warehouse) StartRun(ctx context.Context, r engine.Run) (int64, error) {
	metrics, err := encodeMetrics(r.Metrics)
	if err != nil {
		return 0, fmt.Errorf("sink postgres: start run of %s: %w", r.Pipeline, err)
	}
	started := r.Started
	if started.IsZero() {
		started = time.Now()
	}
	var id int64
	err = w.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE etl_sync_history
				SET status = 'failed', error_message = $2, finished_at = now()
				WHERE pipeline = $1 AND status = 'running'`, r.Pipeline, interrupted); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `INSERT INTO etl_sync_history (
					pipeline, crm_source, sync_type, endpoint, started_at, status,
					processed, created, updated, unchanged, rejected, failed, skipped, warned,
					error_message, configuration, performance_metrics)
				VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb)
				RETURNING id`,
				cleanText(r.Pipeline), cleanText(r.System), cleanText(r.Entity), cleanText(r.Endpoint), started,
				r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed, r.Tally.Skipped, r.Tally.Warned,
				cleanText(r.Error), cleanText(r.Config), metrics,
			).Scan(&id)
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sink postgres: start run of %s: %w", r.Pipeline, err)
	}
	return id, nil
}

// FinishRun stores the end of run r.ID: finish time (now when zero), status,
// tally, error and metrics.
func (w *Warehouse) FinishRun(ctx context.Context, r engine.Run) error {
	metrics, err := encodeMetrics(r.Metrics)
	if err != nil {
		return fmt.Errorf("sink postgres: finish run %d: %w", r.ID, err)
	}
	finished := r.Finished
	if finished.IsZero() {
		finished = time.Now()
	}
	err = w.withConn(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE etl_sync_history SET
				finished_at = $2, status = $3,
				processed = $4, created = $5, updated = $6, unchanged = $7, rejected = $8, failed = $9, skipped = $10, warned = $11,
				error_message = $12, performance_metrics = $13::text::jsonb
			WHERE id = $1`,
			r.ID, finished, string(r.Status),
			r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed, r.Tally.Skipped, r.Tally.Warned,
			cleanText(r.Error), metrics)
		if err == nil && tag.RowsAffected() == 0 {
			err = errors.New("no such run")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sink postgres: finish run %d: %w", r.ID, err)
	}
	return nil
}

// State returns the pipeline's saved cursor, or nil.
func (w *Warehouse) State(ctx context.Context, pipeline string) (*engine.Cursor, error) {
	var kind, text string
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT cursor_kind, cursor_value FROM etl_state WHERE pipeline = $1`, pipeline).Scan(&kind, &text)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sink postgres: read state of %s: %w", pipeline, err)
	}
	cur, err := engine.DecodeCursor(kind, text)
	if err != nil {
		return nil, fmt.Errorf("sink postgres: read state of %s: %w", pipeline, err)
	}
	return cur, nil
}

// Runs lists runs newest first (by start, then id).
func (w *Warehouse) Runs(ctx context.Context, f engine.HistoryFilter) ([]engine.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	var runs []engine.Run
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, pipeline, crm_source, sync_type, endpoint, started_at, finished_at, status,
				processed, created, updated, unchanged, rejected, failed, skipped, warned,
				error_message, configuration, performance_metrics::text
			FROM etl_sync_history
			WHERE $1 = '' OR pipeline = $1
			ORDER BY started_at DESC, id DESC
			LIMIT $2`, f.Pipeline, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r        engine.Run
				finished *time.Time
				status   string
				metrics  string
			)
			if err := rows.Scan(&r.ID, &r.Pipeline, &r.System, &r.Entity, &r.Endpoint, &r.Started, &finished, &status,
				&r.Tally.Processed, &r.Tally.Created, &r.Tally.Updated, &r.Tally.Unchanged, &r.Tally.Rejected, &r.Tally.Failed, &r.Tally.Skipped, &r.Tally.Warned,
				&r.Error, &r.Config, &metrics); err != nil {
				return err
			}
			r.Started = r.Started.UTC()
			if finished != nil {
				r.Finished = finished.UTC()
			}
			r.Status = engine.Status(status)
			if err := json.Unmarshal([]byte(metrics), &r.Metrics); err != nil {
				return fmt.Errorf("run %d: decode metrics: %w", r.ID, err)
			}
			if len(r.Metrics) == 0 {
				r.Metrics = nil
			}
			runs = append(runs, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sink postgres: list runs: %w", err)
	}
	return runs, nil
}

func encodeMetrics(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metrics: %w", err)
	}
	return cleanText(string(b)), nil
}

// cleanText makes s storable in a text column: PostgreSQL refuses NUL bytes
// and invalid UTF-8, which rejected records (the reason they were rejected)
// and error messages may hold. Both become U+FFFD.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// SourceState returns the pipeline's source state, kept in etl_source_state.
func (w *Warehouse) SourceState(pipeline string) engine.SourceState {
	return sourceState{w: w, pipeline: pipeline}
}

type sourceState struct {
	w        *Warehouse
	pipeline string
}

func (s sourceState) Get(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.w.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT value FROM etl_source_state WHERE pipeline = $1 AND key = $2`, s.pipeline, key).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sink postgres: read source state %s of %s: %w", key, s.pipeline, err)
	}
	return v, true, nil
}

func (s sourceState) Put(ctx context.Context, key, value string) error {
	err := s.w.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO etl_source_state (pipeline, key, value, updated_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (pipeline, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`, s.pipeline, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("sink postgres: save source state %s of %s: %w", key, s.pipeline, err)
	}
	return nil
}
