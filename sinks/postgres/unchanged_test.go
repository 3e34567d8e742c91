package postgres

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// lockedRows counts the rows of table whose xmax is set: updated or locked
// (SELECT … FOR UPDATE, ON CONFLICT) by a transaction since they were
// written.
func lockedRows(t *testing.T, w *Warehouse, table string) int {
	t.Helper()
	var n int
	require.NoError(t, connect(t, w).QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE xmax <> 0`).Scan(&n))
	return n
}

// TestUnchangedRowsAreNotTouchedIntegration: an upsert of rows equal to the
// stored ones into a table of the sink's own types leaves them alone, not
// even locked (ON CONFLICT … DO UPDATE … WHERE locks every conflicting row
// and logs it); changed and new rows land as before, with exact counts.
func TestUnchangedRowsAreNotTouchedIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := engine.Table{Name: "people", Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText},
		{Name: "amount", Type: engine.TypeDecimal}, {Name: "doc", Type: engine.TypeJSON},
	}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	rows := func(names ...string) [][]any {
		var out [][]any
		for i, n := range names {
			out = append(out, []any{int64(i + 1), n, "1.50", `{"a": [1, 2]}`})
		}
		return out
	}
	tb = startLoad(t, w, tb)
	_, err := w.Write(ctx, tb, origins(tb, rows("ann", "bob", "cy")...))
	require.NoError(t, err)
	require.NoError(t, w.Finish(ctx, tb, true))

	tb = startLoad(t, w, tb) // a second run: the table has rows, so staging
	require.False(t, w.plan(tb).direct)
	require.True(t, w.plan(tb).filter)
	counts, err := w.Write(ctx, tb, origins(tb, rows("ann", "bob", "cy")...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: 3}, counts)
	assert.Equal(t, 0, lockedRows(t, w, "people"), "unchanged rows are neither updated nor locked")

	batch := append(rows("ann", "bobby"), []any{int64(4), "dee", nil, nil}, []any{int64(1), "ann", "1.5", `{"a":[1,2]}`})
	counts, err = w.Write(ctx, tb, origins(tb, batch...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Updated: 2, Unchanged: 1}, counts,
		"bobby updated; 1.5 is 1.50 to numeric but the later row of key 1 supersedes the first (counted updated); dee created")
	assert.Equal(t, 1, lockedRows(t, w, "people"), "only bob's row has a new version")
	require.NoError(t, w.Finish(ctx, tb, true))
}

// TestUnchangedRowsInAForeignTableGoThroughTheConflictIntegration: a table
// whose types are not the sink's (here varchar(5)) is not compared before
// the INSERT, so a value the column cannot hold is refused, as the INSERT
// refuses it, not taken for the stored value it truncates to.
func TestUnchangedRowsInAForeignTableGoThroughTheConflictIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	_, err := connect(t, w).Exec(ctx, `CREATE TABLE short (id bigint PRIMARY KEY, name varchar(5));
		INSERT INTO short VALUES (1, 'abcde')`)
	require.NoError(t, err)
	tb := startLoad(t, w, engine.Table{Name: "short", Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText},
	}, Key: []string{"id"}, Mode: engine.ModeUpsert})
	require.False(t, w.plan(tb).filter)
	counts, err := w.Write(ctx, tb, origins(tb, []any{int64(1), "abcdefgh"}, []any{int64(2), "ok"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Failed: 1}, counts)
	require.NoError(t, w.Finish(ctx, tb, true))
}

func TestUpsertSQLFiltersOnlyWhenAsked(t *testing.T) {
	tb := engine.Table{Name: "t", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}}
	assert.NotContains(t, upsertSQL(tb, "s", false), "coalesce(")
	assert.Contains(t, upsertSQL(tb, "s", true), `WHERE NOT coalesce((SELECT ROW(o."v") IS NOT DISTINCT FROM ROW(src.c2) FROM "t" o WHERE o."id" = src.c1), false)`)
	keyOnly := engine.Table{Name: "k", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}}
	assert.Contains(t, upsertSQL(keyOnly, "s", true), `(SELECT true FROM "k" o WHERE o."id" = src.c1)`)
}
