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
	if _, plans := w.(engine.TablePlanner); !ok || !plans {
		t.Skip("not a NewTableDropper and TablePlanner")
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

// deletes: the keys a run saw decide which rows a complete read deletes
// (hard) or marks (soft), within the allowed share; a map's deleted
// condition marks rows, and reading a row again clears its mark.
func (s suite) deletes(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	d, ok := w.(engine.Deleter)
	if !ok {
		t.Skip("not a Deleter")
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	keys := func(ids ...int64) [][]any {
		var out [][]any
		for _, id := range ids {
			out = append(out, []any{id})
		}
		return out
	}
	ids := func(from, to int64) []int64 {
		var out []int64
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	load := func(t *testing.T, mode engine.DeleteMode, name string) engine.Table {
		run := startRun(t, w, "p")
		tb := engine.Table{Name: name, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}},
			Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run, Deletes: mode, SoftDeletes: mode == engine.DeletesSoft}
		require.NoError(t, w.Prepare(ctx, tb))
		require.NoError(t, d.PrepareDeletes(ctx, tb))
		var rows [][]any
		for _, id := range ids(1, 10) {
			rows = append(rows, []any{id, "x"})
		}
		_, err := w.Write(ctx, tb, batch(run, "p", rows...))
		require.NoError(t, err)
		return tb
	}
	// seeRun records a new run that saw ids, and returns its id.
	seeRun := func(t *testing.T, tb engine.Table, seen ...int64) int64 {
		run := startRun(t, w, "p")
		_, err := d.MarkKeys(ctx, tb, engine.KeyMarks{RunID: run, Live: keys(seen...), Track: true, At: at})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, d.ForgetSeen(ctx, tb, run)) })
		return run
	}

	t.Run("hard", func(t *testing.T) {
		tb := load(t, engine.DeletesHard, "del_hard")
		run := seeRun(t, tb, ids(1, 9)...)
		out, err := d.DeleteUnseen(ctx, tb, run, 0.1, at)
		require.NoError(t, err)
		assert.Equal(t, engine.DeleteOutcome{Rows: 10, Unseen: 1, Deleted: 1}, out)
		assert.Len(t, s.h.Rows(t, w, tb), 9)
		assert.Equal(t, []any{int64(9), "x"}, s.h.Rows(t, w, tb)[8], "row 10 is gone")
	})

	t.Run("refused above the share", func(t *testing.T) {
		tb := load(t, engine.DeletesHard, "del_refused")
		run := seeRun(t, tb, ids(1, 8)...)
		out, err := d.DeleteUnseen(ctx, tb, run, 0.1, at)
		require.NoError(t, err)
		assert.Equal(t, engine.DeleteOutcome{Rows: 10, Unseen: 2, Refused: true}, out)
		assert.Len(t, s.h.Rows(t, w, tb), 10, "nothing deleted")
	})

	t.Run("soft", func(t *testing.T) {
		tb := load(t, engine.DeletesSoft, "del_soft")
		run := seeRun(t, tb, ids(1, 9)...)
		out, err := d.DeleteUnseen(ctx, tb, run, 0.1, at)
		require.NoError(t, err)
		assert.Equal(t, engine.DeleteOutcome{Rows: 10, Unseen: 1, Deleted: 1}, out)
		assert.Len(t, s.h.Rows(t, w, tb), 10, "a soft delete keeps the row")

		// Marked once: the next complete read counts 9 live rows.
		run = seeRun(t, tb, ids(1, 9)...)
		out, err = d.DeleteUnseen(ctx, tb, run, 0.1, at)
		require.NoError(t, err)
		assert.Equal(t, engine.DeleteOutcome{Rows: 9}, out)

		// The map's deleted condition marks row 3; reading 10 again clears its mark.
		n, err := d.MarkKeys(ctx, tb, engine.KeyMarks{RunID: run, Live: keys(10), Deleted: keys(3), At: at})
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		n, err = d.MarkKeys(ctx, tb, engine.KeyMarks{RunID: run, Deleted: keys(3), At: at})
		require.NoError(t, err)
		assert.Equal(t, int64(0), n, "marked already")
		run = seeRun(t, tb, append([]int64{1, 2}, ids(4, 10)...)...)
		out, err = d.DeleteUnseen(ctx, tb, run, 0.1, at)
		require.NoError(t, err)
		assert.Equal(t, engine.DeleteOutcome{Rows: 9}, out, "10 is live again, 3 is marked")

		has, err := d.HasRows(ctx, tb)
		require.NoError(t, err)
		assert.True(t, has)
		n, err = d.MarkKeys(ctx, tb, engine.KeyMarks{RunID: run, Deleted: keys(ids(1, 10)...), At: at})
		require.NoError(t, err)
		assert.Equal(t, int64(9), n)
		has, err = d.HasRows(ctx, tb)
		require.NoError(t, err)
		assert.False(t, has, "every row is marked deleted")
	})

	t.Run("no table", func(t *testing.T) {
		has, err := d.HasRows(ctx, engine.Table{Name: "del_none", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert})
		require.NoError(t, err)
		assert.False(t, has)
	})
}

