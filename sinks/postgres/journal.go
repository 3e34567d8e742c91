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
	err = pc.QueryRow(ctx, lockSQL, pipeline).Scan(&ok)
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
	w.lockConn[pipeline] = c
	w.lockPID[pipeline] = c.PgConn().PID()
	w.mu.Unlock()

	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			w.mu.Lock()
			c, held := w.lockConn[pipeline] // relock may have replaced it
			delete(w.locks, c)
			delete(w.lockConn, pipeline)
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
			// An interrupted run ended at its last committed batch; its
			// counts are what its batches left.
			if _, err := tx.Exec(ctx, `UPDATE etl_sync_history
				SET status = 'failed', error_message = $2, finished_at = coalesce(heartbeat_at, started_at)
				WHERE pipeline = $1 AND status = 'running'`, r.Pipeline, interrupted); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `INSERT INTO etl_sync_history (
					pipeline, crm_source, sync_type, endpoint, started_at, status,
					processed, created, updated, unchanged, rejected, failed, skipped, warned,
					error_message, configuration, performance_metrics, mode, environment)
				VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb, $17, $18)
				RETURNING id`,
				cleanText(r.Pipeline), cleanText(r.System), cleanText(r.Entity), cleanText(r.Endpoint), started,
				r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed, r.Tally.Skipped, r.Tally.Warned,
				cleanText(r.Error), cleanText(r.Config), metrics, r.RunMode(), cleanText(r.Environment),
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
	cats := engine.EncodeCategories(r.Categories)
	err = w.withConnRetrying(ctx, "record the end of the run", func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE etl_sync_history SET
				finished_at = $2, status = $3,
				processed = $4, created = $5, updated = $6, unchanged = $7, rejected = $8, failed = $9, skipped = $10, warned = $11,
				error_message = $12, performance_metrics = $13::text::jsonb,
				already_rejected = $14, recovered = $15, reject_categories = $16::text::jsonb, deleted = $17
			WHERE id = $1`,
			r.ID, finished, string(r.Status),
			r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed, r.Tally.Skipped, r.Tally.Warned,
			cleanText(r.Error), metrics, r.Tally.AlreadyRejected, r.Tally.Recovered, cats, r.Tally.Deleted)
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
				error_message, configuration, performance_metrics::text,
				already_rejected, recovered, reject_categories::text, mode, heartbeat_at, environment, deleted
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
				cats     string
				beat     *time.Time
			)
			if err := rows.Scan(&r.ID, &r.Pipeline, &r.System, &r.Entity, &r.Endpoint, &r.Started, &finished, &status,
				&r.Tally.Processed, &r.Tally.Created, &r.Tally.Updated, &r.Tally.Unchanged, &r.Tally.Rejected, &r.Tally.Failed, &r.Tally.Skipped, &r.Tally.Warned,
				&r.Error, &r.Config, &metrics,
				&r.Tally.AlreadyRejected, &r.Tally.Recovered, &cats, &r.Mode, &beat, &r.Environment, &r.Tally.Deleted); err != nil {
				return err
			}
			if beat != nil {
				r.Heartbeat = beat.UTC()
			}
			if r.Categories, err = engine.DecodeCategories(cats); err != nil {
				return fmt.Errorf("run %d: %w", r.ID, err)
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
	err := s.w.withConnRetrying(ctx, "read source state", func(c *pgx.Conn) error {
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
	err := s.w.withConnRetrying(ctx, "save source state", func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO etl_source_state (pipeline, key, value, updated_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (pipeline, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`, s.pipeline, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("sink postgres: save source state %s of %s: %w", key, s.pipeline, err)
	}
	return nil
}

// upsertCountsSetting is the transaction-local setting where upsertSQL leaves
// its counts ("distinct created updated") for journalSQL, which runs in the
// same round trip and so cannot take them as parameters.
const upsertCountsSetting = "etl.upsert_counts"

// journalSQL keeps the journal with a batch, in one statement of the batch's
// transaction: it stores the rejects ($3…$12, one array per column) — a
// record with the fingerprint of an unresolved reject of the pipeline
// updates that reject (its reason, check, category and last run) instead —
// marks the replayed rejects $15 resolved by run $1, and adds the batch's
// counts to run $1's history row with a heartbeat. The rows' counts are
// $18…$20 plus what upsertSQL left in upsertCountsSetting ($21 rows sent to
// it); rejected $16 and failed $17 lose the rejects found already stored,
// which already_rejected gains with $13 and $14 (repeats within the batch).
// reject_categories gains the batch's ($25). It returns the rejects and
// refused rows found already stored and the rejects resolved.
const journalSQL = `WITH u AS (
	SELECT * FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
		AS u(file, line, page, source_key, check_name, reason, record, category, fields, fingerprint)
), ins AS (
	INSERT INTO etl_rejects AS r (run_id, last_run_id, pipeline, file, line, page, source_key, check_name, reason, record, category, fields, fingerprint)
	SELECT $1, $1, $2, u.file, u.line, u.page, u.source_key, u.check_name, u.reason, u.record, u.category, u.fields, u.fingerprint FROM u
	ON CONFLICT (pipeline, fingerprint) WHERE resolved_at IS NULL AND fingerprint <> ''
	DO UPDATE SET last_run_id = EXCLUDED.last_run_id, page = EXCLUDED.page, check_name = EXCLUDED.check_name,
		reason = EXCLUDED.reason, category = EXCLUDED.category
	RETURNING (r.xmax = 0) AS new, r.category = 'database' AS refused
), k AS (
	SELECT count(*) FILTER (WHERE NOT new AND NOT refused) + $13::bigint AS kr, count(*) FILTER (WHERE NOT new AND refused) + $14::bigint AS kf FROM ins
), res AS (
	UPDATE etl_rejects SET resolved_at = now(), resolved_by_run = $1
	WHERE id = ANY($15::bigint[]) AND pipeline = $2 AND resolved_at IS NULL
	RETURNING id
), up AS (
	SELECT split_part(s, ' ', 1)::bigint AS d, split_part(s, ' ', 2)::bigint AS c, split_part(s, ' ', 3)::bigint AS u
	FROM (SELECT coalesce(nullif(current_setting('` + upsertCountsSetting + `', true), ''), '0 0 0') AS s) x
), h AS (
	UPDATE etl_sync_history SET
		processed = processed + $22::bigint, created = created + $18::bigint + up.c,
		updated = updated + $19::bigint + up.u + (CASE WHEN $21::bigint > 0 THEN $21::bigint - up.d ELSE 0 END),
		unchanged = unchanged + $20::bigint + up.d - up.c - up.u,
		rejected = rejected + $16::bigint - k.kr, failed = failed + $17::bigint - k.kf, already_rejected = already_rejected + k.kr + k.kf,
		skipped = skipped + $23::bigint, warned = warned + $24::bigint, recovered = recovered + (SELECT count(*) FROM res),
		reject_categories = CASE WHEN $25::jsonb = '{}' THEN reject_categories ELSE (
			SELECT jsonb_object_agg(key, n) FROM (
				SELECT key, sum(value::bigint) AS n
				FROM (SELECT * FROM jsonb_each_text(reject_categories) UNION ALL SELECT * FROM jsonb_each_text($25::jsonb)) e
				GROUP BY key) g) END,
		heartbeat_at = now()
	FROM k, up
	WHERE id = $1 AND status = 'running'
)
SELECT kr, kf, (SELECT count(*) FROM res) FROM k`

