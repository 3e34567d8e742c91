package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/engine/warehousetest"
	"github.com/etl-dev/etl/migrations"
)

// openTest opens a migrated warehouse on a fresh file in t's temp dir.
func openTest(t *testing.T) *Warehouse {
	t.Helper()
	w := openAt(t, filepath.Join(t.TempDir(), "etl.db"))
	require.NoError(t, w.Migrate(context.Background()))
	return w
}

// openAt opens (without migrating) the database at path, closed when t ends.
func openAt(t *testing.T, path string) *Warehouse {
	t.Helper()
	w, err := open(context.Background(), "sqlite://"+filepath.ToSlash(path))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return w
}

// startRun records a running run of pipeline and returns its id.
func startRun(t *testing.T, w *Warehouse, pipeline string) int64 {
	t.Helper()
	id, err := w.StartRun(context.Background(), engine.Run{Pipeline: pipeline, System: "test", Entity: "things"})
	require.NoError(t, err)
	return id
}

// newBatch builds a batch whose rows come from input.csv lines 2, 3, ….
func newBatch(run int64, rows ...[]any) engine.Batch {
	b := engine.Batch{RunID: run, Pipeline: "p", Rows: rows}
	for i := range rows {
		b.Origins = append(b.Origins, &engine.Record{
			Pos: engine.Position{File: "input.csv", Line: i + 2},
			Raw: strings.TrimSpace(fmt.Sprintln(rows[i]...)),
		})
	}
	return b
}

// readRows returns tb's stored rows ordered by its key (every column without
// one), converted back to the column types' Go types.
func readRows(t *testing.T, w *Warehouse, tb engine.Table) [][]any {
	t.Helper()
	var cols []string
	for _, c := range tb.Columns {
		cols = append(cols, quote(c.Name))
	}
	order := cols
	if len(tb.Key) > 0 {
		order = nil
		for _, k := range tb.Key {
			order = append(order, quote(k))
		}
	}
	rows, err := w.ro.Query("SELECT " + strings.Join(cols, ", ") + " FROM " + quote(TableName(tb)) + " ORDER BY " + strings.Join(order, ", "))
	require.NoError(t, err)
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for i, c := range tb.Columns {
			vals[i] = decode(t, c.Type, vals[i])
		}
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

// decode is the inverse of encode, for tests.
func decode(t *testing.T, ct engine.ColumnType, v any) any {
	t.Helper()
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil
	}
	switch ct {
	case engine.TypeBoolean:
		require.IsType(t, int64(0), v)
		return v.(int64) != 0
	case engine.TypeTimestamp:
		require.IsType(t, "", v)
		ts, err := time.Parse(time.RFC3339Nano, v.(string))
		require.NoError(t, err)
		return ts.UTC()
	case engine.TypeDate:
		require.IsType(t, "", v)
		d, err := time.Parse(dateLayout, v.(string))
		require.NoError(t, err)
		return d
	}
	return v
}

// readRejects returns the rejects stored for the run, in the order written.
func readRejects(t *testing.T, w *Warehouse, run int64) []engine.Reject {
	t.Helper()
	rows, err := w.ro.Query(`SELECT file, line, page, source_key, check_name, reason, record
FROM etl_rejects WHERE run_id = ? ORDER BY id`, run)
	require.NoError(t, err)
	defer rows.Close()
	var out []engine.Reject
	for rows.Next() {
		var r engine.Reject
		require.NoError(t, rows.Scan(&r.Pos.File, &r.Pos.Line, &r.Pos.Page, &r.Pos.Key, &r.Check, &r.Reason, &r.Record))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// queryString runs a one-value query on the writing connection.
func queryString(t *testing.T, w *Warehouse, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	require.NoError(t, w.db.QueryRow(q, args...).Scan(&s))
	return s.String
}

func TestWarehouseConformance(t *testing.T) {
	warehousetest.Run(t, warehousetest.Harness{
		Open: func(t *testing.T) engine.Warehouse {
			return openAt(t, filepath.Join(t.TempDir(), "etl.db"))
		},
		Rows: func(t *testing.T, w engine.Warehouse, tb engine.Table) [][]any {
			return readRows(t, w.(*Warehouse), tb)
		},
		Rejects: func(t *testing.T, w engine.Warehouse, runID int64) []engine.Reject {
			return readRejects(t, w.(*Warehouse), runID)
		},
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url, want, err string
	}{
		{name: "sqlite relative", url: "sqlite://etl.db", want: "etl.db"},
		{name: "sqlite relative with dirs", url: "sqlite://data/etl.db", want: "data/etl.db"},
		{name: "sqlite absolute", url: "sqlite:///abs/path/etl.db", want: "/abs/path/etl.db"},
		{name: "sqlite opaque", url: "sqlite:etl.db", want: "etl.db"},
		{name: "sqlite opaque absolute", url: "sqlite:/abs/etl.db", want: "/abs/etl.db"},
		{name: "file relative", url: "file:etl.db", want: "etl.db"},
		{name: "file absolute", url: "file:///abs/etl.db", want: "/abs/etl.db"},
		{name: "file localhost", url: "file://localhost/abs/etl.db", want: "/abs/etl.db"},
		{name: "bare path", url: "etl.db", want: "etl.db"},
		{name: "scheme in capitals", url: "SQLite://etl.db", want: "etl.db"},
		{name: "engine's form of a bare path", url: "sqlite:./data/etl.db", want: "./data/etl.db"},
		{name: "escapes", url: "sqlite:///my%20dir/a%3Fb%23c%25.db", want: "/my dir/a?b#c%.db"},
		{name: "spaces", url: "sqlite:///my dir/etl.db", want: "/my dir/etl.db"},
		{name: "empty", url: "sqlite://", err: "no database path"},
		{name: "query", url: "sqlite://etl.db?mode=ro", err: "no query"},
		{name: "other scheme", url: "postgres://x/y", err: "unknown scheme"},
		{name: "bad escape", url: "sqlite://a%zz.db", err: "decode path"},
		{name: "NUL", url: "sqlite://a%00.db", err: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseURL(tt.url)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, filepath.FromSlash(tt.want), got)
		})
	}
}

func TestOpenSetsPragmas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd name's #1?.db")
	w, err := Open(context.Background(), "sqlite://"+strings.ReplaceAll(strings.ReplaceAll(filepath.ToSlash(path), "#", "%23"), "?", "%3F"))
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	sw := w.(*Warehouse)
	assert.FileExists(t, path, "the file has the name the URL spelled, escapes decoded")
	assert.Equal(t, "wal", queryString(t, sw, "PRAGMA journal_mode"))
	assert.Equal(t, "1", queryString(t, sw, "PRAGMA synchronous"), "NORMAL")
	assert.Equal(t, "1", queryString(t, sw, "PRAGMA foreign_keys"))
	assert.Equal(t, "10000", queryString(t, sw, "PRAGMA busy_timeout"))
	var qo string
	require.NoError(t, sw.ro.QueryRow("PRAGMA query_only").Scan(&qo))
	assert.Equal(t, "1", qo, "the read pool cannot write")
}

