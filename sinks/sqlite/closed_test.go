package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestClosedWarehouseErrors: every call on a closed warehouse returns an
// error (no panic, no silent success), naming what it was doing where the
// method wraps its errors.
func TestClosedWarehouseErrors(t *testing.T) {
	ctx := context.Background()
	w, err := open(ctx, "sqlite://"+filepath.ToSlash(filepath.Join(t.TempDir(), "etl.db")))
	require.NoError(t, err)
	require.NoError(t, w.Migrate(ctx))
	require.NoError(t, w.Close())

	tb := engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"Migrate", func() error { return w.Migrate(ctx) }, ""},
		{"StartRun", func() error { _, err := w.StartRun(ctx, engine.Run{Pipeline: "p"}); return err }, ""},
		{"State", func() error { _, err := w.State(ctx, "p"); return err }, ""},
		{"States", func() error { _, err := w.States(ctx, "p"); return err }, ""},
		{"SetState", func() error { return w.SetState(ctx, "p", engine.Cursor{Value: "x"}) }, ""},
		{"ResetState", func() error { _, err := w.ResetState(ctx, "p"); return err }, ""},
		{"Runs", func() error { _, err := w.Runs(ctx, engine.HistoryFilter{}); return err }, ""},
		{"Rejects", func() error { _, err := w.Rejects(ctx, engine.RejectFilter{}); return err }, ""},
		{"SourceState.Get", func() error { _, _, err := w.SourceState("p").Get(ctx, "k"); return err }, ""},
		{"SourceState.Put", func() error { return w.SourceState("p").Put(ctx, "k", "v") }, ""},
		{"Inbox.Pending", func() error { _, err := w.Inbox("p").Pending(ctx, 0, 10); return err }, "read the inbox of p"},
		{"Prepare", func() error { return w.Prepare(ctx, tb) }, ""},
		{"PlanTable", func() error { _, err := w.PlanTable(ctx, tb); return err }, ""},
		{"Write", func() error { _, err := w.Write(ctx, tb, newBatch(1, []any{int64(1)})); return err }, ""},
		{"MarkKeys", func() error { _, err := w.MarkKeys(ctx, tb, engine.KeyMarks{RunID: 1}); return err }, "sink sqlite: things"},
		{"DeleteUnseen", func() error { _, err := w.DeleteUnseen(ctx, tb, 1, 1, time.Now()); return err }, "sink sqlite: things"},
		{"HasRows", func() error { _, err := w.HasRows(ctx, tb); return err }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			assert.NotPanics(t, func() { err = tt.call() })
			require.Error(t, err)
			assert.ErrorContains(t, err, "closed")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
