package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/etl-dev/etl/engine"
)

var _ engine.InboxStore = (*Warehouse)(nil)

// markInbox marks b's delivered records processed, in b's transaction
// (engine.Batch.Inbox).
func markInbox(ctx context.Context, tx interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}, b engine.Batch) error {
	for len(b.Inbox) > 0 {
		n := min(len(b.Inbox), 500) // under SQLite's bound-parameter limit
		args := make([]any, 0, n+1)
		args = append(args, b.RunID)
		for _, id := range b.Inbox[:n] {
			args = append(args, id)
		}
		q := `UPDATE etl_webhook_inbox SET processed_run = ? WHERE processed_run IS NULL AND id IN (?` + strings.Repeat(",?", n-1) + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("mark delivered records processed: %w", err)
		}
		b.Inbox = b.Inbox[n:]
	}
	return nil
}

// Inbox reads the pipeline's delivered records from etl_webhook_inbox.
func (w *Warehouse) Inbox(pipeline string) engine.Inbox {
	return inbox{w: w, pipeline: pipeline}
}

type inbox struct {
	w        *Warehouse
	pipeline string
}

func (ib inbox) Pending(ctx context.Context, after int64, limit int) ([]engine.InboxRecord, error) {
	rows, err := ib.w.ro.QueryContext(ctx, `SELECT id, record, received_at FROM etl_webhook_inbox
		WHERE pipeline = ? AND processed_run IS NULL AND id > ? ORDER BY id LIMIT ?`, ib.pipeline, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read the inbox of %s: %w", ib.pipeline, err)
	}
	defer rows.Close()
	var out []engine.InboxRecord
	for rows.Next() {
		var r engine.InboxRecord
		var at string
		if err := rows.Scan(&r.ID, &r.Fields, &at); err != nil {
			return nil, fmt.Errorf("read the inbox of %s: %w", ib.pipeline, err)
		}
		if r.Received, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read the inbox of %s: %w", ib.pipeline, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the inbox of %s: %w", ib.pipeline, err)
	}
	return out, nil
}
