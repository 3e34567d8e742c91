package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// journalSchema is the schema of w's own tables (its search_path's first).
func journalSchema(t *testing.T, w *Warehouse) string {
	t.Helper()
	var s string
	require.NoError(t, w.pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&s))
	return s
}

var hashCols = []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText},
	{Name: "at", Type: engine.TypeTimestamp}, {Name: "amount", Type: engine.TypeDecimal}}

func hashRows(names ...string) [][]any {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	var out [][]any
	for i, n := range names {
		out = append(out, []any{int64(i + 1), n, at, "1.50"})
	}
	return out
}

// load runs tb once with rows: Prepare, one Write, Finish.
func load(t *testing.T, w *Warehouse, tb engine.Table, rows [][]any) (engine.Table, engine.Counts) {
	t.Helper()
	tb = startLoad(t, w, tb)
	counts, err := w.Write(context.Background(), tb, origins(tb, rows...))
	require.NoError(t, err)
	require.NoError(t, w.Finish(context.Background(), tb, true))
	return tb, counts
}

// TestRerunSkipsUnchangedRowsByHashIntegration: a rerun recognises the rows
// the last run wrote by their hash and sends none of them (no statement
// writes into the table) and counts them unchanged; a changed row lands
// and its new hash is kept.
func TestRerunSkipsUnchangedRowsByHashIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := engine.Table{Name: "people", Columns: hashCols, Key: []string{"id"}, Mode: engine.ModeUpsert}
	_, counts := load(t, w, tb, hashRows("ann", "bob", "cy"))
	assert.Equal(t, engine.Counts{Created: 3}, counts)
	how := landings(t, w, tb)

	tb = startLoad(t, w, tb)
	require.NotZero(t, w.plan(tb).hashes)
	counts, err := w.Write(ctx, tb, origins(tb, hashRows("ann", "bob", "cy")...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: 3}, counts)
	assert.Empty(t, how(), "no row was sent")

	counts, err = w.Write(ctx, tb, origins(tb, hashRows("ann", "bobby", "cy", "dee")...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 2}, counts)
	assert.Equal(t, []string{"with"}, how(), "only bobby and dee were sent")
	require.NoError(t, w.Finish(ctx, tb, true))

	tb = startLoad(t, w, tb)
	counts, err = w.Write(ctx, tb, origins(tb, hashRows("ann", "bobby", "cy", "dee")...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: 4}, counts, "the new hashes were kept")
	assert.Equal(t, []string{"with"}, how())
	assert.Len(t, readRows(t, w, tb), 4)
	require.NoError(t, w.Finish(ctx, tb, true))

	var edits int
	require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM etl_row_hash_edits`).Scan(&edits))
	assert.Zero(t, edits, "the sink's own updates do not mark the table edited")
}

// TestRowEditedInTheWarehouseIsDetectedIntegration: a row another session
// changed, deleted or truncated after the sink wrote it is not taken for
// unchanged by its stale hash: the next run compares every row with the
// stored one and puts the source's values back.
func TestRowEditedInTheWarehouseIsDetectedIntegration(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, edit string
		want       engine.Counts
	}{
		{"an update", `UPDATE people SET name = 'edited' WHERE id = 2`, engine.Counts{Updated: 1, Unchanged: 2}},
		{"a delete", `DELETE FROM people WHERE id = 3`, engine.Counts{Created: 1, Unchanged: 2}},
		{"a truncate", `TRUNCATE people`, engine.Counts{Created: 3}},
		{"an upsert", `INSERT INTO people (id, name) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET amount = 2`, engine.Counts{Updated: 1, Unchanged: 2}},
		{"the table dropped and created again", `DROP TABLE people; CREATE TABLE people (id bigint PRIMARY KEY, name text, at timestamptz, amount numeric);
			INSERT INTO people VALUES (1, 'other', NULL, NULL)`, engine.Counts{Created: 2, Updated: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := openMigrated(t)
			tb := engine.Table{Name: "people", Columns: hashCols, Key: []string{"id"}, Mode: engine.ModeUpsert}
			rows := hashRows("ann", "bob", "cy")
			load(t, w, tb, rows)

			other := connect(t, w) // another session, not the sink
			_, err := other.Exec(ctx, tt.edit)
			require.NoError(t, err)

			tb, counts := load(t, w, tb, rows)
			assert.Equal(t, tt.want, counts)
			got := readRows(t, w, tb)
			require.Len(t, got, 3)
			for i := range rows {
				assert.Equal(t, rows[i][1], got[i][1], "row %d is the source's again", i)
			}
			_, counts = load(t, w, tb, rows)
			assert.Equal(t, engine.Counts{Unchanged: 3}, counts)
		})
	}
}

// TestVerifyUnchangedComparesEveryRowIntegration: verify_unchanged keeps
// no hashes: every row goes to the server to be compared with the stored
// one, as before hashes, and no trigger is put on the table.
func TestVerifyUnchangedComparesEveryRowIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := engine.Table{Name: "people", Columns: hashCols, Key: []string{"id"}, Mode: engine.ModeUpsert, VerifyUnchanged: true}
	load(t, w, tb, hashRows("ann", "bob"))
	how := landings(t, w, tb)
	tb = startLoad(t, w, tb)
	assert.Zero(t, w.plan(tb).hashes)
	counts, err := w.Write(ctx, tb, origins(tb, hashRows("ann", "bob")...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: 2}, counts)
	assert.Equal(t, []string{"with"}, how(), "the rows were sent and compared")
	require.NoError(t, w.Finish(ctx, tb, true))
	var triggers int
	require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname = $1 AND tgrelid = 'people'::regclass`, editTrigger).Scan(&triggers))
	assert.Zero(t, triggers)
}

