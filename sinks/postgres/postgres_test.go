package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/engine/warehousetest"
	"github.com/etl-dev/etl/internal/pgtest"
)

// urls remembers which database URL each test warehouse was opened on, so
// the read-back hooks can query it.
var urls sync.Map // engine.Warehouse → string

// openURL opens a warehouse on u, closed when the test ends.
func openURL(t *testing.T, u string) *Warehouse {
	t.Helper()
	w, err := Open(context.Background(), u)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	urls.Store(w, u)
	return w.(*Warehouse)
}

// openMigrated opens a migrated warehouse in a fresh schema.
func openMigrated(t *testing.T) *Warehouse {
	t.Helper()
	w := openURL(t, pgtest.URL(t))
	require.NoError(t, w.Migrate(context.Background()))
	return w
}

// connect opens a plain connection to the database w was opened on.
func connect(t *testing.T, w engine.Warehouse) *pgx.Conn {
	t.Helper()
	u, ok := urls.Load(w)
	require.True(t, ok, "warehouse opened outside openURL")
	c, err := pgx.Connect(context.Background(), u.(string))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// readRows returns tb's rows ordered by its key (else by every column),
// numeric and jsonb as text.
func readRows(t *testing.T, w engine.Warehouse, tb engine.Table) [][]any {
	t.Helper()
	var sel, order []string
	for i, c := range tb.Columns {
		q := pgx.Identifier{c.Name}.Sanitize()
		if c.Type == engine.TypeDecimal || c.Type == engine.TypeJSON {
			q += "::text"
		}
		sel = append(sel, q)
		order = append(order, fmt.Sprint(i+1))
	}
	if len(tb.Key) > 0 {
		order = order[:0]
		for _, k := range tb.Key {
			order = append(order, pgx.Identifier{k}.Sanitize())
		}
	}
	rows, err := connect(t, w).Query(context.Background(),
		"SELECT "+strings.Join(sel, ", ")+" FROM "+ident(tb, tb.Name).Sanitize()+" ORDER BY "+strings.Join(order, ", "))
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	require.NoError(t, err)
	return out
}

func readRejects(t *testing.T, w engine.Warehouse, runID int64) []engine.Reject {
	t.Helper()
	rows, err := connect(t, w).Query(context.Background(),
		`SELECT file, line, page, source_key, check_name, reason, record FROM etl_rejects WHERE run_id = $1 ORDER BY id`, runID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (engine.Reject, error) {
		var j engine.Reject
		err := r.Scan(&j.Pos.File, &j.Pos.Line, &j.Pos.Page, &j.Pos.Key, &j.Check, &j.Reason, &j.Record)
		return j, err
	})
	require.NoError(t, err)
	return out
}

// schemaFor returns a schema name of prefix and the test's own, dropped when
// the test ends: pgtest isolates a test's search_path schema, but a
// schema-qualified table lands outside it, on the shared server.
func schemaFor(t *testing.T, w engine.Warehouse, prefix string) string {
	t.Helper()
	name := fmt.Sprint(prefix, "_", time.Now().UnixNano())
	u, _ := urls.Load(w)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), u.(string))
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	return name
}

func TestWarehouseConformanceIntegration(t *testing.T) {
	warehousetest.Run(t, warehousetest.Harness{
		Open:     func(t *testing.T) engine.Warehouse { return openURL(t, pgtest.URL(t)) },
		Rows:     readRows,
		Rejects:  readRejects,
		Schema:   func(t *testing.T, w engine.Warehouse) string { return schemaFor(t, w, "crm") },
		Parallel: true,
	})
}

func TestRegister(t *testing.T) {
	r := engine.NewRegistry()
	Register(r)
	assert.Equal(t, []string{"postgres"}, r.SinkNames())
}

// startLoad prepares tb and starts a run loading it.
func startLoad(t *testing.T, w *Warehouse, tb engine.Table) engine.Table {
	t.Helper()
	ctx := context.Background()
	id, err := w.StartRun(ctx, engine.Run{Pipeline: "p", System: "s", Entity: "e", Started: time.Now()})
	require.NoError(t, err)
	tb.RunID = id
	require.NoError(t, w.Prepare(ctx, tb))
	return tb
}

// origins builds a batch whose rows come from lines 1…n of in.csv.
func origins(tb engine.Table, rows ...[]any) engine.Batch {
	b := engine.Batch{RunID: tb.RunID, Pipeline: "p", Rows: rows}
	for i := range rows {
		b.Origins = append(b.Origins, &engine.Record{Pos: engine.Position{File: "in.csv", Line: i + 1}, Raw: fmt.Sprintf("raw %d %v", i+1, rows[i])})
	}
	return b
}

