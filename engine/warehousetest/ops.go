package warehousetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// planCreates reports whether PlanTable would create tb's table: it is
// missing.
func planCreates(t *testing.T, w engine.Warehouse, tb engine.Table) bool {
	t.Helper()
	tp, ok := w.(engine.TablePlanner)
	require.True(t, ok, "the warehouse must plan its DDL for this test")
	stmts, err := tp.PlanTable(context.Background(), tb)
	require.NoError(t, err)
	for _, s := range stmts {
		if strings.HasPrefix(s, "CREATE TABLE") {
			return true
		}
	}
	return false
}

// dropIfNew: a table Prepare created and nothing landed in is dropped; one
// that existed, or that holds rows, is kept.
func (s suite) dropIfNew(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	d, ok := w.(engine.NewTableDropper)
	if !ok {
		t.Skip("not a NewTableDropper")
	}
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "fresh", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, tb))
	dropped, err := d.DropIfNew(ctx, tb)
	require.NoError(t, err)
	assert.True(t, dropped)
	assert.True(t, planCreates(t, w, tb), "the new, empty table is gone")

	// Created, then rows landed: kept.
	require.NoError(t, w.Prepare(ctx, tb))
	_, err = w.Write(ctx, tb, batch(run, "p", []any{int64(1)}))
	require.NoError(t, err)
	dropped, err = d.DropIfNew(ctx, tb)
	require.NoError(t, err)
	assert.False(t, dropped)
	assert.Len(t, s.h.Rows(t, w, tb), 1)

	// Existing before Prepare, even empty: kept.
	empty := engine.Table{Name: "was_there", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, empty))
	require.NoError(t, w.Finish(ctx, empty, true))
	require.NoError(t, w.Prepare(ctx, empty))
	dropped, err = d.DropIfNew(ctx, empty)
	require.NoError(t, err)
	assert.False(t, dropped)
	assert.False(t, planCreates(t, w, empty))
}

// stateEditor: saved cursors are listed with the run that saved them, set
// by hand (no run) and reset.
func (s suite) stateEditor(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	ed, ok := w.(engine.StateEditor)
	if !ok {
		t.Skip("not a StateEditor")
	}
	tb := engine.Table{Name: "state_edit", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	states, err := ed.States(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, states)

	before := time.Now().Add(-time.Minute)
	run := startRun(t, w, "a")
	b := batch(run, "a", []any{int64(1)})
	b.State = &engine.Cursor{Value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	_, err = w.Write(ctx, tb, b)
	require.NoError(t, err)
	require.NoError(t, ed.SetState(ctx, "b", engine.Cursor{Value: int64(42)}))

	states, err = ed.States(ctx, "")
	require.NoError(t, err)
	require.Len(t, states, 2)
	assert.Equal(t, "a", states[0].Pipeline)
	assert.Equal(t, engine.CursorTime, states[0].Kind)
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), states[0].Cursor.Value)
	assert.Equal(t, run, states[0].RunID)
	assert.True(t, states[0].Saved.After(before), "saved %s", states[0].Saved)
	assert.Equal(t, "b", states[1].Pipeline)
	assert.Equal(t, int64(42), states[1].Cursor.Value)
	assert.Equal(t, int64(0), states[1].RunID, "set by hand: no run")

	one, err := ed.States(ctx, "b")
	require.NoError(t, err)
	require.Len(t, one, 1)
	c, err := w.State(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, int64(42), c.Value, "a run starts from the cursor set by hand")

	gone, err := ed.ResetState(ctx, "b")
	require.NoError(t, err)
	assert.True(t, gone)
	gone, err = ed.ResetState(ctx, "b")
	require.NoError(t, err)
	assert.False(t, gone)
	c, err = w.State(ctx, "b")
	require.NoError(t, err)
	assert.Nil(t, c)
}