// queueJournal queues journalSQL for b, failed (the rows the database
// refused), landed (the rows' counts the Go side knows) and upsertRows (the
// rows whose counts upsertSQL leaves), reading into counts the rejects found already stored
// (KnownRejected, KnownFailed) and the replayed rows resolved (Resolved).
func queueJournal(end *tail, b engine.Batch, failed []engine.Reject, landed engine.Counts, upsertRows int, counts *engine.Counts) {
	n := len(b.Rejects) + len(failed)
	files, pages, keys, checks, reasons, records, cats, fields, prints := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	lines := make([]int32, 0, n)
	seen := make(map[string]bool, n)
	var repeatRejected, repeatFailed int
	for i, r := range append(append([]engine.Reject(nil), b.Rejects...), failed...) {
		r.Record = cleanText(r.Record)
		fp := r.Fingerprint()
		if seen[fp] { // the same record twice in a batch: stored once
			if i < len(b.Rejects) {
				repeatRejected++
			} else {
				repeatFailed++
			}
			continue
		}
		seen[fp] = true
		files = append(files, cleanText(r.Pos.File))
		lines = append(lines, int32(min(max(r.Pos.Line, 0), 1<<31-1)))
		pages = append(pages, cleanText(r.Pos.Page))
		keys = append(keys, cleanText(r.Pos.Key))
		checks = append(checks, cleanText(r.Check))
		reasons = append(reasons, cleanText(r.Reason))
		records = append(records, r.Record)
		cats = append(cats, string(r.Category))
		fields = append(fields, cleanText(r.Fields))
		prints = append(prints, fp)
	}
	resolve := make([]int64, 0, len(b.Resolve))
	for _, id := range b.Resolve {
		if id != 0 {
			resolve = append(resolve, id)
		}
	}
	t := b.Tally
	args := []any{b.RunID, cleanText(b.Pipeline), files, lines, pages, keys, checks, reasons, records, cats, fields, prints,
		repeatRejected, repeatFailed, resolve,
		t.Rejected, len(failed), landed.Created, landed.Updated, landed.Unchanged, upsertRows,
		t.Processed, t.Skipped, t.Warned, engine.EncodeCategories(b.Categories(len(failed)))}
	end.add(journalSQL, args, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&counts.KnownRejected, &counts.KnownFailed, &counts.Resolved)
	}, failure("store rejects"))
}

// Rejects lists the stored rejects f selects, oldest first.
func (w *Warehouse) Rejects(ctx context.Context, f engine.RejectFilter) ([]engine.StoredReject, error) {
	var out []engine.StoredReject
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, pipeline, run_id, coalesce(last_run_id, run_id), created_at,
				file, line, page, source_key, check_name, reason, record, category, fields, resolved_at, coalesce(resolved_by_run, 0)
			FROM etl_rejects
			WHERE ($1 = '' OR pipeline = $1) AND ($2 = 0 OR run_id = $2 OR last_run_id = $2)
				AND ($3 = '' OR check_name = $3) AND ($4 = '' OR category = $4) AND (NOT $5 OR resolved_at IS NULL)
			ORDER BY id
			LIMIT CASE WHEN $6 > 0 THEN $6 END`,
			f.Pipeline, f.RunID, f.Check, string(f.Category), f.Unresolved, f.Limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r        engine.StoredReject
				line     int32
				cat      string
				resolved *time.Time
			)
			if err := rows.Scan(&r.ID, &r.Pipeline, &r.RunID, &r.LastRunID, &r.Created,
				&r.Pos.File, &line, &r.Pos.Page, &r.Pos.Key, &r.Check, &r.Reason, &r.Record, &cat, &r.Fields, &resolved, &r.ResolvedBy); err != nil {
				return err
			}
			r.Pos.Line = int(line)
			r.Category = engine.RejectCategory(cat)
			r.Created = r.Created.UTC()
			if resolved != nil {
				r.ResolvedAt = resolved.UTC()
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sink postgres: list rejects: %w", err)
	}
	return out, nil
}