func TestRowByRowFallbackIntegration(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		setup      string // run before Prepare; %s is the table
		mode       engine.Mode
		rows       [][]any
		want       engine.Counts
		wantRows   [][]any
		wantReason []string // per failed row, a substring of the reason
		wantLines  []int
	}{
		{
			name:       "NUL byte in text, upsert",
			mode:       engine.ModeUpsert,
			rows:       [][]any{{int64(1), "ok"}, {int64(2), "a\x00b"}, {int64(3), "fine"}},
			want:       engine.Counts{Created: 2, Failed: 1},
			wantRows:   [][]any{{int64(1), "ok"}, {int64(3), "fine"}},
			wantReason: []string{"0x00"},
			wantLines:  []int{2},
		},
		{
			name:       "NUL byte in text, append",
			mode:       engine.ModeAppend,
			rows:       [][]any{{int64(1), "a\x00"}, {int64(2), "ok"}},
			want:       engine.Counts{Created: 1, Failed: 1},
			wantRows:   [][]any{{int64(2), "ok"}},
			wantReason: []string{"0x00"},
			wantLines:  []int{1},
		},
		{
			name:       "NUL byte in text, replace",
			mode:       engine.ModeReplace,
			rows:       [][]any{{int64(1), "ok"}, {int64(2), "\x00"}},
			want:       engine.Counts{Created: 1, Failed: 1},
			wantRows:   [][]any{{int64(1), "ok"}},
			wantReason: []string{"0x00"},
			wantLines:  []int{2},
		},
		{
			name:       "value out of range for an existing int4 column, upsert",
			setup:      `CREATE TABLE %s (id integer PRIMARY KEY, v text)`,
			mode:       engine.ModeUpsert,
			rows:       [][]any{{int64(1), "ok"}, {int64(1) << 40, "too big"}, {int64(3), "ok"}},
			want:       engine.Counts{Created: 2, Failed: 1},
			wantRows:   [][]any{{int32(1), "ok"}, {int32(3), "ok"}},
			wantReason: []string{"out of range"},
			wantLines:  []int{2},
		},
		{
			name:       "value out of range for an existing int4 column, append",
			setup:      `CREATE TABLE %s (id integer, v text)`,
			mode:       engine.ModeAppend,
			rows:       [][]any{{int64(1) << 40, "too big"}, {int64(2), "ok"}},
			want:       engine.Counts{Created: 1, Failed: 1},
			wantRows:   [][]any{{int32(2), "ok"}},
			wantReason: []string{"out of range"},
			wantLines:  []int{1},
		},
		{
			name:       "check constraint and NULL key",
			setup:      `CREATE TABLE %s (id bigint PRIMARY KEY, v text CHECK (v <> 'bad'))`,
			mode:       engine.ModeUpsert,
			rows:       [][]any{{int64(1), "bad"}, {nil, "no key"}, {int64(2), "good"}},
			want:       engine.Counts{Created: 1, Failed: 2},
			wantRows:   [][]any{{int64(2), "good"}},
			wantReason: []string{"check constraint", "not-null"},
			wantLines:  []int{1, 2},
		},
		{
			name:       "duplicate keys apply in order",
			mode:       engine.ModeUpsert,
			rows:       [][]any{{int64(1), "first"}, {int64(1), "second"}, {int64(1), "second"}, {int64(2), "\x00"}},
			want:       engine.Counts{Created: 1, Updated: 1, Unchanged: 1, Failed: 1},
			wantRows:   [][]any{{int64(1), "second"}},
			wantReason: []string{"0x00"},
			wantLines:  []int{4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := openMigrated(t)
			tb := engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Mode: tt.mode}
			if tt.mode != engine.ModeAppend {
				tb.Key = []string{"id"}
			}
			if tt.setup != "" {
				_, err := connect(t, w).Exec(ctx, fmt.Sprintf(tt.setup, "things"))
				require.NoError(t, err)
			}
			tb = startLoad(t, w, tb)
			if tt.mode == engine.ModeUpsert {
				require.True(t, w.plan(tb).direct, "the empty table makes the batch try a direct COPY first")
			}
			b := origins(tb, tt.rows...)
			b.State = &engine.Cursor{Value: int64(7)}
			b.Rejects = []engine.Reject{{Check: "validate x", Reason: "engine reject", Record: "r"}}

			counts, err := w.Write(ctx, tb, b)
			require.NoError(t, err)
			assert.Equal(t, tt.want, counts)
			require.NoError(t, w.Finish(ctx, tb, true))
			assert.Equal(t, tt.wantRows, readRows(t, w, tb))

			rejects := readRejects(t, w, tb.RunID)
			require.Len(t, rejects, 1+len(tt.wantReason))
			assert.Equal(t, "engine reject", rejects[0].Reason, "the engine's rejects land too")
			for i, r := range rejects[1:] {
				assert.Equal(t, "database", r.Check)
				assert.Contains(t, r.Reason, tt.wantReason[i])
				assert.Equal(t, engine.Position{File: "in.csv", Line: tt.wantLines[i]}, r.Pos)
				assert.Equal(t, cleanText(b.Origins[tt.wantLines[i]-1].RawText()), r.Record)
				assert.NotContains(t, r.Record, "\x00")
			}

			st, err := w.State(ctx, "p")
			require.NoError(t, err)
			require.NotNil(t, st, "the state lands with a batch that needed the fallback")
			assert.Equal(t, int64(7), st.Value)
		})
	}
}

func TestWriteErrorsAreNotRetriedRowByRowIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := startLoad(t, w, engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert})

	t.Run("a table that went away", func(t *testing.T) {
		gone := tb
		gone.Name = "never_prepared"
		b := origins(gone, []any{int64(1)}, []any{int64(2)})
		b.State = &engine.Cursor{Value: "x"}
		_, err := w.Write(ctx, gone, b)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "sink postgres: write 2 rows to never_prepared: ")
		st, err := w.State(ctx, "p")
		require.NoError(t, err)
		assert.Nil(t, st, "nothing of the batch is committed")
		assert.Empty(t, readRejects(t, w, tb.RunID))
	})
}

func TestConnectionErrorIsReturnedIntegration(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	app := fmt.Sprint("etl_kill_me_", time.Now().UnixNano())
	w := openURL(t, u+"&application_name="+app)
	require.NoError(t, w.Migrate(ctx))
	tb := startLoad(t, w, engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert})
	_, err := w.Write(ctx, tb, origins(tb, []any{int64(1)}))
	require.NoError(t, err)

	c, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer c.Close(ctx)
	var killed int
	require.NoError(t, c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed))
	require.Positive(t, killed)
	require.Eventually(t, func() bool {
		var left int
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&left))
		return left == 0
	}, 10*time.Second, 5*time.Millisecond, "the terminated backend to exit")

	rows := [][]any{{int64(2)}, {int64(3)}}
	_, err = w.Write(ctx, tb, origins(tb, rows...))
	require.Error(t, err, "a dead connection fails the write")
	assert.Contains(t, err.Error(), "sink postgres: write 2 rows to things: ")
	assert.Empty(t, readRejects(t, w, tb.RunID), "and is not turned into rejects")

	counts, err := w.Write(ctx, tb, origins(tb, rows...))
	require.NoError(t, err, "the next write gets a fresh connection")
	assert.Equal(t, engine.Counts{Created: 2}, counts)
}

