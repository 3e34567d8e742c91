package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

var _ engine.InboxStore = (*Warehouse)(nil)

// inboxDoneSQL marks a batch's delivered records processed, in the batch's
// transaction (engine.Batch.Inbox).
const inboxDoneSQL = `UPDATE etl_webhook_inbox SET processed_run = $1 WHERE id = ANY($2) AND processed_run IS NULL`

// Inbox reads the pipeline's delivered records from etl_webhook_inbox.
func (w *Warehouse) Inbox(pipeline string) engine.Inbox {
	return inbox{w: w, pipeline: pipeline}
}

type inbox struct {
	w        *Warehouse
	pipeline string
}

func (ib inbox) Pending(ctx context.Context, after int64, limit int) ([]engine.InboxRecord, error) {
	var out []engine.InboxRecord
	err := ib.w.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, record, received_at FROM etl_webhook_inbox
			WHERE pipeline = $1 AND processed_run IS NULL AND id > $2 ORDER BY id LIMIT $3`, ib.pipeline, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r engine.InboxRecord
			var at time.Time
			if err := rows.Scan(&r.ID, &r.Fields, &at); err != nil {
				return err
			}
			r.Received = at.UTC()
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read the inbox of %s: %w", ib.pipeline, err)
	}
	return out, nil
}