func TestOpenDescribe(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	w, err := Open(context.Background(), "sqlite://etl.db")
	require.NoError(t, err)
	defer w.Close()
	assert.Equal(t, "sqlite etl.db", w.Describe())
	assert.Equal(t, filepath.Join(dir, "etl.db"), w.(*Warehouse).Path())
	assert.FileExists(t, filepath.Join(dir, "etl.db"), "a relative path is relative to the working directory")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o644))
	tests := []struct {
		name, url, err string
	}{
		{"missing directory", "sqlite://" + filepath.ToSlash(filepath.Join(dir, "nope", "etl.db")), "does not exist"},
		{"not a database", "sqlite://" + filepath.ToSlash(notDB), "not a database"},
		{"bad URL", "sqlite://etl.db?x=1", "no query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(context.Background(), tt.url)
			assert.Nil(t, w, "no non-nil interface around a nil warehouse")
			assert.ErrorContains(t, err, tt.err)
			assert.ErrorContains(t, err, "sink sqlite: open")
		})
	}
}

func TestRegister(t *testing.T) {
	r := engine.NewRegistry()
	Register(r)
	assert.Equal(t, []string{"sqlite"}, r.SinkNames())
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	w := openAt(t, filepath.Join(t.TempDir(), "etl.db"))
	_, err := w.Runs(ctx, engine.HistoryFilter{})
	require.Error(t, err, "no journal before Migrate")

	require.NoError(t, w.Migrate(ctx))
	require.NoError(t, w.Migrate(ctx), "a second Migrate is a no-op")

	ms, err := migrations.For(migrations.SQLite)
	require.NoError(t, err)
	rows, err := w.db.Query(`SELECT version, name, applied_at FROM etl_schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var n int
	for rows.Next() {
		var v int
		var name, at string
		require.NoError(t, rows.Scan(&v, &name, &at))
		require.Less(t, n, len(ms))
		assert.Equal(t, ms[n].Version, v)
		assert.Equal(t, ms[n].Name, name)
		_, err := time.Parse(time.RFC3339Nano, at)
		assert.NoError(t, err, "applied_at is RFC 3339")
		n++
	}
	assert.Equal(t, len(ms), n, "every migration recorded once")
	_, err = w.Runs(ctx, engine.HistoryFilter{})
	assert.NoError(t, err)
}

func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "etl.db")
	const n = 6
	ws := make([]*Warehouse, n)
	for i := range ws {
		ws[i] = openAt(t, path)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "warehouse %d", i)
	}
	ms, err := migrations.For(migrations.SQLite)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(len(ms)), queryString(t, ws[0], `SELECT count(*) FROM etl_schema_migrations`))
}

func TestLockFileName(t *testing.T) {
	tests := []struct {
		name, pipeline, want string
	}{
		{"plain", "hubspot_contacts", "hubspot_contacts.lock"},
		{"dots and dashes", "genius.leads-v2", "genius.leads-v2.lock"},
		{"slash", "a/b", "a_b-"},
		{"traversal", "../../etc/passwd", "_._.._etc_passwd-"},
		{"dot file", ".hidden", "_hidden-"},
		{"empty", "", "-"},
		{"unicode", "contacts é", "contacts___-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lockFileName(tt.pipeline)
			assert.True(t, strings.HasPrefix(got, tt.want), "%q", got)
			assert.True(t, strings.HasSuffix(got, ".lock"), "%q", got)
			assert.NotContains(t, got, "/")
			assert.NotContains(t, got, `\`)
		})
	}
	assert.NotEqual(t, lockFileName("a/b"), lockFileName("a_b"), "distinct pipelines never share a lock")
	assert.NotEqual(t, lockFileName("a/b"), lockFileName("a:b"))
	assert.LessOrEqual(t, len(lockFileName(strings.Repeat("x", 500))), 100)
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "etl.db")
	w := openAt(t, path)
	other := openAt(t, path)

	unlock, err := w.Lock(ctx, "hubspot_contacts")
	require.NoError(t, err)
	assert.FileExists(t, path+".locks/hubspot_contacts.lock")

	_, err = w.Lock(ctx, "hubspot_contacts")
	assert.ErrorIs(t, err, engine.ErrLocked, "the same warehouse")
	_, err = other.Lock(ctx, "hubspot_contacts")
	assert.ErrorIs(t, err, engine.ErrLocked, "another warehouse in this process")
	assert.ErrorContains(t, err, "hubspot_contacts")

	unlockOther, err := other.Lock(ctx, "hubspot_deals")
	require.NoError(t, err, "another pipeline")
	require.NoError(t, unlockOther())

	require.NoError(t, unlock())
	require.NoError(t, unlock(), "unlock twice is harmless")
	unlock, err = other.Lock(ctx, "hubspot_contacts")
	require.NoError(t, err, "free after unlock")
	require.NoError(t, unlock())

	t.Run("Close releases the locks", func(t *testing.T) {
		w3, err := open(ctx, "sqlite://"+filepath.ToSlash(path))
		require.NoError(t, err)
		unlock3, err := w3.Lock(ctx, "p")
		require.NoError(t, err)
		require.NoError(t, w3.Close())
		unlock, err := w.Lock(ctx, "p")
		require.NoError(t, err)
		assert.NoError(t, unlock3(), "an unlock after Close is harmless")
		_, err = w.Lock(ctx, "p")
		assert.ErrorIs(t, err, engine.ErrLocked, "and does not release the new holder")
		require.NoError(t, unlock())
	})

	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := w.Lock(cctx, "p")
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestLockHelperProcess is run by TestLockAcrossProcesses in a child process:
// it takes the lock, says so, and waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("ETL_SQLITE_LOCK_HELPER_DB")
	if path == "" {
		t.Skip("the child process of TestLockAcrossProcesses")
	}
	w, err := open(context.Background(), "sqlite://"+filepath.ToSlash(path))
	require.NoError(t, err)
	_, err = w.Lock(context.Background(), "p")
	require.NoError(t, err)
	fmt.Println("locked")
	time.Sleep(time.Minute)
}

func TestLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "etl.db")
	w := openAt(t, path)

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "ETL_SQLITE_LOCK_HELPER_DB="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	locked := false
	for !locked && sc.Scan() {
		locked = sc.Text() == "locked"
	}
	require.True(t, locked, "the child took the lock")

	_, err = w.Lock(ctx, "p")
	assert.ErrorIs(t, err, engine.ErrLocked, "held by another process")

	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	unlock, err := w.Lock(ctx, "p")
	require.NoError(t, err, "the lock died with the process")
	require.NoError(t, unlock())
}

func TestStartRunMarksStaleRunsFailed(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	stale := startRun(t, w, "p")
	otherPipeline := startRun(t, w, "q")
	done := startRun(t, w, "p")
	require.NoError(t, w.FinishRun(ctx, engine.Run{ID: done, Status: engine.StatusSuccess}))
	current := startRun(t, w, "p")

	runs, err := w.Runs(ctx, engine.HistoryFilter{})
	require.NoError(t, err)
	byID := map[int64]engine.Run{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	assert.Equal(t, engine.StatusFailed, byID[stale].Status)
	assert.Equal(t, "interrupted: the process running it stopped before it finished", byID[stale].Error)
	assert.False(t, byID[stale].Finished.IsZero())
	assert.Equal(t, engine.StatusSuccess, byID[done].Status, "a run finished before is left alone")
	assert.Empty(t, byID[done].Error)
	assert.Equal(t, engine.StatusRunning, byID[otherPipeline].Status)
	assert.Equal(t, engine.StatusRunning, byID[current].Status)
	assert.True(t, byID[current].Finished.IsZero())
}

func TestFinishRunAndRuns(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	started := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("EST", -5*3600))
	id, err := w.StartRun(ctx, engine.Run{
		Pipeline: "hubspot_contacts", System: "hubspot", Entity: "contacts",
		Endpoint: "rest https://api.hubapi.com/crm/v3/objects/contacts", Started: started,
		Config: `pipeline "hubspot_contacts" {}`, Metrics: map[string]any{"batch_size": 100},
	})
	require.NoError(t, err)

	finished := started.Add(90 * time.Second)
	run := engine.Run{
		ID: id, Finished: finished, Status: engine.StatusPartial,
		Tally:   engine.Tally{Processed: 20, Created: 10, Updated: 4, Unchanged: 3, Rejected: 2, Failed: 1, Skipped: 5, Warned: 6},
		Error:   "3 records did not land",
		Metrics: map[string]any{"rate": 12.5, "batches": 2},
	}
	require.NoError(t, w.FinishRun(ctx, run))

	// The columns the migration names, in the text forms it documents.
	var system, entity, startedAt, finishedAt, config, metrics string
	require.NoError(t, w.db.QueryRow(`SELECT crm_source, sync_type, started_at, finished_at, configuration, performance_metrics
FROM etl_sync_history WHERE id = ?`, id).Scan(&system, &entity, &startedAt, &finishedAt, &config, &metrics))
	assert.Equal(t, "hubspot", system)
	assert.Equal(t, "contacts", entity)
	assert.Equal(t, "2026-03-01T15:00:00.123456789Z", startedAt)
	assert.Equal(t, "2026-03-01T15:01:30.123456789Z", finishedAt)
	assert.Equal(t, `pipeline "hubspot_contacts" {}`, config)
	assert.JSONEq(t, `{"rate": 12.5, "batches": 2}`, metrics)

	runs, err := w.Runs(ctx, engine.HistoryFilter{Pipeline: "hubspot_contacts"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	got := runs[0]
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "rest https://api.hubapi.com/crm/v3/objects/contacts", got.Endpoint)
	assert.True(t, started.Equal(got.Started))
	assert.True(t, finished.Equal(got.Finished))
	assert.Equal(t, time.UTC, got.Started.Location())
	assert.Equal(t, engine.StatusPartial, got.Status)
	assert.Equal(t, run.Tally, got.Tally)
	assert.Equal(t, run.Error, got.Error)
	assert.Equal(t, map[string]any{"rate": 12.5, "batches": 2.0}, got.Metrics)

	err = w.FinishRun(ctx, engine.Run{ID: 999, Status: engine.StatusSuccess})
	assert.ErrorContains(t, err, "no such run")
	err = w.FinishRun(ctx, engine.Run{ID: id, Status: "bogus"})
	assert.ErrorContains(t, err, "CHECK constraint failed", "the status is checked")
}

func TestRunsOrderAndLimit(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Start times whose RFC3339Nano forms would sort wrong as text
	// ("…00Z" after "…00.5Z"): the stored form has a fixed-width fraction.
	offsets := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	var ids []int64
	for i := 0; i < 25; i++ {
		id, err := w.StartRun(ctx, engine.Run{
			Pipeline: fmt.Sprint("p", i%2), System: "s", Entity: "e",
			Started: base.Add(time.Duration(i/4)*time.Hour + offsets[i%4]),
		})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	tests := []struct {
		name   string
		filter engine.HistoryFilter
		want   int
	}{
		{"default limit", engine.HistoryFilter{}, 20},
		{"limit", engine.HistoryFilter{Limit: 3}, 3},
		{"large limit", engine.HistoryFilter{Limit: 100}, 25},
		{"pipeline", engine.HistoryFilter{Pipeline: "p0", Limit: 100}, 13},
		{"unknown pipeline", engine.HistoryFilter{Pipeline: "nope"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := w.Runs(ctx, tt.filter)
			require.NoError(t, err)
			assert.Len(t, runs, tt.want)
			for i := 1; i < len(runs); i++ {
				assert.True(t, runs[i-1].Started.After(runs[i].Started), "newest first: %v before %v", runs[i-1].Started, runs[i].Started)
			}
			if len(runs) > 0 && tt.filter.Pipeline == "" {
				assert.Equal(t, ids[len(ids)-1], runs[0].ID)
			}
		})
	}
}

func TestState(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := engine.Table{Name: "t", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))

	c, err := w.State(ctx, "p")
	require.NoError(t, err)
	assert.Nil(t, c)

	tests := []struct {
		name  string
		value any
		kind  string
		text  string
	}{
		{"timestamp", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), engine.CursorTime, "2026-01-02T03:04:05.000000006Z"},
		{"integer", int64(42), engine.CursorInt, "42"},
		{"float", 2.5, engine.CursorFloat, "2.5"},
		{"string", "after-token", engine.CursorString, "after-token"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := startRun(t, w, "p")
			b := newBatch(run, []any{int64(i)})
			b.State = &engine.Cursor{Value: tt.value}
			_, err := w.Write(ctx, tb, b)
			require.NoError(t, err)
			c, err := w.State(ctx, "p")
			require.NoError(t, err)
			require.NotNil(t, c)
			assert.Equal(t, tt.value, c.Value)
			assert.Equal(t, tt.kind, queryString(t, w, `SELECT cursor_kind FROM etl_state WHERE pipeline = 'p'`))
			assert.Equal(t, tt.text, queryString(t, w, `SELECT cursor_value FROM etl_state WHERE pipeline = 'p'`))
			assert.Equal(t, fmt.Sprint(run), queryString(t, w, `SELECT run_id FROM etl_state WHERE pipeline = 'p'`))
		})
	}
	c, err = w.State(ctx, "other")
	require.NoError(t, err)
	assert.Nil(t, c, "state is per pipeline")
}

// TestReadsDuringWrite checks that history and state reads do not wait for
// the writing connection.
func TestReadsDuringWrite(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	startRun(t, w, "p")
	tx, err := w.db.BeginTx(ctx, nil) // holds the only writing connection
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.Exec(`INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, updated_at) VALUES ('p', 'string', 'uncommitted', 'now')`)
	require.NoError(t, err)

	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	runs, err := w.Runs(rctx, engine.HistoryFilter{})
	require.NoError(t, err)
	assert.Len(t, runs, 1)
	c, err := w.State(rctx, "p")
	require.NoError(t, err)
	assert.Nil(t, c, "readers see committed data only")
}

var contacts = engine.Table{
	Schema: "hubspot",
	Name:   "contacts",
	Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger},
		{Name: "email", Type: engine.TypeText},
		{Name: "score", Type: engine.TypeFloat},
	},
	Key:  []string{"id"},
	Mode: engine.ModeUpsert,
}

func TestUpsertCounts(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := contacts
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")

	// Each step writes one batch; the rows accumulate. The steps alternate
	// new, unchanged and changed rows so both orders of statements (insert
	// first after a new row, probe first after another) are exercised.
	steps := []struct {
		name  string
		rows  [][]any
		want  engine.Counts
		table [][]any
	}{
		{
			name:  "new rows",
			rows:  [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x", nil}},
			want:  engine.Counts{Created: 2},
			table: [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x", nil}},
		},
		{
			name:  "unchanged, NULL equal to NULL",
			rows:  [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x", nil}},
			want:  engine.Counts{Unchanged: 2},
			table: [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x", nil}},
		},
		{
			name:  "new after unchanged, unchanged after new, changed after unchanged",
			rows:  [][]any{{int64(1), "a@x", 1.0}, {int64(3), "c@x", 3.0}, {int64(2), "b@x", nil}, {int64(1), "A@x", 1.0}},
			want:  engine.Counts{Created: 1, Unchanged: 2, Updated: 1},
			table: [][]any{{int64(1), "A@x", 1.0}, {int64(2), "b@x", nil}, {int64(3), "c@x", 3.0}},
		},
		{
			name:  "changed after new, new after changed",
			rows:  [][]any{{int64(4), "d@x", nil}, {int64(2), "b@x", 2.0}, {int64(5), "e@x", nil}, {int64(3), "c@x", nil}},
			want:  engine.Counts{Created: 2, Updated: 2},
			table: [][]any{{int64(1), "A@x", 1.0}, {int64(2), "b@x", 2.0}, {int64(3), "c@x", nil}, {int64(4), "d@x", nil}, {int64(5), "e@x", nil}},
		},
		{
			name:  "a key repeated in the batch: the last row wins",
			rows:  [][]any{{int64(6), "f1", nil}, {int64(6), "f2", nil}, {int64(6), "f2", nil}},
			want:  engine.Counts{Created: 1, Updated: 1, Unchanged: 1},
			table: [][]any{{int64(1), "A@x", 1.0}, {int64(2), "b@x", 2.0}, {int64(3), "c@x", nil}, {int64(4), "d@x", nil}, {int64(5), "e@x", nil}, {int64(6), "f2", nil}},
		},
		{
			name:  "case and trailing spaces are changes",
			rows:  [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x ", 2.0}},
			want:  engine.Counts{Updated: 2},
			table: [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x ", 2.0}, {int64(3), "c@x", nil}, {int64(4), "d@x", nil}, {int64(5), "e@x", nil}, {int64(6), "f2", nil}},
		},
		{
			name:  "empty batch",
			want:  engine.Counts{},
			table: [][]any{{int64(1), "a@x", 1.0}, {int64(2), "b@x ", 2.0}, {int64(3), "c@x", nil}, {int64(4), "d@x", nil}, {int64(5), "e@x", nil}, {int64(6), "f2", nil}},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			counts, err := w.Write(ctx, tb, newBatch(run, st.rows...))
			require.NoError(t, err)
			assert.Equal(t, st.want, counts)
			assert.Equal(t, st.table, readRows(t, w, tb))
		})
	}
	require.NoError(t, w.Finish(ctx, tb, true))
	assert.Len(t, readRows(t, w, tb), 6)
}

func TestUpsertKeyOnlyAndCompositeKey(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	run := startRun(t, w, "p")

	tags := engine.Table{Name: "tags", Columns: []engine.Column{{Name: "tag", Type: engine.TypeText}}, Key: []string{"tag"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tags))
	counts, err := w.Write(ctx, tags, newBatch(run, []any{"x"}, []any{"y"}, []any{"x"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 2, Unchanged: 1}, counts)

	deals := engine.Table{Name: "deals", Columns: []engine.Column{
		{Name: "tenant", Type: engine.TypeText}, {Name: "amount", Type: engine.TypeDecimal}, {Name: "id", Type: engine.TypeInteger},
	}, Key: []string{"tenant", "id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, deals))
	counts, err = w.Write(ctx, deals, newBatch(run, []any{"a", "1.00", int64(1)}, []any{"b", "1.00", int64(1)}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 2}, counts)
	counts, err = w.Write(ctx, deals, newBatch(run, []any{"a", "1.00", int64(1)}, []any{"b", "1.0", int64(1)}, []any{"a", "1.00", int64(2)}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 1}, counts, "a decimal's text is what is compared")
	assert.Equal(t, [][]any{{"a", "1.00", int64(1)}, {"a", "1.00", int64(2)}, {"b", "1.0", int64(1)}}, readRows(t, w, deals))
}

// TestUpsertFollowsSQLiteEquality checks that keys are matched and values
// compared by SQLite's rules (the column's affinity and collation), never by
// Go's, on tables made by hand.
func TestUpsertFollowsSQLiteEquality(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	_, err := w.db.Exec(`CREATE TABLE textkey (id TEXT PRIMARY KEY, v TEXT);
INSERT INTO textkey VALUES ('01', 'a');
CREATE TABLE nocase (email TEXT COLLATE NOCASE PRIMARY KEY, v TEXT);
INSERT INTO nocase VALUES ('a@x', '1');`)
	require.NoError(t, err)
	run := startRun(t, w, "p")

	t.Run("an integer key against a text column", func(t *testing.T) {
		tb := engine.Table{Name: "textkey", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
		require.NoError(t, w.Prepare(ctx, tb))
		counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "a"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1}, counts, "1 is stored as '1', which is not '01'")
		counts, err = w.Write(ctx, tb, newBatch(run, []any{int64(1), "a"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Unchanged: 1}, counts)
		assert.Equal(t, "01 1", queryString(t, w, `SELECT group_concat(id, ' ') FROM (SELECT id FROM textkey ORDER BY id)`))
	})

	t.Run("a case-insensitive key", func(t *testing.T) {
		tb := engine.Table{Name: "nocase", Columns: []engine.Column{{Name: "email", Type: engine.TypeText}, {Name: "v", Type: engine.TypeText}}, Key: []string{"email"}, Mode: engine.ModeUpsert}
		require.NoError(t, w.Prepare(ctx, tb))
		counts, err := w.Write(ctx, tb, newBatch(run, []any{"A@X", "1"}, []any{"b@x", "2"}, []any{"B@X", "3"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 1}, counts)
		assert.Equal(t, [][]any{{"a@x", "1"}, {"b@x", "3"}}, readRows(t, w, tb))
	})
}

func TestUpsertBatchLargerThanALookup(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "big", Columns: []engine.Column{
		{Name: "tenant", Type: engine.TypeText}, {Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeInteger},
	}, Key: []string{"tenant", "id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	const n = 3*existsChunk + 17
	var rows [][]any
	for i := range n {
		rows = append(rows, []any{fmt.Sprint("t", i%3), int64(i), int64(0)})
	}
	counts, err := w.Write(ctx, tb, newBatch(run, rows...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: n}, counts)

	var again [][]any
	var want engine.Counts
	for i := range n + 5 {
		v := int64(0)
		switch {
		case i >= n:
			want.Created++
		case i%4 == 0:
			v = 1
			want.Updated++
		default:
			want.Unchanged++
		}
		again = append(again, []any{fmt.Sprint("t", i%3), int64(i), v})
	}
	counts, err = w.Write(ctx, tb, newBatch(run, again...))
	require.NoError(t, err)
	assert.Equal(t, want, counts)
}

// TestKeyLookupUsesTheIndex guards the existence lookup against a plan
// that scans the table once a batch.
func TestKeyLookupUsesTheIndex(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tables := []engine.Table{
		{Name: "one", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert},
		{Name: "two", Columns: []engine.Column{{Name: "v", Type: engine.TypeText}, {Name: "t", Type: engine.TypeText}, {Name: "id", Type: engine.TypeInteger}}, Key: []string{"t", "id"}, Mode: engine.ModeUpsert},
	}
	for _, tb := range tables {
		t.Run(tb.Name, func(t *testing.T) {
			require.NoError(t, w.Prepare(ctx, tb))
			tx, err := w.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			p, err := preparePlan(ctx, tx, tb, tb.Name)
			require.NoError(t, err)
			defer p.close()
			args := make([]any, 3*(1+len(tb.Key)))
			rows, err := tx.Query("EXPLAIN QUERY PLAN "+p.lookupSQL(3), args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			assert.Contains(t, strings.Join(plan, "\n"), "SEARCH "+tb.Name+" EXISTS USING")
			assert.NotContains(t, strings.Join(plan, "\n"), "SCAN "+tb.Name)
		})
	}
}

func TestAppend(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "events", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "kind", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeAppend}
	require.NoError(t, w.Prepare(ctx, tb))
	for range 2 {
		counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "open"}, []any{nil, "click"}, []any{int64(1), "open"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 3}, counts, "append takes duplicates and null keys")
	}
	require.NoError(t, w.Finish(ctx, tb, true))
	assert.Equal(t, "6", queryString(t, w, `SELECT count(*) FROM events`))
}

func TestReplace(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}}
	table := func(run int64) engine.Table {
		return engine.Table{Schema: "s", Name: "users", Columns: cols, Key: []string{"id"}, Mode: engine.ModeReplace, RunID: run}
	}
	tables := func() []string {
		rows, err := w.db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 's__users%' ORDER BY name`)
		require.NoError(t, err)
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			names = append(names, n)
		}
		return names
	}

	run := startRun(t, w, "p")
	tb := table(run)
	require.NoError(t, w.Prepare(ctx, tb))
	assert.Equal(t, []string{fmt.Sprintf("s__users__etl_new_%d", run)}, tables(), "the target is only created by the swap")
	counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "ann"}, []any{int64(2), "bob"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 2}, counts)
	require.NoError(t, w.Finish(ctx, tb, true))
	assert.Equal(t, []string{"s__users"}, tables())
	assert.Equal(t, [][]any{{int64(1), "ann"}, {int64(2), "bob"}}, readRows(t, w, tb))

	// A view and an index over the target: the view survives the swap.
	_, err = w.db.Exec(`CREATE VIEW user_names AS SELECT name FROM s__users`)
	require.NoError(t, err)

	t.Run("abort keeps the old table", func(t *testing.T) {
		run := startRun(t, w, "p")
		tb := table(run)
		require.NoError(t, w.Prepare(ctx, tb))
		_, err := w.Write(ctx, tb, newBatch(run, []any{int64(9), "zed"}))
		require.NoError(t, err)
		assert.Equal(t, [][]any{{int64(1), "ann"}, {int64(2), "bob"}}, readRows(t, w, tb), "readers see the old rows meanwhile")
		require.NoError(t, w.Finish(ctx, tb, false))
		assert.Equal(t, []string{"s__users"}, tables())
		assert.Equal(t, [][]any{{int64(1), "ann"}, {int64(2), "bob"}}, readRows(t, w, tb))
	})

	t.Run("a duplicate key is a reject", func(t *testing.T) {
		run := startRun(t, w, "p")
		tb := table(run)
		require.NoError(t, w.Prepare(ctx, tb))
		counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(3), "cy"}, []any{int64(3), "cy again"}, []any{nil, "no key"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1, Failed: 2}, counts)
		rejects := readRejects(t, w, run)
		require.Len(t, rejects, 2)
		assert.Equal(t, "UNIQUE constraint failed: s__users__etl_new_"+fmt.Sprint(run)+".id", rejects[0].Reason)
		assert.Contains(t, rejects[1].Reason, "NOT NULL constraint failed")
		require.NoError(t, w.Finish(ctx, tb, true))
		assert.Equal(t, [][]any{{int64(3), "cy"}}, readRows(t, w, tb))
		assert.Equal(t, "cy", queryString(t, w, `SELECT name FROM user_names`), "the view reads the swapped-in table")
	})

	t.Run("a killed run's table is dropped by the next", func(t *testing.T) {
		killed := startRun(t, w, "p")
		require.NoError(t, w.Prepare(ctx, table(killed)))
		_, err := w.Write(ctx, table(killed), newBatch(killed, []any{int64(7), "lost"}))
		require.NoError(t, err)
		_, err = w.db.Exec(`CREATE TABLE "s__users__etl_new_notanumber" (x)`)
		require.NoError(t, err)

		run := startRun(t, w, "p")
		require.NoError(t, w.Prepare(ctx, table(run)))
		assert.Equal(t, []string{"s__users", fmt.Sprintf("s__users__etl_new_%d", run), "s__users__etl_new_notanumber"}, tables(),
			"only tables named like ours are dropped")
		require.NoError(t, w.Finish(ctx, table(run), true))
		assert.Empty(t, readRows(t, w, table(run)), "an empty load empties the table")
	})

	t.Run("a second Prepare in the same run keeps its rows", func(t *testing.T) {
		run := startRun(t, w, "p")
		tb := table(run)
		tb.Name = "Ünïcødé users"
		require.NoError(t, w.Prepare(ctx, tb))
		_, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "kept"}))
		require.NoError(t, err)
		require.NoError(t, w.Prepare(ctx, tb))
		assert.Equal(t, "1", queryString(t, w, "SELECT count(*) FROM "+quote(newTableName(tb))))
		next := table(run + 1)
		next.Name = tb.Name
		require.NoError(t, w.Prepare(ctx, next), "a later run drops this one's table, whatever the name's bytes")
		assert.Equal(t, "0", queryString(t, w, `SELECT count(*) FROM sqlite_schema WHERE name = ?`, newTableName(tb)))
		require.NoError(t, w.Finish(ctx, next, false))
	})

	t.Run("Finish without Prepare", func(t *testing.T) {
		err := w.Finish(ctx, table(12345), true)
		assert.ErrorContains(t, err, "was Prepare called")
		assert.Equal(t, "0", queryString(t, w, `SELECT count(*) FROM s__users`), "the target is left alone")
		assert.NoError(t, w.Finish(ctx, table(12345), false), "dropping a missing new table is fine")
	})
}

