package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestCanceledContext: a canceled context ends each call with an error
// that is context.Canceled (the engine records such a run as interrupted,
// not failed), and leaves the tables as they were.
func TestCanceledContext(t *testing.T) {
	w := openTest(t)
	bg := context.Background()
	upsert := engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	replace := upsert
	replace.Name, replace.Mode = "swapped", engine.ModeReplace
	run := startRun(t, w, "p")
	replace.RunID = run
	require.NoError(t, w.Prepare(bg, upsert))
	require.NoError(t, w.Prepare(bg, replace))
	_, err := w.Write(bg, replace, newBatch(run, []any{int64(1)}))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"Migrate", func() error { return w.Migrate(ctx) }},
		{"StartRun", func() error { _, err := w.StartRun(ctx, engine.Run{Pipeline: "p"}); return err }},
		{"FinishRun", func() error {
			return w.FinishRun(ctx, engine.Run{ID: run, Pipeline: "p", Status: engine.StatusSuccess})
		}},
		{"Prepare", func() error { return w.Prepare(ctx, upsert) }},
		{"Prepare replace", func() error { return w.Prepare(ctx, replace) }},
		{"PlanTable", func() error { _, err := w.PlanTable(ctx, upsert); return err }},
		{"Finish replace", func() error { return w.Finish(ctx, replace, true) }},
		{"MarkKeys", func() error { _, err := w.MarkKeys(ctx, upsert, engine.KeyMarks{RunID: run}); return err }},
		{"DeleteUnseen", func() error { _, err := w.DeleteUnseen(ctx, upsert, run, 1, time.Now()); return err }},
		{"HasRows", func() error { _, err := w.HasRows(ctx, upsert); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.call(), context.Canceled)
		})
	}
	require.NoError(t, w.Finish(bg, replace, true), "the replace load is still there to swap in")
	assert.Equal(t, [][]any{{int64(1)}}, readRows(t, w, replace))
}