func TestDecimalAndJSONAreExactIntegration(t *testing.T) {
	ctx := context.Background()
	decimals := []string{
		"12345678901234567890.123456789",
		"-0.000000000000000000000000000001",
		"99999999999999999999999999999999999999.99",
		"-12.50",
		"0",
	}
	docs := []string{
		`[1, "a", {"b": null}]`,
		`{"big": 12345678901234567890.123456789, "s": "ü\"\\"}`,
		`"text"`,
		`null`,
		`[]`,
	}
	for _, mode := range []engine.Mode{engine.ModeUpsert, engine.ModeAppend, engine.ModeReplace} {
		t.Run(string(mode), func(t *testing.T) {
			w := openMigrated(t)
			tb := engine.Table{Name: "money", Columns: []engine.Column{
				{Name: "id", Type: engine.TypeInteger}, {Name: "amount", Type: engine.TypeDecimal}, {Name: "doc", Type: engine.TypeJSON},
			}, Key: []string{"id"}, Mode: mode}
			tb = startLoad(t, w, tb)
			var rows [][]any
			for i := range decimals {
				rows = append(rows, []any{int64(i), decimals[i], docs[i]})
			}
			rows = append(rows, []any{int64(100), "12abc", `[]`}, []any{int64(101), "1", `{bad`})
			counts, err := w.Write(ctx, tb, origins(tb, rows...))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: len(decimals), Failed: 2}, counts, "an invalid decimal or JSON text is a refused row")
			require.NoError(t, w.Finish(ctx, tb, true))

			var types []string
			require.NoError(t, connect(t, w).QueryRow(ctx, `SELECT array_agg(format_type(atttypid, atttypmod) ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'money'::regclass AND attnum > 0`).Scan(&types))
			assert.Equal(t, []string{"bigint", "numeric", "jsonb"}, types)

			got := readRows(t, w, tb)
			require.Len(t, got, len(decimals))
			for i, row := range got {
				assert.Equal(t, decimals[i], row[1], "numeric keeps the exact text")
				var same bool
				require.NoError(t, connect(t, w).QueryRow(ctx, `SELECT $1::jsonb = $2::text::jsonb`, row[2], docs[i]).Scan(&same))
				assert.True(t, same, "jsonb %s vs %s", row[2], docs[i])
			}
		})
	}
}

func TestHostileSchemaNameIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	c := connect(t, w)
	_, err := c.Exec(ctx, `CREATE TABLE victim (id int)`)
	require.NoError(t, err)
	tb := engine.Table{
		Schema: schemaFor(t, w, `s"; DROP TABLE victim; --`), Name: `t'; DROP TABLE victim; --`,
		Columns: []engine.Column{{Name: `k") ; DROP TABLE victim; --`, Type: engine.TypeText}, {Name: "v", Type: engine.TypeJSON}},
		Key:     []string{`k") ; DROP TABLE victim; --`}, Mode: engine.ModeReplace,
	}
	tb = startLoad(t, w, tb)
	counts, err := w.Write(ctx, tb, origins(tb, []any{"a", `{}`}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1}, counts)
	require.NoError(t, w.Finish(ctx, tb, true))
	tb.Mode = engine.ModeUpsert
	tb = startLoad(t, w, tb)
	counts, err = w.Write(ctx, tb, origins(tb, []any{"a", `{}`}, []any{"b", `1`}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Unchanged: 1}, counts)

	var victim *string
	require.NoError(t, c.QueryRow(ctx, `SELECT to_regclass('victim')::text`).Scan(&victim))
	assert.NotNil(t, victim, "victim survives")
	assert.Len(t, readRows(t, w, tb), 2)
}

func TestReplaceIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	c := connect(t, w)
	shadows := func() []string {
		rows, err := c.Query(ctx, `SELECT relname::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname LIKE '%\_\_etl\_new\_%' ORDER BY 1`)
		require.NoError(t, err)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return names
	}
	t.Run("a failed first load leaves no table", func(t *testing.T) {
		tb := startLoad(t, w, engine.Table{Name: "never", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Mode: engine.ModeReplace})
		_, err := w.Write(ctx, tb, origins(tb, []any{int64(1)}))
		require.NoError(t, err)
		require.NoError(t, w.Finish(ctx, tb, false))
		var exists bool
		require.NoError(t, c.QueryRow(ctx, `SELECT to_regclass('never') IS NOT NULL`).Scan(&exists))
		assert.False(t, exists)
		assert.Empty(t, shadows())
	})

	long := strings.Repeat("ä", 31) // 62 bytes: the new table's name must be cut to fit 63
	for _, name := range []string{"users", long} {
		t.Run(fmt.Sprint(len(name), " bytes"), func(t *testing.T) {
			tb := engine.Table{Name: name, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeReplace}
			first := startLoad(t, w, tb)
			_, err := w.Write(ctx, first, origins(first, []any{int64(1)}))
			require.NoError(t, err)
			require.NoError(t, w.Finish(ctx, first, true))
			_, err = c.Exec(ctx, "CREATE INDEX ON "+pgx.Identifier{name}.Sanitize()+" (id DESC)")
			require.NoError(t, err)

			second := startLoad(t, w, tb)
			assert.Len(t, shadows(), 1, "Prepare made the new table")
			_, err = w.Write(ctx, second, origins(second, []any{int64(2)}))
			require.NoError(t, err)
			require.NoError(t, w.Finish(ctx, second, true))
			assert.Empty(t, shadows(), "the new table was renamed")
			assert.Equal(t, [][]any{{int64(2)}}, readRows(t, w, tb))
			var indexes int
			require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_index WHERE indrelid = to_regclass($1)`, pgx.Identifier{name}.Sanitize()).Scan(&indexes))
			assert.Equal(t, 2, indexes, "the swapped-in table keeps the target's primary key and indexes")

			failed := startLoad(t, w, tb)
			_, err = w.Write(ctx, failed, origins(failed, []any{int64(3)}))
			require.NoError(t, err)
			require.NoError(t, w.Finish(ctx, failed, false))
			assert.Empty(t, shadows(), "a failed load drops the new table")
			assert.Equal(t, [][]any{{int64(2)}}, readRows(t, w, tb))
		})
	}
}

func TestPrepareExistingTableIntegration(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   string
		wantErr string
	}{
		{"primary key", `CREATE TABLE t (id bigint, b text, extra text DEFAULT 'x', PRIMARY KEY (id, b))`, ""},
		{"unique index in another column order", `CREATE TABLE t (b text, id bigint, UNIQUE (id, b))`, ""},
		{"no unique index", `CREATE TABLE t (id bigint, b text)`, "no unique index on the key (b, id)"},
		{"partial unique index", `CREATE TABLE t (id bigint, b text); CREATE UNIQUE INDEX ON t (b, id) WHERE id > 0`, "no unique index"},
		{"unique index on more columns", `CREATE TABLE t (id bigint, b text, c text, UNIQUE (id, b, c))`, "no unique index"},
		{"unique index on fewer columns", `CREATE TABLE t (id bigint UNIQUE, b text)`, "no unique index"},
		{"deferrable unique constraint", `CREATE TABLE t (id bigint, b text, UNIQUE (id, b) DEFERRABLE)`, "no unique index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := openMigrated(t)
			_, err := connect(t, w).Exec(ctx, tt.setup)
			require.NoError(t, err)
			tb := engine.Table{Name: "t", Columns: []engine.Column{{Name: "b", Type: engine.TypeText}, {Name: "id", Type: engine.TypeInteger}, {Name: "new", Type: engine.TypeDate}}, Key: []string{"b", "id"}, Mode: engine.ModeUpsert, RunID: 1}
			err = w.Prepare(ctx, tb)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "sink postgres: prepare t: ")
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			counts, err := w.Write(ctx, tb, origins(tb, []any{"x", int64(1), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: 1}, counts)
		})
	}
}

func TestPrepareRefusesBadTables(t *testing.T) {
	w := &Warehouse{} // checked before touching the database
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}}
	tests := []struct {
		name    string
		table   engine.Table
		wantErr string
	}{
		{"no name", engine.Table{Columns: cols, Mode: engine.ModeAppend}, "table has no name"},
		{"no columns", engine.Table{Name: "t", Mode: engine.ModeAppend}, "no columns"},
		{"upsert without key", engine.Table{Name: "t", Columns: cols, Mode: engine.ModeUpsert}, "upsert needs a key"},
		{"key not a column", engine.Table{Name: "t", Columns: cols, Key: []string{"x"}, Mode: engine.ModeUpsert}, `key column "x" is not a column`},
		{"column twice", engine.Table{Name: "t", Columns: append(cols, cols[0]), Mode: engine.ModeAppend}, `column "id" declared twice`},
		{"unknown type", engine.Table{Name: "t", Columns: []engine.Column{{Name: "x", Type: "money"}}, Mode: engine.ModeAppend}, `unknown type "money"`},
		{"unknown mode", engine.Table{Name: "t", Columns: cols, Mode: "merge"}, `unknown mode "merge"`},
		{"NUL in a name", engine.Table{Name: "t\x00", Columns: cols, Mode: engine.ModeAppend}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Prepare(context.Background(), tt.table)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestWriteRefusesRowsOfTheWrongWidth(t *testing.T) {
	w := &Warehouse{}
	tb := engine.Table{Name: "t", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	_, err := w.Write(context.Background(), tb, engine.Batch{Rows: [][]any{{int64(1), "extra"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "row 0 has 2 values for 1 columns")
}

func TestPasswordNeverInErrorsIntegration(t *testing.T) {
	ctx := context.Background()
	const pw = "s3cr3t-Pa55"
	tests := []struct {
		name string
		url  string
	}{
		{"unreachable port", "postgres://bob:" + pw + "@127.0.0.1:1/db?connect_timeout=2"},
		{"escaped characters", "postgres://bob:" + pw + "%40%2F%3A@127.0.0.1:1/db?connect_timeout=2"},
		{"unparseable option", "postgres://bob:" + pw + "@127.0.0.1:1/db?sslmode=bogus"},
		{"key-value form", "host=127.0.0.1 port=1 user=bob password=" + pw + " connect_timeout=2"},
		{"unknown role", strings.Replace(pgtest.ServerURL(t), "postgres://postgres@", "postgres://nobody_here:"+pw+"@", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(ctx, tt.url)
			require.Error(t, err)
			assert.Nil(t, w)
			assert.Contains(t, err.Error(), "sink postgres: open")
			assert.NotContains(t, err.Error(), pw)
		})
	}

	t.Run("Describe", func(t *testing.T) {
		u := strings.Replace(pgtest.URL(t), "postgres://postgres@", "postgres://postgres:"+pw+"@", 1)
		w := openURL(t, u)
		assert.Regexp(t, `^postgres [^ ]+:\d+/\w+$`, w.Describe())
		assert.NotContains(t, w.Describe(), pw)
	})
}

func TestConcurrentMigrateIntegration(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	var ws []*Warehouse
	for range 4 {
		ws = append(ws, openURL(t, u))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ws))
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "warehouse %d", i)
	}
	var versions, applied int
	require.NoError(t, connect(t, ws[0]).QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM etl_schema_migrations`).Scan(&applied, &versions))
	assert.Equal(t, versions, applied, "each version applied once")
	assert.Positive(t, versions)
}