// TestHashedBatchOfDuplicateAndOddKeysIntegration: a key twice in a batch
// is always sent (the last row wins, the earlier counts updated); a row
// whose key is NULL is sent and never hashed; a composite key of text and
// integer is stored as its length-prefixed text.
func TestHashedBatchOfDuplicateAndOddKeysIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := engine.Table{Name: "pairs", Columns: []engine.Column{{Name: "a", Type: engine.TypeText}, {Name: "b", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}},
		Key: []string{"a", "b"}, Mode: engine.ModeUpsert}
	rows := [][]any{{"x", int64(1), "one"}, {"x:1", int64(2), "two"}, {"x", int64(1), "uno"}}
	_, counts := load(t, w, tb, rows)
	assert.Equal(t, engine.Counts{Created: 2, Updated: 1}, counts)
	var keys []string
	r, err := w.pool.Query(ctx, `SELECT key FROM etl_row_hash ORDER BY key`)
	require.NoError(t, err)
	keys, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"1:x1:1", "3:x:11:2"}, keys)

	_, counts = load(t, w, tb, rows)
	assert.Equal(t, engine.Counts{Updated: 1, Unchanged: 2}, counts, "x,1 twice is sent again (its last row equal), x:1,2 skipped")
	_, counts = load(t, w, tb, [][]any{{"x", int64(1), "uno"}, {"x:1", int64(2), "two"}})
	assert.Equal(t, engine.Counts{Unchanged: 2}, counts)
}

func TestKeyTextAndRowHashAreUnambiguous(t *testing.T) {
	k1, ok1 := keyText([]any{"ab", "c"}, []int{0, 1})
	k2, ok2 := keyText([]any{"a", "bc"}, []int{0, 1})
	require.True(t, ok1 && ok2)
	assert.NotEqual(t, k1, k2)
	k, ok := keyText([]any{int64(-42)}, []int{0})
	assert.True(t, ok)
	assert.Equal(t, "-42", k)
	for _, bad := range []any{nil, "a\x00b", "\xff", 1.5} {
		_, ok := keyText([]any{bad}, []int{0})
		assert.False(t, ok, "%q", bad)
	}

	tb := engine.Table{Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "a", Type: engine.TypeText}, {Name: "b", Type: engine.TypeText}}, Key: []string{"id"}}
	h := newHashedBatch(tb, 1, [][]any{
		{int64(1), "ab", "c"}, {int64(1), "a", "bc"}, {int64(1), "ab", nil}, {int64(1), "ab", ""},
		{int64(1), "ab", "c"}, {int64(1), struct{}{}, "c"},
	})
	for i := range 4 {
		for j := i + 1; j < 4; j++ {
			assert.NotEqual(t, h.hashes[i], h.hashes[j], "rows %d and %d", i, j)
		}
	}
	assert.Equal(t, h.hashes[0], h.hashes[4])
	assert.False(t, h.ok[5], "a value of an unknown type: no hash, always sent")

	renamed := tb
	renamed.Columns = []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "a", Type: engine.TypeText}, {Name: "c", Type: engine.TypeText}}
	assert.NotEqual(t, h.hashes[0], newHashedBatch(renamed, 1, [][]any{{int64(1), "ab", "c"}}).hashes[0], "another mapping, another hash")
}

func TestHashableTables(t *testing.T) {
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "s", Type: engine.TypeText}, {Name: "at", Type: engine.TypeTimestamp}}
	for _, tt := range []struct {
		t    engine.Table
		want bool
	}{
		{engine.Table{Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert}, true},
		{engine.Table{Columns: cols, Key: []string{"s", "id"}, Mode: engine.ModeUpsert}, true},
		{engine.Table{Columns: cols, Key: []string{"at"}, Mode: engine.ModeUpsert}, false},
		{engine.Table{Columns: cols, Key: []string{"id"}, Mode: engine.ModeAppend}, false},
		{engine.Table{Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert, VerifyUnchanged: true}, false},
	} {
		assert.Equal(t, tt.want, hashable(tt.t), "%+v", tt.t)
	}
}