// schemaDrift: a column whose declared type changed is widened when that
// is lossless (integer → text, integer → decimal) and schema_changes
// allows it, and refused otherwise with the statement to run; plan shows
// both; replace builds its new table with the declared types.
func (s suite) schemaDrift(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	_, noter := w.(engine.SchemaNoter)
	if _, plans := w.(engine.TablePlanner); !noter || !plans {
		t.Skip("not a SchemaNoter and TablePlanner")
	}
	run := startRun(t, w, "p")
	cols := func(n, m, amount engine.ColumnType) []engine.Column {
		return []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "n", Type: n}, {Name: "m", Type: m}, {Name: "amount", Type: amount}}
	}
	tb := engine.Table{Name: "drift", Columns: cols(engine.TypeInteger, engine.TypeInteger, engine.TypeDecimal), Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, tb))
	_, err := w.Write(ctx, tb, batch(run, "p", []any{int64(1), int64(5), int64(7), "1.50"}))
	require.NoError(t, err)
	notes := func() []string {
		sn, ok := w.(engine.SchemaNoter)
		require.True(t, ok, "a SchemaNoter")
		return sn.SchemaNotes(tb)
	}
	assert.Empty(t, notes())

	// decimal → float is no widening: refused, by plan and by Prepare.
	float := tb
	float.Columns = cols(engine.TypeInteger, engine.TypeInteger, engine.TypeFloat)
	var de *engine.DriftError
	err = w.Prepare(ctx, float)
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "column amount is")
	assert.Contains(t, err.Error(), "to change it run: ")
	stmts, err := w.(engine.TablePlanner).PlanTable(ctx, float)
	require.NoError(t, err)
	require.NotEmpty(t, stmts)
	assert.Contains(t, strings.Join(stmts, "\n"), "-- refused, the run fails: column amount is")

	// integer → text and integer → decimal are widenings: with "fail" refused,
	// by default applied.
	wide := tb
	wide.Columns = cols(engine.TypeText, engine.TypeDecimal, engine.TypeDecimal)
	strict := wide
	strict.SchemaChanges = engine.SchemaFail
	require.ErrorAs(t, w.Prepare(ctx, strict), &de)
	stmts, err = w.(engine.TablePlanner).PlanTable(ctx, wide)
	require.NoError(t, err)
	assert.NotEmpty(t, stmts, "plan shows the widening")
	assert.NotContains(t, strings.Join(stmts, "\n"), "refused")
	require.NoError(t, w.Prepare(ctx, wide))
	assert.Len(t, notes(), 2, "%v", notes())
	for _, n := range notes() {
		assert.Contains(t, n, "widened column")
	}
	counts, err := w.Write(ctx, wide, batch(run, "p", []any{int64(1), "5", "7", "1.50"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: 1}, counts, "the widened values equal the new ones")
	_, err = w.Write(ctx, wide, batch(run, "p", []any{int64(2), "007", "7.25", "2"}))
	require.NoError(t, err)
	assert.Equal(t, Canonical(wide, [][]any{{int64(1), "5", "7", "1.50"}, {int64(2), "007", "7.25", "2"}}), Canonical(wide, s.h.Rows(t, w, wide)))
	stmts, err = w.(engine.TablePlanner).PlanTable(ctx, wide)
	require.NoError(t, err)
	assert.Empty(t, stmts, "the table matches now")

	// A column added to a table with rows: a note.
	grown := wide
	grown.Columns = append(append([]engine.Column(nil), wide.Columns...), engine.Column{Name: "extra", Type: engine.TypeText})
	require.NoError(t, w.Prepare(ctx, grown))
	require.Len(t, notes(), 1)
	assert.Contains(t, notes()[0], "added column extra")
	assert.Contains(t, notes()[0], "--full-refresh")

	// Replace: the new table has the declared types, whatever the old one's.
	repl := float
	repl.Mode, repl.RunID = engine.ModeReplace, startRun(t, w, "p")
	require.NoError(t, w.Prepare(ctx, repl))
	_, err = w.Write(ctx, repl, batch(repl.RunID, "p", []any{int64(1), int64(5), int64(7), 0.25}))
	require.NoError(t, err)
	require.NoError(t, w.Finish(ctx, repl, true))
	assert.Equal(t, [][]any{{int64(1), int64(5), int64(7), 0.25}}, s.h.Rows(t, w, repl))
	stmts, err = w.(engine.TablePlanner).PlanTable(ctx, float)
	require.NoError(t, err)
	assert.NotContains(t, strings.Join(stmts, "\n"), "refused", "amount is a float column now")
}