func TestDatabaseRejects(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	// A table made by hand, with constraints the sink does not know about.
	_, err := w.db.Exec(`CREATE TABLE deals (
    id     INTEGER PRIMARY KEY,
    amount TEXT CHECK (CAST(amount AS REAL) >= 0),
    stage  TEXT NOT NULL
)`)
	require.NoError(t, err)
	tb := engine.Table{Name: "deals", Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger}, {Name: "amount", Type: engine.TypeDecimal}, {Name: "stage", Type: engine.TypeText},
	}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")

	b := newBatch(run,
		[]any{int64(1), "10.00", "won"},
		[]any{int64(2), "-5", "lost"},    // CHECK
		[]any{int64(3), "1", nil},        // NOT NULL
		[]any{nil, "1", "open"},          // null key: an INTEGER PRIMARY KEY would invent one
		[]any{int64(4), "2.50", "open"},  // lands
		[]any{int64(1), "-1.00", "lost"}, // CHECK on an update
	)
	b.Origins[1].Pos.Key = "deal-2"
	b.Rejects = []engine.Reject{{Pos: engine.Position{Page: "3"}, Record: `{"id":9}`, Check: "validate has_stage", Reason: "no stage"}}
	b.State = &engine.Cursor{Value: int64(99)}
	counts, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 2, Failed: 4}, counts)
	assert.Equal(t, [][]any{{int64(1), "10.00", "won"}, {int64(4), "2.50", "open"}}, readRows(t, w, tb))

	assert.Equal(t, []engine.Reject{
		{Pos: engine.Position{Page: "3"}, Record: `{"id":9}`, Check: "validate has_stage", Reason: "no stage"},
		{Pos: engine.Position{File: "input.csv", Line: 3, Key: "deal-2"}, Record: "2 -5 lost", Check: "database",
			Reason: "CHECK constraint failed: CAST(amount AS REAL) >= 0"},
		{Pos: engine.Position{File: "input.csv", Line: 4}, Record: "3 1 <nil>", Check: "database",
			Reason: "NOT NULL constraint failed: deals.stage"},
		{Pos: engine.Position{File: "input.csv", Line: 5}, Record: "<nil> 1 open", Check: "database",
			Reason: "NOT NULL constraint failed: deals.id (a key column is null)"},
		{Pos: engine.Position{File: "input.csv", Line: 7}, Record: "1 -1.00 lost", Check: "database",
			Reason: "CHECK constraint failed: CAST(amount AS REAL) >= 0"},
	}, readRejects(t, w, run))
	c, err := w.State(ctx, "p")
	require.NoError(t, err)
	assert.Equal(t, &engine.Cursor{Value: int64(99)}, c, "the state lands with the rows")

	t.Run("origins missing", func(t *testing.T) {
		b := engine.Batch{RunID: run, Pipeline: "p", Rows: [][]any{{int64(5), "-1", "x"}}}
		counts, err := w.Write(ctx, tb, b)
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Failed: 1}, counts)
	})
}

