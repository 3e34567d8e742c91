package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/migrations"
)

// interruptedError is the error of a run found still running by the next run
// of its pipeline.
const interruptedError = "interrupted: the process running it stopped before it finished"

// defaultRunsLimit is HistoryFilter.Limit's default.
const defaultRunsLimit = 20

// Migrate applies the engine's SQLite migrations that the database lacks, in
// version order, each in its own transaction with its row in
// etl_schema_migrations. A transaction takes the write lock when it begins
// and checks the version again under it, so two processes migrating at once
// apply each migration once.
func (w *Warehouse) Migrate(ctx context.Context) error {
	ms, err := migrations.For(migrations.SQLite)
	if err != nil {
		return fmt.Errorf("sink sqlite: migrate: %w", err)
	}
	if w.scratch == "" { // Inspect's scratch database is this process's alone
		unlock, err := lockInit(ctx, w.file)
		if err != nil {
			return fmt.Errorf("sink sqlite: migrate: %w", err)
		}
		defer unlock()
	}
	applied, err := w.appliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("sink sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if err := w.apply(ctx, m); err != nil {
			return fmt.Errorf("sink sqlite: migrate: apply %s: %w", m.Name, err)
		}
	}
	return nil
}

// appliedVersions reads the applied versions without taking the write lock,
// so an up-to-date database migrates without waiting for a running load.
func (w *Warehouse) appliedVersions(ctx context.Context) (map[int]bool, error) {
	var n int
	err := w.ro.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'etl_schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return map[int]bool{}, err
	}
	rows, err := w.ro.QueryContext(ctx, `SELECT version FROM etl_schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (w *Warehouse) apply(ctx context.Context, m migrations.Migration) error {
	tx, err := w.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS etl_schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM etl_schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 { // another process applied it since we looked
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO etl_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, formatTime(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// StartRun records r as a new running run and returns its id. It first marks
// the pipeline's runs still recorded as running as failed (their process died:
// the caller holds the pipeline's lock), with an "interrupted: …" error and
// their last heartbeat (the last batch they committed; else their start) as
// their finish time. A zero r.Started is now.
func (w *Warehouse) StartRun(ctx context.Context, r engine.Run) (int64, error) {
	id, err := w.startRun(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("sink sqlite: start run of %s: %w", r.Pipeline, err)
	}
	return id, nil
}

func (w *Warehouse) startRun(ctx context.Context, r engine.Run) (int64, error) {
	started := r.Started
	if started.IsZero() {
		started = time.Now()
	}
	metrics, err := metricsJSON(r.Metrics)
	if err != nil {
		return 0, err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE etl_sync_history SET status = 'failed', error_message = ?, finished_at = coalesce(heartbeat_at, started_at)
WHERE pipeline = ? AND status = 'running'`, interruptedError, r.Pipeline); err != nil {
		return 0, fmt.Errorf("mark interrupted runs: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO etl_sync_history
(pipeline, crm_source, sync_type, endpoint, started_at, status, configuration, performance_metrics, mode, environment)
VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
		r.Pipeline, r.System, r.Entity, r.Endpoint, formatTime(started), r.Config, metrics, r.RunMode(), r.Environment)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return id, tx.Commit()
}

// FinishRun stores run r.ID's end: r.Finished (now when zero), r.Status,
// r.Tally, r.Error and r.Metrics.
func (w *Warehouse) FinishRun(ctx context.Context, r engine.Run) error {
	finished := r.Finished
	if finished.IsZero() {
		finished = time.Now()
	}
	metrics, err := metricsJSON(r.Metrics)
	if err != nil {
		return fmt.Errorf("sink sqlite: finish run %d: %w", r.ID, err)
	}
	cats := engine.EncodeCategories(r.Categories)
	res, err := w.db.ExecContext(ctx, `UPDATE etl_sync_history SET finished_at = ?, status = ?,
processed = ?, created = ?, updated = ?, unchanged = ?, rejected = ?, failed = ?, skipped = ?, warned = ?,
error_message = ?, performance_metrics = ?, already_rejected = ?, recovered = ?, reject_categories = ?, deleted = ?
WHERE id = ?`,
		formatTime(finished), string(r.Status),
		r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed,
		r.Tally.Skipped, r.Tally.Warned,
		r.Error, metrics, r.Tally.AlreadyRejected, r.Tally.Recovered, cats, r.Tally.Deleted, r.ID)
	if err != nil {
		return fmt.Errorf("sink sqlite: finish run %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sink sqlite: finish run %d: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("sink sqlite: finish run %d: no such run", r.ID)
	}
	return nil
}

func metricsJSON(m map[string]any) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metrics: %w", err)
	}
	return string(b), nil
}

