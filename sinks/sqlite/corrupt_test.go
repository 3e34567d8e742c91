package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestCorruptSavedCursor: a saved cursor the engine cannot decode (edited
// by hand, written by another version) is an error naming the pipeline,
// not a zero cursor that would restart the read from scratch.
func TestCorruptSavedCursor(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, kind, value, saved string
		want                     string
	}{
		{"an integer cursor that is not a number", engine.CursorInt, "twelve", "2026-01-02T03:04:05Z", `decode cursor "twelve"`},
		{"a time cursor that is not a time", engine.CursorTime, "noon", "2026-01-02T03:04:05Z", `decode cursor "noon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := openTest(t)
			_, err := w.db.Exec(`INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, run_id, updated_at) VALUES ('p', ?, ?, 0, ?)`, tt.kind, tt.value, tt.saved)
			require.NoError(t, err)
			_, err = w.State(ctx, "p")
			assert.ErrorContains(t, err, "sink sqlite: read state of p")
			assert.ErrorContains(t, err, tt.want)
			_, err = w.States(ctx, "p")
			assert.ErrorContains(t, err, "sink sqlite: saved cursor of p")
			assert.ErrorContains(t, err, tt.want)
		})
	}

	t.Run("a saved time that is not a time", func(t *testing.T) {
		w := openTest(t)
		_, err := w.db.Exec(`INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, run_id, updated_at) VALUES ('p', ?, '12', 0, 'last week')`, engine.CursorInt)
		require.NoError(t, err)
		c, err := w.State(ctx, "p")
		require.NoError(t, err, "State reads the cursor only")
		assert.Equal(t, &engine.Cursor{Value: int64(12)}, c)
		_, err = w.States(ctx, "p")
		assert.ErrorContains(t, err, "sink sqlite: saved cursor of p")
		assert.ErrorContains(t, err, "last week")
	})
}

// TestCorruptHistoryRow: a history row whose stored text cannot be read
// back is an error naming the run and the column.
func TestCorruptHistoryRow(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		column, value, want string
	}{
		{"started_at", "dawn", "started_at"},
		{"finished_at", "dusk", "finished_at"},
		{"heartbeat_at", "tick", "heartbeat_at"},
		{"performance_metrics", "{not json", "performance_metrics"},
		{"reject_categories", "{not json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			w := openTest(t)
			run := startRun(t, w, "p")
			_, err := w.db.Exec(`UPDATE etl_sync_history SET `+tt.column+` = ? WHERE id = ?`, tt.value, run)
			require.NoError(t, err)
			_, err = w.Runs(ctx, engine.HistoryFilter{Pipeline: "p"})
			assert.ErrorContains(t, err, fmt.Sprintf("run %d: %s", run, tt.want))
		})
	}
}

// TestCorruptRejectRow: a stored reject whose times cannot be read back is
// an error naming the reject and the column.
func TestCorruptRejectRow(t *testing.T) {
	ctx := context.Background()
	for _, column := range []string{"created_at", "resolved_at"} {
		t.Run(column, func(t *testing.T) {
			w := openTest(t)
			tb := engine.Table{Name: "events", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeAppend}
			require.NoError(t, w.Prepare(ctx, tb))
			b := newBatch(startRun(t, w, "p"))
			b.Rejects = []engine.Reject{{Check: "source", Reason: "r"}}
			_, err := w.Write(ctx, tb, b)
			require.NoError(t, err)
			_, err = w.db.Exec(`UPDATE etl_rejects SET ` + column + ` = 'someday'`)
			require.NoError(t, err)
			_, err = w.Rejects(ctx, engine.RejectFilter{Pipeline: "p"})
			assert.ErrorContains(t, err, "sink sqlite: list rejects: reject 1: "+column)
		})
	}
}