func TestRollbackConflictClauseFailsTheWrite(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	_, err := w.db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL ON CONFLICT ROLLBACK)`)
	require.NoError(t, err)
	tb := engine.Table{Name: "t", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")
	b := newBatch(run, []any{int64(1), "a"}, []any{int64(2), nil}, []any{int64(3), "c"})
	b.State = &engine.Cursor{Value: "x"}
	_, err = w.Write(ctx, tb, b)
	assert.ErrorContains(t, err, "rolled the transaction back")
	assert.Empty(t, readRows(t, w, tb), "nothing of the batch landed, before or after the row")
	c, err := w.State(ctx, "p")
	require.NoError(t, err)
	assert.Nil(t, c)

	counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "a"}))
	require.NoError(t, err, "the warehouse is usable afterwards")
	assert.Equal(t, engine.Counts{Created: 1}, counts)
}

func TestWriteErrorCommitsNothing(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := contacts
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")
	tests := []struct {
		name string
		rows [][]any
		err  string
	}{
		{"a value of the wrong Go type", [][]any{{int64(1), "a", 1.0}, {int64(2), 42, 1.0}}, "row 2 (input.csv:3): column email: got int, want string for text"},
		{"a short row", [][]any{{int64(1), "a", 1.0}, {int64(2), "b"}}, "row 2 (input.csv:3) has 2 values for 3 columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBatch(run, tt.rows...)
			b.State = &engine.Cursor{Value: "x"}
			b.Rejects = []engine.Reject{{Check: "source", Reason: "r"}}
			counts, err := w.Write(ctx, tb, b)
			assert.ErrorContains(t, err, tt.err)
			assert.ErrorContains(t, err, "sink sqlite: write 2 rows to hubspot.contacts")
			assert.Equal(t, engine.Counts{}, counts)
			assert.Empty(t, readRows(t, w, tb))
			assert.Empty(t, readRejects(t, w, run))
			c, err := w.State(ctx, "p")
			require.NoError(t, err)
			assert.Nil(t, c)
		})
	}

	t.Run("a missing table", func(t *testing.T) {
		missing := tb
		missing.Name = "never_prepared"
		_, err := w.Write(ctx, missing, newBatch(run, []any{int64(1), "a", 1.0}))
		assert.ErrorContains(t, err, "no such table")
	})

	t.Run("a canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := w.Write(cctx, tb, newBatch(run, []any{int64(1), "a", 1.0}))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, readRows(t, w, tb))
	})
}

func TestColumnTypesRoundTrip(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := engine.Table{Name: "all_types", Columns: []engine.Column{
		{Name: "k", Type: engine.TypeText},
		{Name: "i", Type: engine.TypeInteger},
		{Name: "f", Type: engine.TypeFloat},
		{Name: "b", Type: engine.TypeBoolean},
		{Name: "ts", Type: engine.TypeTimestamp},
		{Name: "d", Type: engine.TypeDate},
		{Name: "dec", Type: engine.TypeDecimal},
		{Name: "j", Type: engine.TypeJSON},
	}, Key: []string{"k"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")
	cet := time.FixedZone("CET", 3600)

	tests := []struct {
		name string
		row  []any
		want []any  // read back; nil: the row itself
		raw  string // the stored row as SQLite's typeof:quote() text
	}{
		{
			name: "typical",
			row: []any{"a", int64(42), 1.5, true, time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC),
				time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), "-12.50", `{"a": [1, 2.50]}`},
			raw: `text:'a'|integer:42|real:1.5|integer:1|text:'2026-03-01T12:30:45.123456789Z'|text:'2026-02-28'|text:'-12.50'|text:'{"a": [1, 2.50]}'`,
		},
		{
			name: "nulls",
			row:  []any{"b", nil, nil, nil, nil, nil, nil, nil},
			raw:  `text:'b'|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL`,
		},
		{
			name: "extremes",
			row: []any{"c", int64(math.MinInt64), math.MaxFloat64, false, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
				time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "123456789012345678901234567890.000000001", `null`},
			raw: `text:'c'|integer:-9223372036854775808|real:1.7976931348623157e+308|integer:0|text:'0001-01-01T00:00:00.000000000Z'|text:'9999-12-31'|text:'123456789012345678901234567890.000000001'|text:'null'`,
		},
		{
			name: "zone converted to UTC, integral float, numeric text",
			row: []any{"d", int64(0), 3.0, false, time.Date(2026, 7, 1, 0, 30, 0, 0, cet),
				time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "0", `"0042"`},
			want: []any{"d", int64(0), 3.0, false, time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC),
				time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "0", `"0042"`},
			raw: `text:'d'|integer:0|real:3.0|integer:0|text:'2026-06-30T23:30:00.000000000Z'|text:'2026-07-01'|text:'0'|text:'"0042"'`,
		},
		{
			name: "text that looks like a number stays text",
			row:  []any{"0042", int64(1), -0.25, true, nil, nil, "1e3", `"x"`},
			raw:  `text:'0042'|integer:1|real:-0.25|integer:1|null:NULL|null:NULL|text:'1e3'|text:'"x"'`,
		},
		{
			name: "NaN is stored as NULL",
			row:  []any{"e", nil, math.NaN(), nil, nil, nil, nil, nil},
			want: []any{"e", nil, nil, nil, nil, nil, nil, nil},
			raw:  `text:'e'|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL|null:NULL`,
		},
	}
	var rows [][]any
	for _, tt := range tests {
		rows = append(rows, tt.row)
	}
	counts, err := w.Write(ctx, tb, newBatch(run, rows...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: len(rows)}, counts)

	var exprs []string
	for _, c := range tb.Columns {
		exprs = append(exprs, fmt.Sprintf("typeof(%[1]s) || ':' || quote(%[1]s)", quote(c.Name)))
	}
	got := map[any][]any{}
	for _, row := range readRows(t, w, tb) {
		got[row[0]] = row
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := queryString(t, w, "SELECT "+strings.Join(exprs, " || '|' || ")+" FROM all_types WHERE k = ?", tt.row[0])
			assert.Equal(t, tt.raw, raw)
			want := tt.want
			if want == nil {
				want = tt.row
			}
			assert.Equal(t, want, got[tt.row[0]])
		})
	}

	counts, err = w.Write(ctx, tb, newBatch(run, rows...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: len(rows)}, counts, "every type compares equal to its stored form")

	t.Run("a timestamp one nanosecond later is a change", func(t *testing.T) {
		row := append([]any(nil), tests[0].row...)
		row[4] = row[4].(time.Time).Add(time.Nanosecond)
		counts, err := w.Write(ctx, tb, newBatch(run, row))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Updated: 1}, counts)
	})
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		typ  engine.ColumnType
		in   any
		want any
		err  string
	}{
		{"int", engine.TypeInteger, 7, int64(7), ""},
		{"int32", engine.TypeInteger, int32(7), int64(7), ""},
		{"float32", engine.TypeFloat, float32(0.5), 0.5, ""},
		{"integral float from int64", engine.TypeFloat, int64(2), 2.0, ""},
		{"bytes as text", engine.TypeJSON, []byte(`{}`), `{}`, ""},
		{"date keeps the calendar date", engine.TypeDate, time.Date(2026, 1, 2, 0, 0, 0, 0, time.FixedZone("X", 10*3600)), "2026-01-02", ""},
		{"string for integer", engine.TypeInteger, "7", nil, "got string, want int64 for integer"},
		{"string for timestamp", engine.TypeTimestamp, "2026-01-01", nil, "got string, want time.Time for timestamp"},
		{"int for boolean", engine.TypeBoolean, 1, nil, "got int, want bool for boolean"},
		{"unknown type", engine.ColumnType("money"), "1", nil, `unknown column type "money"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encode(tt.typ, tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSchemaMapping(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tests := []struct {
		name  string
		table engine.Table
		want  string
	}{
		{"schema and name", engine.Table{Schema: "hubspot", Name: "contacts"}, "hubspot__contacts"},
		{"name only", engine.Table{Name: "contacts"}, "contacts"},
		{"dots stay", engine.Table{Schema: "a.b", Name: "c"}, "a.b__c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, TableName(tt.table))
			tb := tt.table
			tb.Columns = []engine.Column{{Name: "id", Type: engine.TypeInteger}}
			tb.Key = []string{"id"}
			tb.Mode = engine.ModeUpsert
			require.NoError(t, w.Prepare(ctx, tb))
			assert.Equal(t, "1", queryString(t, w, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, tt.want))
		})
	}
}