// State returns the pipeline's saved cursor, or nil when there is none.
func (w *Warehouse) State(ctx context.Context, pipeline string) (*engine.Cursor, error) {
	var kind, text string
	err := w.ro.QueryRowContext(ctx, `SELECT cursor_kind, cursor_value FROM etl_state WHERE pipeline = ?`, pipeline).Scan(&kind, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: read state of %s: %w", pipeline, err)
	}
	c, err := engine.DecodeCursor(kind, text)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: read state of %s: %w", pipeline, err)
	}
	return c, nil
}

// Runs lists runs, newest first (by start time), f.Limit of them (20 when 0),
// of f.Pipeline only when it is set.
func (w *Warehouse) Runs(ctx context.Context, f engine.HistoryFilter) ([]engine.Run, error) {
	runs, err := w.runs(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: read history: %w", err)
	}
	return runs, nil
}

func (w *Warehouse) runs(ctx context.Context, f engine.HistoryFilter) ([]engine.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultRunsLimit
	}
	q := `SELECT id, pipeline, crm_source, sync_type, endpoint, started_at, finished_at, status,
processed, created, updated, unchanged, rejected, failed, skipped, warned,
error_message, configuration, performance_metrics,
already_rejected, recovered, reject_categories, mode, heartbeat_at, environment, deleted
FROM etl_sync_history`
	args := []any{}
	if f.Pipeline != "" {
		q += ` WHERE pipeline = ?`
		args = append(args, f.Pipeline)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := w.ro.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var runs []engine.Run
	for rows.Next() {
		var r engine.Run
		var started, status, metrics, cats string
		var finished, beat sql.NullString
		t := &r.Tally
		if err := rows.Scan(&r.ID, &r.Pipeline, &r.System, &r.Entity, &r.Endpoint, &started, &finished, &status,
			&t.Processed, &t.Created, &t.Updated, &t.Unchanged, &t.Rejected, &t.Failed, &t.Skipped, &t.Warned,
			&r.Error, &r.Config, &metrics,
			&t.AlreadyRejected, &t.Recovered, &cats, &r.Mode, &beat, &r.Environment, &t.Deleted); err != nil {
			return nil, err
		}
		if beat.Valid {
			if r.Heartbeat, err = parseTime(beat.String); err != nil {
				return nil, fmt.Errorf("run %d: heartbeat_at: %w", r.ID, err)
			}
		}
		if r.Categories, err = engine.DecodeCategories(cats); err != nil {
			return nil, fmt.Errorf("run %d: %w", r.ID, err)
		}
		r.Status = engine.Status(status)
		if r.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("run %d: started_at: %w", r.ID, err)
		}
		if finished.Valid {
			if r.Finished, err = parseTime(finished.String); err != nil {
				return nil, fmt.Errorf("run %d: finished_at: %w", r.ID, err)
			}
		}
		if metrics != "" {
			if err := json.Unmarshal([]byte(metrics), &r.Metrics); err != nil {
				return nil, fmt.Errorf("run %d: performance_metrics: %w", r.ID, err)
			}
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
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
	err := s.w.ro.QueryRowContext(ctx, `SELECT value FROM etl_source_state WHERE pipeline = ? AND key = ?`, s.pipeline, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sink sqlite: read source state %s of %s: %w", key, s.pipeline, err)
	}
	return v, true, nil
}

func (s sourceState) Put(ctx context.Context, key, value string) error {
	_, err := s.w.db.ExecContext(ctx, `INSERT INTO etl_source_state (pipeline, key, value, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (pipeline, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		s.pipeline, key, value, formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("sink sqlite: save source state %s of %s: %w", key, s.pipeline, err)
	}
	return nil
}

// journal keeps the journal with batch b, in its transaction tx: it stores
// b's rejects and the rows the database refused — a record with the
// Fingerprint of an unresolved reject of the pipeline updates that reject
// (reason, check, category, last run) instead and counts in
// counts.KnownRejected or KnownFailed (then not in Failed) — marks the
// rejects of the replayed rows that landed (resolve) resolved, and adds the
// batch's tally and categories to its run's history row with a heartbeat.
func journal(ctx context.Context, tx *sql.Tx, b engine.Batch, refused []engine.Reject, resolve []int64, counts *engine.Counts) error {
	now := formatTime(time.Now())
	if len(b.Rejects)+len(refused) > 0 {
		find, err := tx.PrepareContext(ctx, `SELECT id FROM etl_rejects WHERE pipeline = ? AND fingerprint = ? AND resolved_at IS NULL`)
		if err != nil {
			return fmt.Errorf("store rejects: %w", err)
		}
		defer find.Close()
		update, err := tx.PrepareContext(ctx, `UPDATE etl_rejects SET last_run_id = ?, page = ?, check_name = ?, reason = ?, category = ? WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("store rejects: %w", err)
		}
		defer update.Close()
		insert, err := tx.PrepareContext(ctx, `INSERT INTO etl_rejects
(run_id, last_run_id, pipeline, created_at, file, line, page, source_key, check_name, reason, record, category, fields, fingerprint)
VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)`)
		if err != nil {
			return fmt.Errorf("store rejects: %w", err)
		}
		defer insert.Close()
		for i, r := range append(append([]engine.Reject(nil), b.Rejects...), refused...) {
			fp := r.Fingerprint()
			var id int64
			switch err := find.QueryRowContext(ctx, b.Pipeline, fp).Scan(&id); {
			case errors.Is(err, sql.ErrNoRows):
				_, err = insert.ExecContext(ctx, b.RunID, b.Pipeline, now,
					r.Pos.File, int64(r.Pos.Line), r.Pos.Page, r.Pos.Key, r.Check, r.Reason, r.Record, string(r.Category), r.Fields, fp)
				if err != nil {
					return fmt.Errorf("store rejects: %w", err)
				}
				continue
			case err != nil:
				return fmt.Errorf("store rejects: %w", err)
			}
			if _, err := update.ExecContext(ctx, b.RunID, r.Pos.Page, r.Check, r.Reason, string(r.Category), id); err != nil {
				return fmt.Errorf("store rejects: %w", err)
			}
			if i < len(b.Rejects) {
				counts.KnownRejected++
			} else {
				counts.KnownFailed++
				counts.Failed--
			}
		}
	}
	for _, id := range resolve {
		res, err := tx.ExecContext(ctx, `UPDATE etl_rejects SET resolved_at = ?, resolved_by_run = ? WHERE id = ? AND pipeline = ? AND resolved_at IS NULL`,
			now, b.RunID, id, b.Pipeline)
		if err != nil {
			return fmt.Errorf("resolve reject %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("resolve reject %d: %w", id, err)
		} else {
			counts.Resolved += int(n)
		}
	}
	if b.RunID != 0 {
		t := b.Landed(*counts)
		_, err := tx.ExecContext(ctx, `UPDATE etl_sync_history SET processed = processed + ?, created = created + ?,
updated = updated + ?, unchanged = unchanged + ?, rejected = rejected + ?, failed = failed + ?, skipped = skipped + ?,
warned = warned + ?, already_rejected = already_rejected + ?, recovered = recovered + ?, heartbeat_at = ?,
reject_categories = CASE WHEN ?12 = '{}' THEN reject_categories ELSE (
  SELECT json_group_object(key, n) FROM (
    SELECT key, sum(value) AS n
    FROM (SELECT key, value FROM json_each(etl_sync_history.reject_categories) UNION ALL SELECT key, value FROM json_each(?12))
    GROUP BY key ORDER BY key)) END
WHERE id = ?13 AND status = 'running'`,
			t.Processed, t.Created, t.Updated, t.Unchanged, t.Rejected, t.Failed, t.Skipped, t.Warned, t.AlreadyRejected, t.Recovered,
			now, engine.EncodeCategories(b.Categories(len(refused))), b.RunID)
		if err != nil {
			return fmt.Errorf("add the batch to run %d's counts: %w", b.RunID, err)
		}
	}
	return nil
}

// Rejects lists the stored rejects f selects, oldest first.
func (w *Warehouse) Rejects(ctx context.Context, f engine.RejectFilter) ([]engine.StoredReject, error) {
	limit := int64(-1)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := w.ro.QueryContext(ctx, `SELECT id, pipeline, run_id, coalesce(last_run_id, run_id), created_at,
file, line, page, source_key, check_name, reason, record, category, fields, resolved_at, coalesce(resolved_by_run, 0)
FROM etl_rejects
WHERE (?1 = '' OR pipeline = ?1) AND (?2 = 0 OR run_id = ?2 OR last_run_id = ?2)
  AND (?3 = '' OR check_name = ?3) AND (?4 = '' OR category = ?4) AND (NOT ?5 OR resolved_at IS NULL)
ORDER BY id LIMIT ?6`, f.Pipeline, f.RunID, f.Check, string(f.Category), f.Unresolved, limit)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: list rejects: %w", err)
	}
	defer rows.Close()
	var out []engine.StoredReject
	for rows.Next() {
		var r engine.StoredReject
		var created, cat string
		var resolved sql.NullString
		if err := rows.Scan(&r.ID, &r.Pipeline, &r.RunID, &r.LastRunID, &created,
			&r.Pos.File, &r.Pos.Line, &r.Pos.Page, &r.Pos.Key, &r.Check, &r.Reason, &r.Record, &cat, &r.Fields, &resolved, &r.ResolvedBy); err != nil {
			return nil, fmt.Errorf("sink sqlite: list rejects: %w", err)
		}
		r.Category = engine.RejectCategory(cat)
		if r.Created, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("sink sqlite: list rejects: reject %d: created_at: %w", r.ID, err)
		}
		if resolved.Valid {
			if r.ResolvedAt, err = parseTime(resolved.String); err != nil {
				return nil, fmt.Errorf("sink sqlite: list rejects: reject %d: resolved_at: %w", r.ID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sink sqlite: list rejects: %w", err)
	}
	return out, nil
}