func TestLockAcrossWarehousesIntegration(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	a, b := openURL(t, u), openURL(t, u)

	unlock, err := a.Lock(ctx, "contacts")
	require.NoError(t, err)
	_, err = b.Lock(ctx, "contacts")
	require.ErrorIs(t, err, engine.ErrLocked)
	assert.Contains(t, err.Error(), `lock pipeline "contacts"`)

	other := openURL(t, pgtest.URL(t))
	unlockOther, err := other.Lock(ctx, "contacts")
	require.NoError(t, err, "a warehouse in another schema has its own locks")
	require.NoError(t, unlockOther())

	require.NoError(t, unlock())
	require.NoError(t, unlock(), "unlock twice is harmless")
	unlockB, err := b.Lock(ctx, "contacts")
	require.NoError(t, err)

	require.NoError(t, b.Close(), "the lock dies with the warehouse's sessions, as with the process")
	unlockA, err := a.Lock(ctx, "contacts")
	require.NoError(t, err)
	require.NoError(t, unlockA())
	assert.NoError(t, unlockB(), "unlock after Close is harmless")
}

func TestCleanText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "ok ü", "ok ü"},
		{"NUL", "a\x00b", "a\uFFFDb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, cleanText(tt.in)) })
	}
}

func TestConcurrentPrepareIntegration(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	a, b := openURL(t, u), openURL(t, u)
	schema := schemaFor(t, a, "concurrent")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		w := a
		if i%2 == 1 {
			w = b
		}
		wg.Go(func() {
			errs[i] = w.Prepare(ctx, engine.Table{Schema: schema, Name: fmt.Sprint("t", i%3), Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert})
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "prepare %d", i)
	}
}

func TestPoolSessionsIntegration(t *testing.T) {
	ctx := context.Background()
	app := fmt.Sprint("etl_sessions_", time.Now().UnixNano())
	w := openURL(t, pgtest.URL(t)+"&application_name="+app)
	require.NoError(t, w.Migrate(ctx))
	tb := startLoad(t, w, engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert})
	stagingOnly(w, tb) // the staging tables are what this tests

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = w.Write(ctx, tb, origins(tb, []any{int64(i)})) })
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "write %d: each session has its own staging table", i)
	}

	w.pool.Reset() // ends the sessions and their staging tables
	counts, err := w.Write(ctx, tb, origins(tb, []any{int64(100)}))
	require.NoError(t, err, "a new session makes its staging table again")
	assert.Equal(t, engine.Counts{Created: 1}, counts)

	_, err = w.Lock(ctx, "p")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	c := connect(t, w)
	assert.Eventually(t, func() bool {
		var n int
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n))
		return n == 0
	}, 5*time.Second, 20*time.Millisecond, "Close ends every session, the lock's included")
}

func TestPlanTableShowsWhatPrepareWouldRunIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	schema := "plan_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))[:20]
	t.Cleanup(func() { _, _ = w.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	tb := engine.Table{Schema: schema, Name: "people", Mode: engine.ModeUpsert, Key: []string{"id"},
		Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}}}

	ddl, err := w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Equal(t, []string{
		`CREATE SCHEMA IF NOT EXISTS "` + schema + `"`,
		"CREATE TABLE \"" + schema + "\".\"people\" (\n\t\"id\" bigint,\n\t\"name\" text,\n\tPRIMARY KEY (\"id\")\n)",
		`CREATE TRIGGER etl_row_hash_edited AFTER UPDATE OR DELETE OR TRUNCATE ON "` + schema + `"."people" FOR EACH STATEMENT EXECUTE FUNCTION ` +
			journalSchema(t, w) + `.etl_row_hash_edited()`,
	}, ddl)
	var n int
	require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n))
	assert.Zero(t, n, "planning creates nothing")

	require.NoError(t, w.Prepare(ctx, tb))
	ddl, err = w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Empty(t, ddl, "the table matches")

	tb.Columns = append(tb.Columns, engine.Column{Name: "born", Type: engine.TypeDate})
	ddl, err = w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Equal(t, []string{`ALTER TABLE "` + schema + `"."people" ADD COLUMN IF NOT EXISTS "born" date`}, ddl)

	tb.Key = []string{"name"}
	_, err = w.PlanTable(ctx, tb)
	assert.ErrorContains(t, err, "no unique index on the key (name)")
}

// TestWriteRefusesAfterTheLockIsLostIntegration kills the session holding a
// pipeline's lock: the server frees the lock, so the run must stop writing
// rather than race a second run that takes it. The lock check goes to the
// server in one pipeline with the COMMIT after it, on every path a batch
// may take: its failure must keep the server from committing.
func TestWriteRefusesAfterTheLockIsLostIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	tb := engine.Table{Name: "locked", Mode: engine.ModeUpsert, Key: []string{"id"}, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}}
	require.NoError(t, w.Prepare(ctx, tb))
	staged := engine.Table{Name: "staged", Mode: engine.ModeUpsert, Key: []string{"id"}, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}}
	require.NoError(t, w.Prepare(ctx, staged))
	stagingOnly(w, staged)
	appended := engine.Table{Name: "appended", Mode: engine.ModeAppend, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}}
	require.NoError(t, w.Prepare(ctx, appended))
	unlock, err := w.Lock(ctx, "p")
	require.NoError(t, err)
	defer unlock()
	_, err = w.Write(ctx, tb, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(1)}}, Origins: []*engine.Record{{}}})
	require.NoError(t, err, "the lock is held")
	_, err = w.Write(ctx, staged, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(1), "a"}}, Origins: []*engine.Record{{}}})
	require.NoError(t, err, "the lock is held")
	require.True(t, w.plan(tb).direct)

	w.mu.Lock()
	pid := w.lockPID["p"]
	w.mu.Unlock()
	c := connect(t, w)
	var killed bool
	require.NoError(t, c.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&killed))
	require.True(t, killed)
	require.Eventually(t, func() bool {
		var n int
		_ = c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&n)
		return n == 0
	}, 5*time.Second, 20*time.Millisecond)

	count := func(table string) int {
		var n int
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	reject := []engine.Reject{{Check: "validate", Reason: "bad"}}
	for _, tt := range []struct {
		name string
		tb   engine.Table
		b    engine.Batch
	}{
		{"a direct copy", tb, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(2)}}, Origins: []*engine.Record{{}}, Rejects: reject}},
		{"an upsert through staging", staged, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(1), "changed"}, {int64(2), "new"}}, Origins: []*engine.Record{{}, {}}}},
		{"an append", appended, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(2)}}, Origins: []*engine.Record{{}}}},
		{"rows refused, then landed one at a time", staged, engine.Batch{Pipeline: "p", Rows: [][]any{{int64(3), "ok"}, {int64(4), "a\x00b"}}, Origins: []*engine.Record{{}, {}}}},
		{"the state alone", tb, engine.Batch{Pipeline: "p"}},
		{"rejects alone", tb, engine.Batch{Pipeline: "p", Rejects: reject}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.b.State = &engine.Cursor{Value: int64(2)}
			_, err := w.Write(ctx, tt.tb, tt.b)
			require.ErrorIs(t, err, errLockLost)
			assert.Equal(t, 1, count("locked"), "nothing of the batch was committed")
			assert.Equal(t, [][]any{{int64(1), "a"}}, readRows(t, w, staged))
			assert.Equal(t, 0, count("appended"))
			assert.Equal(t, 0, count("etl_rejects"))
			st, err := w.State(ctx, "p")
			require.NoError(t, err)
			assert.Nil(t, st)
		})
	}
}