func TestPrepare(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)

	t.Run("creates with SQL types and the key", func(t *testing.T) {
		tb := engine.Table{Name: "typed", Columns: []engine.Column{
			{Name: "k", Type: engine.TypeText}, {Name: "i", Type: engine.TypeInteger}, {Name: "f", Type: engine.TypeFloat},
			{Name: "b", Type: engine.TypeBoolean}, {Name: "ts", Type: engine.TypeTimestamp}, {Name: "d", Type: engine.TypeDate},
			{Name: "dec", Type: engine.TypeDecimal}, {Name: "j", Type: engine.TypeJSON},
		}, Key: []string{"k"}, Mode: engine.ModeUpsert}
		require.NoError(t, w.Prepare(ctx, tb))
		require.NoError(t, w.Prepare(ctx, tb), "idempotent")
		assert.Equal(t, "k:TEXT:1:1 i:INTEGER:0:0 f:REAL:0:0 b:INTEGER:0:0 ts:TEXT:0:0 d:TEXT:0:0 dec:TEXT:0:0 j:TEXT:0:0",
			queryString(t, w, `SELECT group_concat(name || ':' || type || ':' || "notnull" || ':' || pk, ' ') FROM pragma_table_info('typed')`))
	})

	t.Run("adds missing columns, matching names as SQLite does", func(t *testing.T) {
		_, err := w.db.Exec(`CREATE TABLE grow (ID INTEGER PRIMARY KEY, Name TEXT, extra TEXT)`)
		require.NoError(t, err)
		_, err = w.db.Exec(`INSERT INTO grow VALUES (1, 'ann', 'kept')`)
		require.NoError(t, err)
		tb := engine.Table{Name: "grow", Columns: []engine.Column{
			{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText},
			{Name: "seen", Type: engine.TypeBoolean}, {Name: "Émile", Type: engine.TypeText}, {Name: "émile", Type: engine.TypeText},
		}, Key: []string{"id"}, Mode: engine.ModeUpsert}
		require.NoError(t, w.Prepare(ctx, tb))
		assert.Equal(t, "ID Name extra seen Émile émile",
			queryString(t, w, `SELECT group_concat(name, ' ') FROM pragma_table_info('grow')`))
		run := startRun(t, w, "p")
		counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "ann", true, "x", "y"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Updated: 1}, counts)
		assert.Equal(t, "kept", queryString(t, w, `SELECT extra FROM grow`), "columns the pipeline does not map are left alone")
	})

	t.Run("upsert needs a unique key", func(t *testing.T) {
		_, err := w.db.Exec(`CREATE TABLE nokey (id INTEGER, v TEXT); CREATE TABLE uniq (id INTEGER, v TEXT, UNIQUE (id));
CREATE TABLE partial (id INTEGER, v TEXT); CREATE UNIQUE INDEX partial_id ON partial (id) WHERE id > 0`)
		require.NoError(t, err)
		cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}
		err = w.Prepare(ctx, engine.Table{Name: "nokey", Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert})
		assert.ErrorContains(t, err, "no primary key or unique index on exactly (id)")
		err = w.Prepare(ctx, engine.Table{Name: "partial", Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert})
		assert.ErrorContains(t, err, "no primary key or unique index")
		assert.NoError(t, w.Prepare(ctx, engine.Table{Name: "nokey", Columns: cols, Key: []string{"id"}, Mode: engine.ModeAppend}))

		tb := engine.Table{Name: "uniq", Columns: cols, Key: []string{"id"}, Mode: engine.ModeUpsert}
		require.NoError(t, w.Prepare(ctx, tb))
		run := startRun(t, w, "p")
		counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "a"}, []any{int64(1), "b"}))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 1, Updated: 1}, counts)
	})

	t.Run("refuses", func(t *testing.T) {
		id := []engine.Column{{Name: "id", Type: engine.TypeInteger}}
		tests := []struct {
			name  string
			table engine.Table
			err   string
		}{
			{"no name", engine.Table{Columns: id, Mode: engine.ModeAppend}, "no name"},
			{"no columns", engine.Table{Name: "x", Mode: engine.ModeAppend}, "no columns"},
			{"upsert without key", engine.Table{Name: "x", Columns: id, Mode: engine.ModeUpsert}, "upsert needs a key"},
			{"unknown key", engine.Table{Name: "x", Columns: id, Key: []string{"nope"}, Mode: engine.ModeUpsert}, "key column nope"},
			{"duplicate column", engine.Table{Name: "x", Columns: append(id, engine.Column{Name: "ID", Type: engine.TypeText}), Mode: engine.ModeAppend}, "declared twice"},
			{"unknown type", engine.Table{Name: "x", Columns: []engine.Column{{Name: "m", Type: "money"}}, Mode: engine.ModeAppend}, "unknown column type"},
			{"unknown mode", engine.Table{Name: "x", Columns: id, Mode: "merge"}, "unknown mode"},
			{"a journal table", engine.Table{Name: "ETL_State", Columns: id, Mode: engine.ModeAppend}, "engine's own tables"},
			{"NUL", engine.Table{Name: "x\x00y", Columns: id, Mode: engine.ModeAppend}, "NUL"},
			{"sqlite's own namespace", engine.Table{Name: "sqlite_stuff", Columns: id, Mode: engine.ModeAppend}, "reserved"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := w.Prepare(ctx, tt.table)
				assert.ErrorContains(t, err, tt.err)
				assert.ErrorContains(t, err, "sink sqlite: prepare")
			})
		}
	})
}

