package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/etl-dev/etl/engine"
)

var _ engine.StateEditor = (*Warehouse)(nil)

// States lists the saved cursors (of one pipeline, or of all when pipeline
// is ""), by pipeline name.
func (w *Warehouse) States(ctx context.Context, pipeline string) ([]engine.SavedState, error) {
	rows, err := w.ro.QueryContext(ctx, `SELECT pipeline, cursor_kind, cursor_value, coalesce(run_id, 0), updated_at
		FROM etl_state WHERE ?1 = '' OR pipeline = ?1 ORDER BY pipeline`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: read saved cursors: %w", err)
	}
	defer rows.Close()
	var out []engine.SavedState
	for rows.Next() {
		var s engine.SavedState
		var text, saved string
		if err := rows.Scan(&s.Pipeline, &s.Kind, &text, &s.RunID, &saved); err != nil {
			return nil, fmt.Errorf("sink sqlite: read saved cursors: %w", err)
		}
		cur, err := engine.DecodeCursor(s.Kind, text)
		if err != nil {
			return nil, fmt.Errorf("sink sqlite: saved cursor of %s: %w", s.Pipeline, err)
		}
		if s.Saved, err = parseTime(saved); err != nil {
			return nil, fmt.Errorf("sink sqlite: saved cursor of %s: %w", s.Pipeline, err)
		}
		s.Cursor = *cur
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sink sqlite: read saved cursors: %w", err)
	}
	return out, nil
}

// SetState saves c as the pipeline's cursor, with no run.
func (w *Warehouse) SetState(ctx context.Context, pipeline string, c engine.Cursor) error {
	kind, text := c.Encode()
	_, err := w.db.ExecContext(ctx, `INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, run_id, updated_at)
VALUES (?1, ?2, ?3, NULL, ?4)
ON CONFLICT (pipeline) DO UPDATE SET cursor_kind = excluded.cursor_kind, cursor_value = excluded.cursor_value,
  run_id = NULL, updated_at = excluded.updated_at`, pipeline, kind, text, formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("sink sqlite: set the cursor of %s: %w", pipeline, err)
	}
	return nil
}

// ResetState deletes the pipeline's saved cursor.
func (w *Warehouse) ResetState(ctx context.Context, pipeline string) (bool, error) {
	res, err := w.db.ExecContext(ctx, `DELETE FROM etl_state WHERE pipeline = ?`, pipeline)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("sink sqlite: reset the cursor of %s: %w", pipeline, err)
	}
	return n > 0, nil
}