// TestWriteCommitsNothingWhenItsEndFailsIntegration makes each statement
// that goes with the COMMIT in a Write's last round trip fail, on each path
// a batch may take: the Write fails with the statement's own error, the
// refusal of a reject or of the state is not mistaken for refused rows, and
// nothing of the batch is committed.
func TestWriteCommitsNothingWhenItsEndFailsIntegration(t *testing.T) {
	ctx := context.Background()
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}
	paths := []struct {
		name  string
		mode  engine.Mode
		setup func(w *Warehouse, tb engine.Table)
		rows  [][]any
	}{
		{"direct copy", engine.ModeUpsert, func(w *Warehouse, tb engine.Table) { require.True(t, w.plan(tb).direct) }, [][]any{{int64(1), "a"}, {int64(2), "b"}}},
		{"direct copy refused, then staging", engine.ModeUpsert, func(w *Warehouse, tb engine.Table) { require.True(t, w.plan(tb).direct) }, [][]any{{int64(1), "a"}, {int64(1), "b"}}},
		{"staging", engine.ModeUpsert, func(w *Warehouse, tb engine.Table) { stagingOnly(w, tb) }, [][]any{{int64(1), "a"}, {int64(2), "b"}}},
		{"append", engine.ModeAppend, func(*Warehouse, engine.Table) {}, [][]any{{int64(1), "a"}, {int64(2), "b"}}},
		{"row by row", engine.ModeUpsert, func(w *Warehouse, tb engine.Table) { stagingOnly(w, tb) }, [][]any{{int64(1), "a"}, {int64(2), "a\x00b"}}},
		{"no rows", engine.ModeUpsert, func(*Warehouse, engine.Table) {}, nil},
	}
	failures := []struct {
		name    string
		setup   string // %s is the target table
		reason  string // of the batch's reject
		state   string
		wantErr string
	}{
		{"a reject refused", `ALTER TABLE etl_rejects ADD CONSTRAINT etl_test_refuse CHECK (reason <> 'boom')`, "boom", "s", "store rejects: ERROR: new row for relation \"etl_rejects\" violates check constraint \"etl_test_refuse\""},
		{"the state refused", `ALTER TABLE etl_state ADD CONSTRAINT etl_test_refuse CHECK (cursor_value <> 'boom')`, "bad", "boom", "save state: ERROR: new row for relation \"etl_state\" violates check constraint \"etl_test_refuse\""},
		{"the state table gone", `ALTER TABLE etl_state RENAME TO etl_state_away`, "bad", "s", "save state: error preprocessing batch (prepare): ERROR: relation \"etl_state\" does not exist"},
		{"the commit refused", `CREATE FUNCTION etl_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
			CREATE CONSTRAINT TRIGGER etl_test_refuse AFTER INSERT ON etl_rejects DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION etl_test_refuse()`, "bad", "s", "commit: ERROR: refused at commit"},
	}
	for _, path := range paths {
		for _, f := range failures {
			t.Run(path.name+"/"+f.name, func(t *testing.T) {
				w := openMigrated(t)
				tb := startLoad(t, w, engine.Table{Name: "things", Columns: cols, Key: []string{"id"}, Mode: path.mode})
				path.setup(w, tb)
				c := connect(t, w)
				_, err := c.Exec(ctx, f.setup)
				require.NoError(t, err)
				unlock, err := w.Lock(ctx, "p")
				require.NoError(t, err)
				defer unlock()

				b := origins(tb, path.rows...)
				b.Rejects = []engine.Reject{{Pos: engine.Position{File: "in.csv", Line: 9}, Check: "validate", Reason: f.reason}}
				b.State = &engine.Cursor{Value: f.state}
				counts, err := w.Write(ctx, tb, b)
				require.Error(t, err)
				assert.Contains(t, err.Error(), fmt.Sprintf("sink postgres: write %d rows to things: %s", len(path.rows), f.wantErr))
				assert.NotErrorIs(t, err, errLockLost)
				assert.Equal(t, engine.Counts{}, counts)

				var n int
				require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&n))
				assert.Zero(t, n, "no row committed")
				require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM etl_rejects`).Scan(&n))
				assert.Zero(t, n, "no reject committed")
				var states int
				require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'etl_state' AND schemaname = current_schema()`).Scan(&states))
				if states > 0 {
					require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM etl_state`).Scan(&n))
					assert.Zero(t, n, "no state committed")
				}

				// The connection went back to the pool without a transaction
				// left open: the next batch lands.
				_, err = c.Exec(ctx, `DROP TRIGGER IF EXISTS etl_test_refuse ON etl_rejects;
					ALTER TABLE etl_rejects DROP CONSTRAINT IF EXISTS etl_test_refuse;
					ALTER TABLE IF EXISTS etl_state_away RENAME TO etl_state;
					ALTER TABLE etl_state DROP CONSTRAINT IF EXISTS etl_test_refuse`)
				require.NoError(t, err)
				b.Rows = [][]any{{int64(7), "later"}}
				b.Origins = b.Origins[:min(len(b.Origins), 1)]
				b.Rejects = nil
				b.State = &engine.Cursor{Value: "later"}
				counts, err = w.Write(ctx, tb, b)
				require.NoError(t, err)
				assert.Equal(t, engine.Counts{Created: 1}, counts)
				st, err := w.State(ctx, "p")
				require.NoError(t, err)
				require.NotNil(t, st)
				assert.Equal(t, "later", st.Value)
			})
		}
	}
}

// landings installs a statement trigger on tb's table that logs how each
// committed statement writing rows into it began: "copy" (a direct COPY or
// another session's COPY), "with" (the staging path's INSERT … SELECT) or
// "insert" (a row written alone). It returns a func reading the log in
// order. Staging never touches the table but through that INSERT, so the log
// shows the path each batch took.
func landings(t *testing.T, w *Warehouse, tb engine.Table) func() []string {
	t.Helper()
	ctx := context.Background()
	c := connect(t, w)
	_, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS etl_test_landings (id serial PRIMARY KEY, how text);
		CREATE OR REPLACE FUNCTION etl_test_log_landing() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO etl_test_landings (how) VALUES (lower(substring(current_query() FROM '^\s*(\w+)')));
			RETURN NULL;
		END $$;
		CREATE TRIGGER etl_test_log_landing AFTER INSERT ON `+ident(tb, tb.Name).Sanitize()+` FOR EACH STATEMENT EXECUTE FUNCTION etl_test_log_landing()`)
	require.NoError(t, err)
	return func() []string {
		rows, err := c.Query(ctx, `SELECT how FROM etl_test_landings ORDER BY id`)
		require.NoError(t, err)
		how, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return how
	}
}

