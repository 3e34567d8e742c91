package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// softTable prepares a soft-deleting table of ids 1, 2 and 3.
func softTable(t *testing.T, w *Warehouse) engine.Table {
	t.Helper()
	ctx := context.Background()
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"},
		Mode: engine.ModeUpsert, RunID: run, Deletes: engine.DeletesSoft, SoftDeletes: true}
	require.NoError(t, w.Prepare(ctx, tb))
	require.NoError(t, w.PrepareDeletes(ctx, tb))
	_, err := w.Write(ctx, tb, newBatch(run, []any{int64(1)}, []any{int64(2)}, []any{int64(3)}))
	require.NoError(t, err)
	return tb
}

func TestMarkKeysSkipsNullKeys(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := softTable(t, w)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	n, err := w.MarkKeys(ctx, tb, engine.KeyMarks{RunID: 42, Deleted: [][]any{{nil}, {int64(2)}}, Live: [][]any{{nil}}, Track: true, At: at})
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, "1", queryString(t, w, `SELECT count(*) FROM etl_seen_42`), "a NULL key is not recorded as seen")
	marked, err := parseTime(queryString(t, w, `SELECT _etl_deleted_at FROM things WHERE id = 2`))
	require.NoError(t, err)
	assert.Equal(t, at, marked)
	require.NoError(t, w.PrepareDeletes(ctx, tb), "a second PrepareDeletes keeps the column")
}

func TestDeleteUnseenWithoutSeenKeys(t *testing.T) {
	// A complete read that brought no key records no table of seen keys:
	// every live row is unseen.
	ctx := context.Background()
	w := openTest(t)
	tb := softTable(t, w)
	out, err := w.DeleteUnseen(ctx, tb, 99, 1, time.Now())
	require.NoError(t, err)
	assert.Equal(t, engine.DeleteOutcome{Rows: 3, Unseen: 3, Deleted: 3}, out)
	has, err := w.HasRows(ctx, tb)
	require.NoError(t, err)
	assert.False(t, has)
}

func TestDeletesErrors(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := softTable(t, w)
	noKey := tb
	noKey.Key = nil
	missing := tb
	missing.Name = "never_prepared"
	marks := engine.KeyMarks{RunID: 7, Deleted: [][]any{{int64(1)}}, Track: true}
	tests := []struct {
		name string
		err  func() error
		want []string
	}{
		{"mark without a key", func() error { _, err := w.MarkKeys(ctx, noKey, marks); return err }, []string{"sink sqlite: things: the table has no key"}},
		{"delete without a key", func() error { _, err := w.DeleteUnseen(ctx, noKey, 7, 1, time.Now()); return err }, []string{"sink sqlite: things: the table has no key"}},
		{"a key value of the wrong type", func() error {
			_, err := w.MarkKeys(ctx, tb, engine.KeyMarks{RunID: 7, Deleted: [][]any{{"one"}}})
			return err
		}, []string{"sink sqlite: things: mark deleted rows: key column id"}},
		{"mark in a missing table", func() error { _, err := w.MarkKeys(ctx, missing, marks); return err }, []string{"sink sqlite: never_prepared: mark deleted rows", "no such table"}},
		{"delete in a missing table", func() error { _, err := w.DeleteUnseen(ctx, missing, 7, 1, time.Now()); return err }, []string{"sink sqlite: never_prepared: count the rows not seen", "no such table"}},
		{"prepare a missing table", func() error { return w.PrepareDeletes(ctx, missing) }, []string{"sink sqlite: add _etl_deleted_at to never_prepared"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			require.Error(t, err)
			for _, s := range tt.want {
				assert.ErrorContains(t, err, s)
			}
		})
	}
	has, err := w.HasRows(ctx, tb)
	require.NoError(t, err)
	assert.True(t, has, "no failed call marked a row")
}