func TestHostileIdentifiers(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	victim := engine.Table{Name: "y", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, victim))
	run := startRun(t, w, "p")
	_, err := w.Write(ctx, victim, newBatch(run, []any{int64(1)}))
	require.NoError(t, err)

	names := []struct {
		name   string
		schema string
		table  string
	}{
		{"statement injection", "", "x; drop table y"},
		{"double quotes", "", `x"); drop table y; --`},
		{"single quotes", `it's`, `o'hara`},
		{"keyword", "select", "from"},
		{"spaces and unicode", "my schema", "Kontakte ünd 🚀"},
	}
	for _, mode := range []engine.Mode{engine.ModeUpsert, engine.ModeAppend, engine.ModeReplace} {
		for _, n := range names {
			t.Run(string(mode)+" "+n.name, func(t *testing.T) {
				tb := engine.Table{
					Schema: n.schema,
					Name:   n.table + " " + string(mode),
					Columns: []engine.Column{
						{Name: `id"); drop table y; --`, Type: engine.TypeInteger},
						{Name: "where", Type: engine.TypeText},
						{Name: `it's "x"`, Type: engine.TypeBoolean},
						{Name: "?1", Type: engine.TypeText},
					},
					Key: []string{`id"); drop table y; --`}, Mode: mode, RunID: run,
				}
				require.NoError(t, w.Prepare(ctx, tb))
				counts, err := w.Write(ctx, tb, newBatch(run, []any{int64(1), "a", true, "?2"}, []any{int64(2), nil, false, nil}))
				require.NoError(t, err)
				assert.Equal(t, engine.Counts{Created: 2}, counts)
				if mode == engine.ModeUpsert {
					counts, err = w.Write(ctx, tb, newBatch(run, []any{int64(1), "a", true, "?2"}, []any{int64(2), "b", false, nil}))
					require.NoError(t, err)
					assert.Equal(t, engine.Counts{Updated: 1, Unchanged: 1}, counts)
				}
				require.NoError(t, w.Finish(ctx, tb, true))
				got := readRows(t, w, tb)
				require.Len(t, got, 2)
				assert.Equal(t, []any{int64(1), "a", true, "?2"}, got[0])
				assert.Equal(t, [][]any{{int64(1)}}, readRows(t, w, victim), "the victim table is intact")
			})
		}
	}
}