// stagingOnly makes tb's batches go through the staging table, as if its
// table had not been empty when the run began.
func stagingOnly(w *Warehouse, tb engine.Table) { w.stopDirect(tb) }

func TestUpsertCopiesIntoAnEmptyTableIntegration(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	cols := []engine.Column{
		{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}, {Name: "score", Type: engine.TypeFloat},
		{Name: "active", Type: engine.TypeBoolean}, {Name: "seen", Type: engine.TypeTimestamp}, {Name: "born", Type: engine.TypeDate},
		{Name: "amount", Type: engine.TypeDecimal}, {Name: "doc", Type: engine.TypeJSON},
	}
	first := [][]any{
		{int64(1), "ann", 1.5, true, at, day, "12345678901234567890.123456789", `{"big": 12345678901234567890.123456789, "s": "ü\"\\"}`},
		{int64(2), "bob", -0.25, false, at, day, "-0.000000000000000000000000000001", `[1, "a", {"b": null}]`},
		{int64(3), nil, nil, nil, nil, nil, nil, nil},
	}
	second := [][]any{{int64(4), "cy", 0.0, true, at, day, "-12.50", `"text"`}}
	for _, tt := range []struct {
		name  string
		setup string // an existing, empty table
	}{
		{"a new table", ""},
		{"an existing empty table", `CREATE TABLE things (id bigint PRIMARY KEY, name text, score double precision, active boolean, seen timestamptz, born date, amount numeric, doc jsonb, extra text DEFAULT 'x')`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := openMigrated(t)
			if tt.setup != "" {
				_, err := connect(t, w).Exec(ctx, tt.setup)
				require.NoError(t, err)
			}
			tb := startLoad(t, w, engine.Table{Name: "things", Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert})
			require.True(t, w.plan(tb).direct)
			how := landings(t, w, tb)

			counts, err := w.Write(ctx, tb, origins(tb, first...))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: len(first)}, counts)
			counts, err = w.Write(ctx, tb, origins(tb, second...))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: len(second)}, counts)
			assert.Equal(t, []string{"copy", "copy"}, how(), "both batches went straight into the table")

			got := readRows(t, w, tb)
			want := append(append([][]any(nil), first...), second...)
			require.Len(t, got, len(want))
			for i := range want {
				for j, c := range cols {
					switch {
					case c.Type == engine.TypeJSON && want[i][j] != nil:
						var same bool
						require.NoError(t, connect(t, w).QueryRow(ctx, `SELECT $1::jsonb = $2::text::jsonb`, got[i][j], want[i][j]).Scan(&same))
						assert.True(t, same, "row %d: jsonb %s vs %s", i, got[i][j], want[i][j])
					case c.Type == engine.TypeTimestamp && want[i][j] != nil:
						assert.True(t, want[i][j].(time.Time).Equal(got[i][j].(time.Time)), "row %d: %v", i, got[i][j])
					default:
						assert.Equal(t, want[i][j], got[i][j], "row %d column %s (numeric keeps the exact text)", i, c.Name)
					}
				}
			}

			require.NoError(t, w.Finish(ctx, tb, true))
			assert.False(t, w.plan(tb).direct, "Finish forgets")
			tb = startLoad(t, w, tb)
			assert.False(t, w.plan(tb).direct, "the table has rows now")
			counts, err = w.Write(ctx, tb, origins(tb, first[0], []any{int64(5), "dee", nil, nil, nil, nil, nil, nil}))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: 1, Unchanged: 1}, counts)
			assert.Equal(t, []string{"copy", "copy", "with"}, how())
		})
	}
}

