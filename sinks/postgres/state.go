package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

var _ engine.StateEditor = (*Warehouse)(nil)

// States lists the saved cursors (of one pipeline, or of all when pipeline
// is ""), by pipeline name.
func (w *Warehouse) States(ctx context.Context, pipeline string) ([]engine.SavedState, error) {
	var out []engine.SavedState
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT pipeline, cursor_kind, cursor_value, coalesce(run_id, 0), updated_at
			FROM etl_state WHERE $1 = '' OR pipeline = $1 ORDER BY pipeline`, pipeline)
		if err != nil {
			return err
		}
		var s engine.SavedState
		var text string
		var saved time.Time
		_, err = pgx.ForEachRow(rows, []any{&s.Pipeline, &s.Kind, &text, &s.RunID, &saved}, func() error {
			cur, err := engine.DecodeCursor(s.Kind, text)
			if err != nil {
				return fmt.Errorf("pipeline %s: %w", s.Pipeline, err)
			}
			s.Cursor, s.Saved = *cur, saved.UTC()
			out = append(out, s)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sink postgres: read saved cursors: %w", err)
	}
	return out, nil
}

// SetState saves c as the pipeline's cursor, with no run.
func (w *Warehouse) SetState(ctx context.Context, pipeline string, c engine.Cursor) error {
	kind, text := c.Encode()
	err := w.withConn(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, stateSQL, pipeline, kind, text, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("sink postgres: set the cursor of %s: %w", pipeline, err)
	}
	return nil
}

// ResetState deletes the pipeline's saved cursor.
func (w *Warehouse) ResetState(ctx context.Context, pipeline string) (bool, error) {
	var n int64
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `DELETE FROM etl_state WHERE pipeline = $1`, pipeline)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sink postgres: reset the cursor of %s: %w", pipeline, err)
	}
	return n > 0, nil
}