func TestPlanTableShowsWhatPrepareWouldRun(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := engine.Table{Schema: "crm", Name: "people", Mode: engine.ModeUpsert, Key: []string{"id"},
		Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}}}

	ddl, err := w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Equal(t, []string{`CREATE TABLE IF NOT EXISTS "crm__people" ("id" INTEGER NOT NULL, "name" TEXT, PRIMARY KEY ("id"))`}, ddl)
	ddl, err = w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Len(t, ddl, 1, "planning changes nothing")

	require.NoError(t, w.Prepare(ctx, tb))
	ddl, err = w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Empty(t, ddl, "the table matches")

	tb.Columns = append(tb.Columns, engine.Column{Name: "born", Type: engine.TypeDate})
	ddl, err = w.PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Equal(t, []string{`ALTER TABLE "crm__people" ADD COLUMN "born" TEXT`}, ddl)

	tb.Key = []string{"name"}
	_, err = w.PlanTable(ctx, tb)
	assert.ErrorContains(t, err, "no primary key or unique index on exactly (name)")
}

func TestInspectCreatesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "later.db")
	w, err := Inspect(ctx, "sqlite://"+path)
	require.NoError(t, err)
	assert.Equal(t, "sqlite "+path+" (not created yet)", w.Describe())
	tb := engine.Table{Name: "t", Mode: engine.ModeUpsert, Key: []string{"id"}, Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}}
	ddl, err := w.(engine.TablePlanner).PlanTable(ctx, tb)
	require.NoError(t, err)
	assert.Len(t, ddl, 1, "a first run would create the table")
	scratch := w.(*Warehouse).scratch
	require.DirExists(t, scratch)
	require.NoError(t, w.Close())
	assert.NoFileExists(t, path)
	assert.NoDirExists(t, scratch, "the stand-in is removed")

	real := openTest(t) // exists: Inspect opens it as it is
	w, err = Inspect(ctx, "sqlite://"+real.Path())
	require.NoError(t, err)
	defer w.Close()
	assert.Equal(t, "", w.(*Warehouse).scratch)
}