func TestUpsertDirectCopyFallsBackToStagingIntegration(t *testing.T) {
	ctx := context.Background()
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}
	load := func(t *testing.T) (*Warehouse, engine.Table, func() []string) {
		w := openMigrated(t)
		tb := startLoad(t, w, engine.Table{Name: "things", Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert})
		require.True(t, w.plan(tb).direct, "the new table is empty")
		return w, tb, landings(t, w, tb)
	}

	t.Run("a key twice in one batch", func(t *testing.T) {
		w, tb, how := load(t)
		counts, err := w.Write(ctx, tb, origins(tb, []any{int64(1), "a"}, []any{int64(2), "b"}, []any{int64(1), "c"}, []any{int64(1), "d"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 2, Updated: 2}, counts, "the last row of a key wins; those it supersedes count as updated")
		assert.Equal(t, [][]any{{int64(1), "d"}, {int64(2), "b"}}, readRows(t, w, tb))
		assert.Equal(t, []string{"with"}, how(), "the direct COPY was undone")
		assert.False(t, w.plan(tb).direct)
	})

	t.Run("keys another session wrote after Prepare", func(t *testing.T) {
		w, tb, how := load(t)
		_, err := connect(t, w).Exec(ctx, `INSERT INTO things VALUES (1, 'theirs'), (3, 'same')`)
		require.NoError(t, err)
		counts, err := w.Write(ctx, tb, origins(tb, []any{int64(1), "mine"}, []any{int64(2), "new"}, []any{int64(3), "same"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 1}, counts)
		assert.Equal(t, [][]any{{int64(1), "mine"}, {int64(2), "new"}, {int64(3), "same"}}, readRows(t, w, tb))
		assert.False(t, w.plan(tb).direct)

		counts, err = w.Write(ctx, tb, origins(tb, []any{int64(4), "later"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1}, counts)
		assert.Equal(t, []string{"insert", "with", "with"}, how(), "the later batch, all new keys, goes through staging too")
	})

	t.Run("a key an earlier batch wrote", func(t *testing.T) {
		w, tb, how := load(t)
		_, err := w.Write(ctx, tb, origins(tb, []any{int64(1), "a"}))
		require.NoError(t, err)
		counts, err := w.Write(ctx, tb, origins(tb, []any{int64(2), "b"}, []any{int64(1), "a"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1, Unchanged: 1}, counts)
		assert.Equal(t, [][]any{{int64(1), "a"}, {int64(2), "b"}}, readRows(t, w, tb))
		assert.Equal(t, []string{"copy", "with"}, how(), "a run that began with no stored hashes looks none up")
	})

	t.Run("concurrent batches of one key", func(t *testing.T) {
		w, tb, _ := load(t)
		var wg sync.WaitGroup
		counts := make([]engine.Counts, 8)
		errs := make([]error, len(counts))
		for i := range counts {
			wg.Go(func() { counts[i], errs[i] = w.Write(ctx, tb, origins(tb, []any{int64(1), "same"})) })
		}
		wg.Wait()
		var sum engine.Counts
		for i := range counts {
			require.NoError(t, errs[i], "write %d", i)
			sum = sum.Add(counts[i])
		}
		assert.Equal(t, engine.Counts{Created: 1, Unchanged: len(counts) - 1}, sum)
		assert.Equal(t, [][]any{{int64(1), "same"}}, readRows(t, w, tb))
	})

	t.Run("a refused value", func(t *testing.T) {
		w, tb, how := load(t)
		b := origins(tb, []any{int64(1), "ok"}, []any{int64(2), "a\x00b"}, []any{int64(3), "fine"})
		b.State = &engine.Cursor{Value: int64(7)}
		counts, err := w.Write(ctx, tb, b)
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 2, Failed: 1}, counts)
		rejects := readRejects(t, w, tb.RunID)
		require.Len(t, rejects, 1)
		assert.Equal(t, "database", rejects[0].Check)
		assert.Contains(t, rejects[0].Reason, "0x00")
		assert.Equal(t, engine.Position{File: "in.csv", Line: 2}, rejects[0].Pos)
		st, err := w.State(ctx, "p")
		require.NoError(t, err)
		require.NotNil(t, st)
		assert.Equal(t, int64(7), st.Value)
		assert.Equal(t, []string{"insert", "insert"}, how(), "the refused COPY was rolled back, then the rows went one at a time")

		assert.True(t, w.plan(tb).direct, "a refused value says nothing about the keys")
		counts, err = w.Write(ctx, tb, origins(tb, []any{int64(4), "next"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1}, counts)
		assert.Equal(t, []string{"insert", "insert", "copy"}, how())
		assert.Equal(t, [][]any{{int64(1), "ok"}, {int64(3), "fine"}, {int64(4), "next"}}, readRows(t, w, tb))
	})
}

func TestUpsertIntoATableWithRowsNeverCopiesDirectlyIntegration(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, setup string
		want        engine.Counts // of the second batch
		wantRows    [][]any
	}{
		{
			name: "rows", setup: `INSERT INTO things VALUES (1, 'a'), (2, 'b')`,
			want:     engine.Counts{Created: 1, Updated: 1, Unchanged: 1},
			wantRows: [][]any{{int64(1), "a"}, {int64(2), "changed"}, {int64(3), "new"}, {int64(4), "new"}},
		},
		{
			// COPY FROM refuses a table with row level security.
			name: "empty, with row level security", setup: `ALTER TABLE things ENABLE ROW LEVEL SECURITY`,
			want:     engine.Counts{Created: 3},
			wantRows: [][]any{{int64(1), "a"}, {int64(2), "changed"}, {int64(3), "new"}, {int64(4), "new"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := openMigrated(t)
			_, err := connect(t, w).Exec(ctx, `CREATE TABLE things (id bigint PRIMARY KEY, v text); `+tt.setup)
			require.NoError(t, err)
			tb := startLoad(t, w, engine.Table{Name: "things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert})
			assert.False(t, w.plan(tb).direct)
			how := landings(t, w, tb)
			counts, err := w.Write(ctx, tb, origins(tb, []any{int64(3), "new"}))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: 1}, counts)
			counts, err = w.Write(ctx, tb, origins(tb, []any{int64(1), "a"}, []any{int64(2), "changed"}, []any{int64(4), "new"}))
			require.NoError(t, err)
			assert.Equal(t, tt.want, counts)
			assert.Equal(t, []string{"with", "with"}, how(), "even a batch of new keys goes through staging")
			assert.Equal(t, tt.wantRows, readRows(t, w, tb))
		})
	}
}
