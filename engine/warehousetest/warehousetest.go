// Package warehousetest is a conformance suite for engine.Warehouse
// implementations. A sink package runs it from one of its tests:
//
//	func TestWarehouseConformanceIntegration(t *testing.T) {
//		warehousetest.Run(t, warehousetest.Harness{
//			Open:    func(t *testing.T) engine.Warehouse { … a fresh, empty database … },
//			Rows:    func(t *testing.T, w engine.Warehouse, tb engine.Table) [][]any { … SELECT … },
//			Rejects: func(t *testing.T, w engine.Warehouse, runID int64) []engine.Reject { … },
//		})
//	}
//
// The suite only talks to the warehouse through engine.Warehouse; the two
// read-back hooks are the only place a harness touches its database directly.
package warehousetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// Harness connects the suite to one warehouse implementation.
type Harness struct {
	// Open returns a warehouse on fresh, empty storage of its own (no engine
	// tables, no user tables) that stays usable until the test ends; Open
	// registers the cleanup that closes it. The suite calls Migrate itself.
	Open func(t *testing.T) engine.Warehouse

	// Rows returns every row of table tb as stored in w, ordered by tb.Key
	// (by every column in order when tb.Key is empty), each row holding the
	// values of tb.Columns in order in the column types' Go types (see
	// engine.ColumnType): text string, integer int64, float float64, boolean
	// bool, timestamp time.Time (any location), date time.Time at 00:00 UTC,
	// decimal string (any text of the same exact value: "12.50" and "12.5"
	// are equal), json string (any text of the same JSON value); NULL is nil.
	Rows func(t *testing.T, w engine.Warehouse, tb engine.Table) [][]any

	// Rejects returns the rejects stored for the run, in the order they were
	// written.
	Rejects func(t *testing.T, w engine.Warehouse, runID int64) []engine.Reject

	// Schema, when set, returns a schema name for the test's schema-qualified
	// tables and removes that schema when the test ends. A warehouse whose
	// storage outlives Open's (schemas on a shared PostgreSQL server) needs
	// it; when nil the suite uses "crm", fine for storage made fresh by Open.
	Schema func(t *testing.T, w engine.Warehouse) string

	// Parallel runs the subtests in parallel (each has its own warehouse
	// from Open); the hooks must then be safe for concurrent use.
	Parallel bool
}

// Run runs the conformance subtests against the harness's warehouse.
func Run(t *testing.T, h Harness) {
	require.NotNil(t, h.Open, "Harness.Open")
	require.NotNil(t, h.Rows, "Harness.Rows")
	require.NotNil(t, h.Rejects, "Harness.Rejects")
	s := suite{h: h}
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Describe", s.describe},
		{"MigrateTwice", s.migrateTwice},
		{"Lock", s.lock},
		{"StartRunMarksStaleRunsInterrupted", s.startRunMarksStale},
		{"FinishRunAndRuns", s.finishRunAndRuns},
		{"RunsDefaultLimit", s.runsDefaultLimit},
		{"State", s.state},
		{"Upsert", s.upsert},
		{"UpsertCompositeKey", s.upsertCompositeKey},
		{"UpsertKeyOnlyTable", s.upsertKeyOnly},
		{"Append", s.appendMode},
		{"Replace", s.replace},
		{"Rejects", s.rejects},
		{"KnownRejectsStoredOnce", s.knownRejects},
		{"BatchCountsReachTheHistory", s.batchCounts},
		{"ResolveReplayedRejects", s.resolve},
		{"ColumnTypesRoundTrip", s.columnTypes},
		{"PrepareAddsMissingColumns", s.prepareAddsColumns},
		{"SchemaQualifiedTable", s.schemaQualified},
		{"HostileNames", s.hostileNames},
		{"SourceState", s.sourceState},
		{"DropIfNew", s.dropIfNew},
		{"StateEditor", s.stateEditor},
		{"Deletes", s.deletes},
		{"SchemaDrift", s.schemaDrift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h.Parallel {
				t.Parallel()
			}
			tt.run(t)
		})
	}
}

type suite struct{ h Harness }

// open returns a migrated warehouse.
func (s suite) open(t *testing.T) engine.Warehouse {
	t.Helper()
	w := s.h.Open(t)
	require.NotNil(t, w)
	require.NoError(t, w.Migrate(context.Background()))
	return w
}

// startRun records a running run of pipeline and returns its id.
func startRun(t *testing.T, w engine.Warehouse, pipeline string) int64 {
	t.Helper()
	id, err := w.StartRun(context.Background(), engine.Run{
		Pipeline: pipeline, System: "test", Entity: "things",
		Started: time.Now().UTC().Truncate(time.Microsecond), Status: engine.StatusRunning,
	})
	require.NoError(t, err)
	return id
}

// batch builds a batch whose origins are synthetic records at lines 1…n.
func batch(run int64, pipeline string, rows ...[]any) engine.Batch {
	b := engine.Batch{RunID: run, Pipeline: pipeline, Rows: rows}
	for i := range rows {
		b.Origins = append(b.Origins, &engine.Record{Pos: engine.Position{File: "input.csv", Line: i + 2}, Raw: fmt.Sprint(rows[i]...)})
	}
	return b
}

func (s suite) describe(t *testing.T) {
	w := s.h.Open(t)
	assert.NotEmpty(t, w.Describe())
}

func (s suite) migrateTwice(t *testing.T) {
	ctx := context.Background()
	w := s.h.Open(t)
	require.NoError(t, w.Migrate(ctx))
	require.NoError(t, w.Migrate(ctx), "the second Migrate must be a no-op")
	_, err := w.Runs(ctx, engine.HistoryFilter{})
	assert.NoError(t, err, "the journal works after migrating twice")
}

func (s suite) lock(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	// Lock names are unique per test: a server-wide lock (PostgreSQL's
	// advisory locks) is shared by tests running in parallel.
	p := "lock " + t.Name() + fmt.Sprint(time.Now().UnixNano())

	unlock, err := w.Lock(ctx, p)
	require.NoError(t, err)

	_, err = w.Lock(ctx, p)
	assert.ErrorIs(t, err, engine.ErrLocked, "a second lock of the same pipeline")

	unlockOther, err := w.Lock(ctx, p+" other")
	require.NoError(t, err, "another pipeline's lock is independent")
	require.NoError(t, unlockOther())

	require.NoError(t, unlock())
	unlock2, err := w.Lock(ctx, p)
	require.NoError(t, err, "lockable again after unlock")
	require.NoError(t, unlock2())
}

func (s suite) startRunMarksStale(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	stale := startRun(t, w, "p")
	otherPipeline := startRun(t, w, "q")
	current := startRun(t, w, "p")
	assert.NotEqual(t, stale, current)

	runs, err := w.Runs(ctx, engine.HistoryFilter{})
	require.NoError(t, err)
	byID := map[int64]engine.Run{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	require.Len(t, byID, 3)

	assert.Equal(t, engine.StatusFailed, byID[stale].Status)
	assert.Contains(t, byID[stale].Error, "interrupted")
	assert.False(t, byID[stale].Finished.IsZero(), "an interrupted run gets a finish time")

	assert.Equal(t, engine.StatusRunning, byID[current].Status)
	assert.True(t, byID[current].Finished.IsZero(), "a running run has no finish time")
	assert.Equal(t, engine.StatusRunning, byID[otherPipeline].Status, "another pipeline's run is left alone")
}

func (s suite) finishRunAndRuns(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	base := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)

	var ids []int64
	for i, p := range []string{"a", "b", "a"} {
		r := engine.Run{
			Pipeline: p, System: "hubspot", Entity: "contacts",
			Endpoint: "rest https://api.example.com/contacts",
			Started:  base.Add(time.Duration(i) * time.Minute),
			Status:   engine.StatusRunning,
			Config:   `pipeline "` + p + `" { token = "(redacted)" }`,
		}
		id, err := w.StartRun(ctx, r)
		require.NoError(t, err)
		r.ID = id
		r.Finished = r.Started.Add(30 * time.Second)
		r.Status = engine.StatusPartial
		r.Tally = engine.Tally{Processed: 10 + int64(i), Created: 4, Updated: 3, Unchanged: 1, Rejected: 1, Failed: 1 + int64(i), Skipped: 7, Warned: 2}
		r.Error = fmt.Sprintf("run %d: 1 record rejected", i)
		r.Metrics = map[string]any{"batches": 3.0, "rate": 12.5, "phase": "load"}
		require.NoError(t, w.FinishRun(ctx, r))
		ids = append(ids, id)
	}

	runs, err := w.Runs(ctx, engine.HistoryFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	assert.Equal(t, []int64{ids[2], ids[1], ids[0]}, runIDs(runs), "newest first")

	got := runs[0]
	assert.Equal(t, "a", got.Pipeline)
	assert.Equal(t, "hubspot", got.System)
	assert.Equal(t, "contacts", got.Entity)
	assert.Equal(t, "rest https://api.example.com/contacts", got.Endpoint)
	assert.Equal(t, `pipeline "a" { token = "(redacted)" }`, got.Config)
	assert.True(t, base.Add(2*time.Minute).Equal(got.Started), "started %v", got.Started)
	assert.True(t, base.Add(2*time.Minute+30*time.Second).Equal(got.Finished), "finished %v", got.Finished)
	assert.Equal(t, engine.StatusPartial, got.Status)
	assert.Equal(t, engine.Tally{Processed: 12, Created: 4, Updated: 3, Unchanged: 1, Rejected: 1, Failed: 3, Skipped: 7, Warned: 2}, got.Tally)
	assert.Equal(t, "run 2: 1 record rejected", got.Error)
	assert.Equal(t, map[string]any{"batches": 3.0, "rate": 12.5, "phase": "load"}, got.Metrics,
		"metrics round-trip as JSON: numbers come back as float64")

	tests := []struct {
		name   string
		filter engine.HistoryFilter
		want   []int64
	}{
		{"pipeline filter", engine.HistoryFilter{Pipeline: "a"}, []int64{ids[2], ids[0]}},
		{"other pipeline", engine.HistoryFilter{Pipeline: "b"}, []int64{ids[1]}},
		{"unknown pipeline", engine.HistoryFilter{Pipeline: "zzz"}, nil},
		{"limit", engine.HistoryFilter{Limit: 2}, []int64{ids[2], ids[1]}},
		{"pipeline and limit", engine.HistoryFilter{Pipeline: "a", Limit: 1}, []int64{ids[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := w.Runs(ctx, tt.filter)
			require.NoError(t, err)
			assert.Equal(t, tt.want, runIDs(runs))
		})
	}
}

func runIDs(runs []engine.Run) []int64 {
	var ids []int64
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func (s suite) runsDefaultLimit(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	for i := range 22 {
		startRun(t, w, fmt.Sprint("p", i)) // distinct pipelines: none is marked interrupted
	}
	runs, err := w.Runs(ctx, engine.HistoryFilter{})
	require.NoError(t, err)
	assert.Len(t, runs, 20, "Limit 0 means 20")
}

// sourceState checks etl_source_state, for warehouses that keep it.
func (s suite) sourceState(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	store, ok := w.(engine.SourceStateStore)
	if !ok {
		t.Skip("this warehouse keeps no source state")
	}
	a, b := store.SourceState("a"), store.SourceState("b")
	_, found, err := a.Get(ctx, "oauth2.refresh_token")
	require.NoError(t, err)
	assert.False(t, found)

	require.NoError(t, a.Put(ctx, "oauth2.refresh_token", "rt-1"))
	require.NoError(t, a.Put(ctx, "oauth2.refresh_token", "rt-2"))
	require.NoError(t, b.Put(ctx, "oauth2.refresh_token", "other"))
	v, found, err := a.Get(ctx, "oauth2.refresh_token")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "rt-2", v, "the last Put wins")
	v, _, err = store.SourceState("b").Get(ctx, "oauth2.refresh_token")
	require.NoError(t, err)
	assert.Equal(t, "other", v, "each pipeline has its own")
}

func (s suite) state(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	tb := engine.Table{Name: "state_things", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))

	c, err := w.State(ctx, "p")
	require.NoError(t, err)
	assert.Nil(t, c, "no state before the first write")

	tests := []struct {
		name  string
		value any
	}{
		{"time", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{"int", int64(9007199254740993)},
		{"float", 1.25},
		{"string", "page-token/ä"},
		{"time again", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := startRun(t, w, "p")
			b := batch(run, "p", []any{int64(i)})
			b.State = &engine.Cursor{Value: tt.value}
			_, err := w.Write(ctx, tb, b)
			require.NoError(t, err)

			c, err := w.State(ctx, "p")
			require.NoError(t, err)
			require.NotNil(t, c)
			assert.Equal(t, tt.value, c.Value)

			other, err := w.State(ctx, "other")
			require.NoError(t, err)
			assert.Nil(t, other, "state is per pipeline")
		})
	}

	t.Run("write without state keeps it", func(t *testing.T) {
		run := startRun(t, w, "p")
		_, err := w.Write(ctx, tb, batch(run, "p", []any{int64(100)}))
		require.NoError(t, err)
		c, err := w.State(ctx, "p")
		require.NoError(t, err)
		require.NotNil(t, c)
		assert.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), c.Value)
	})

	t.Run("empty batch with state", func(t *testing.T) {
		run := startRun(t, w, "p")
		b := batch(run, "p")
		b.State = &engine.Cursor{Value: "end"}
		counts, err := w.Write(ctx, tb, b)
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{}, counts)
		c, err := w.State(ctx, "p")
		require.NoError(t, err)
		require.NotNil(t, c)
		assert.Equal(t, "end", c.Value)
	})
}

func (s suite) upsert(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{
		Name: "contacts",
		Columns: []engine.Column{
			{Name: "id", Type: engine.TypeInteger},
			{Name: "name", Type: engine.TypeText},
			{Name: "score", Type: engine.TypeFloat},
		},
		Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run,
	}
	require.NoError(t, w.Prepare(ctx, tb))
	require.NoError(t, w.Prepare(ctx, tb), "Prepare is idempotent")

	// Each step writes one batch; the table's rows accumulate across steps.
	steps := []struct {
		name  string
		rows  [][]any
		want  engine.Counts
		table [][]any
	}{
		{
			name:  "new rows are created",
			rows:  [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", nil}},
			want:  engine.Counts{Created: 2},
			table: [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", nil}},
		},
		{
			name:  "identical rows are unchanged",
			rows:  [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", nil}},
			want:  engine.Counts{Unchanged: 2},
			table: [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", nil}},
		},
		{
			name:  "changed, unchanged and new rows",
			rows:  [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", 2.0}, {int64(3), "cy", 3.0}},
			want:  engine.Counts{Created: 1, Updated: 1, Unchanged: 1},
			table: [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", 2.0}, {int64(3), "cy", 3.0}},
		},
		{
			name:  "a value set to NULL is an update",
			rows:  [][]any{{int64(3), "cy", nil}},
			want:  engine.Counts{Updated: 1},
			table: [][]any{{int64(1), "ann", 1.5}, {int64(2), "bob", 2.0}, {int64(3), "cy", nil}},
		},
		{
			// The last row of a key wins; the rows it superseded count as
			// updated, so every row of the batch is accounted for.
			name:  "duplicate keys in one batch: the last wins",
			rows:  [][]any{{int64(4), "first", nil}, {int64(1), "ann2", 1.5}, {int64(4), "second", nil}, {int64(4), "last", 4.0}},
			want:  engine.Counts{Created: 1, Updated: 3},
			table: [][]any{{int64(1), "ann2", 1.5}, {int64(2), "bob", 2.0}, {int64(3), "cy", nil}, {int64(4), "last", 4.0}},
		},
		{
			name:  "empty batch",
			rows:  nil,
			want:  engine.Counts{},
			table: [][]any{{int64(1), "ann2", 1.5}, {int64(2), "bob", 2.0}, {int64(3), "cy", nil}, {int64(4), "last", 4.0}},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			counts, err := w.Write(ctx, tb, batch(run, "p", st.rows...))
			require.NoError(t, err)
			assert.Equal(t, st.want, counts)
			assert.Equal(t, Canonical(tb, st.table), Canonical(tb, s.h.Rows(t, w, tb)))
		})
	}
	require.NoError(t, w.Finish(ctx, tb, true))
	assert.Len(t, s.h.Rows(t, w, tb), 4, "Finish leaves an upserted table as it is")
}

func (s suite) upsertCompositeKey(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{
		Name: "deals",
		Columns: []engine.Column{
			{Name: "amount", Type: engine.TypeDecimal},
			{Name: "tenant", Type: engine.TypeText},
			{Name: "id", Type: engine.TypeInteger},
		},
		Key: []string{"tenant", "id"}, Mode: engine.ModeUpsert, RunID: run,
	}
	require.NoError(t, w.Prepare(ctx, tb))
	counts, err := w.Write(ctx, tb, batch(run, "p",
		[]any{"1.00", "a", int64(1)}, []any{"2.00", "b", int64(1)}, []any{"3.00", "a", int64(2)}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 3}, counts)

	counts, err = w.Write(ctx, tb, batch(run, "p",
		[]any{"1.00", "a", int64(1)}, []any{"2.50", "b", int64(1)}, []any{"4.00", "b", int64(2)}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 1}, counts)
	assert.Equal(t, Canonical(tb, [][]any{
		{"1.00", "a", int64(1)}, {"3.00", "a", int64(2)}, {"2.50", "b", int64(1)}, {"4.00", "b", int64(2)},
	}), Canonical(tb, s.h.Rows(t, w, tb)))
}

func (s suite) upsertKeyOnly(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "tags", Columns: []engine.Column{{Name: "tag", Type: engine.TypeText}}, Key: []string{"tag"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, tb))
	counts, err := w.Write(ctx, tb, batch(run, "p", []any{"x"}, []any{"y"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 2}, counts)
	counts, err = w.Write(ctx, tb, batch(run, "p", []any{"x"}, []any{"z"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Unchanged: 1}, counts)
	assert.Equal(t, [][]any{{"x"}, {"y"}, {"z"}}, Canonical(tb, s.h.Rows(t, w, tb)))
}

func (s suite) appendMode(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{
		Name: "events",
		Columns: []engine.Column{
			{Name: "id", Type: engine.TypeInteger},
			{Name: "kind", Type: engine.TypeText},
		},
		Mode: engine.ModeAppend, RunID: run,
	}
	require.NoError(t, w.Prepare(ctx, tb))
	rows := [][]any{{int64(1), "open"}, {int64(2), "click"}, {int64(1), "open"}}
	for range 2 {
		counts, err := w.Write(ctx, tb, batch(run, "p", rows...))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: 3}, counts, "append creates every row, duplicates included")
	}
	require.NoError(t, w.Finish(ctx, tb, true))
	assert.Equal(t, [][]any{
		{int64(1), "open"}, {int64(1), "open"}, {int64(1), "open"}, {int64(1), "open"},
		{int64(2), "click"}, {int64(2), "click"},
	}, Canonical(tb, s.h.Rows(t, w, tb)))
}

func (s suite) replace(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	cols := []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}}
	load := func(t *testing.T, ok bool, rows ...[]any) engine.Table {
		t.Helper()
		run := startRun(t, w, "p")
		tb := engine.Table{Name: "users", Columns: cols, Key: []string{"id"}, Mode: engine.ModeReplace, RunID: run}
		require.NoError(t, w.Prepare(ctx, tb))
		counts, err := w.Write(ctx, tb, batch(run, "p", rows...))
		require.NoError(t, err)
		assert.Equal(t, engine.Counts{Created: len(rows)}, counts)
		require.NoError(t, w.Finish(ctx, tb, ok))
		return tb
	}

	t.Run("first load", func(t *testing.T) {
		tb := load(t, true, []any{int64(1), "ann"}, []any{int64(2), "bob"})
		assert.Equal(t, [][]any{{int64(1), "ann"}, {int64(2), "bob"}}, Canonical(tb, s.h.Rows(t, w, tb)))
	})

	t.Run("readers see the old rows until Finish", func(t *testing.T) {
		run := startRun(t, w, "p")
		tb := engine.Table{Name: "users", Columns: cols, Key: []string{"id"}, Mode: engine.ModeReplace, RunID: run}
		require.NoError(t, w.Prepare(ctx, tb))
		_, err := w.Write(ctx, tb, batch(run, "p", []any{int64(3), "cy"}))
		require.NoError(t, err)
		assert.Equal(t, [][]any{{int64(1), "ann"}, {int64(2), "bob"}}, Canonical(tb, s.h.Rows(t, w, tb)))
		_, err = w.Write(ctx, tb, batch(run, "p", []any{int64(4), "di"}))
		require.NoError(t, err)
		require.NoError(t, w.Finish(ctx, tb, true))
		assert.Equal(t, [][]any{{int64(3), "cy"}, {int64(4), "di"}}, Canonical(tb, s.h.Rows(t, w, tb)), "Finish(ok) swaps the new rows in")
	})

	t.Run("a failed load leaves the old rows", func(t *testing.T) {
		tb := load(t, false, []any{int64(9), "zed"})
		assert.Equal(t, [][]any{{int64(3), "cy"}, {int64(4), "di"}}, Canonical(tb, s.h.Rows(t, w, tb)))
	})

	t.Run("an empty load empties the table", func(t *testing.T) {
		tb := load(t, true)
		assert.Empty(t, s.h.Rows(t, w, tb))
	})

	t.Run("a load after a failed one", func(t *testing.T) {
		tb := load(t, true, []any{int64(5), "eve"})
		assert.Equal(t, [][]any{{int64(5), "eve"}}, Canonical(tb, s.h.Rows(t, w, tb)))
	})
}

func (s suite) rejects(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "contacts", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, tb))

	want := []engine.Reject{
		{Pos: engine.Position{File: "contacts.csv", Line: 12, Key: "42"}, Record: "42,,Ann", Check: "validate has_email", Reason: "contact has no email"},
		{Pos: engine.Position{Page: "https://api.example.com/contacts?after=7", Key: "7"}, Record: `{"id":"7","email":"x"}`, Check: "map email", Reason: `email: "x" is not an email address`},
		{Check: "source", Reason: "ragged row: 3 fields, want 4", Record: "a,b,\"c\nd"},
	}
	b := batch(run, "p", []any{int64(1)})
	b.Rejects = want
	counts, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1}, counts, "the engine's rejects are not counted by the sink")
	assert.Equal(t, want, s.h.Rejects(t, w, run))

	other := startRun(t, w, "q")
	assert.Empty(t, s.h.Rejects(t, w, other), "rejects are per run")

	b = batch(run, "p")
	b.Rejects = []engine.Reject{{Check: "source", Reason: "only rejects"}}
	_, err = w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Len(t, s.h.Rejects(t, w, run), 4, "a batch of only rejects")
}

// unresolved lists the pipeline's unresolved rejects through engine.RejectStore.
func unresolved(t *testing.T, w engine.Warehouse, pipeline string) []engine.StoredReject {
	t.Helper()
	rs, ok := w.(engine.RejectStore)
	require.True(t, ok, "the warehouse implements engine.RejectStore")
	got, err := rs.Rejects(context.Background(), engine.RejectFilter{Pipeline: pipeline, Unresolved: true})
	require.NoError(t, err)
	return got
}

// knownRejects: a later run that meets the same records again (the
// engine's rejects and a row the database refuses) finds them stored,
// counts them as known and updates them, storing nothing twice.
func (s suite) knownRejects(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	tb := engine.Table{Name: "contacts", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	rejects := []engine.Reject{
		{Pos: engine.Position{File: "contacts.csv", Line: 12}, Record: "42,,Ann", Check: "validate has_email", Reason: "contact has no email", Category: engine.CategoryValidation},
		{Pos: engine.Position{File: "contacts.csv", Line: 13}, Record: "x,b@example.com,Bob", Check: "map id", Reason: "not a number", Category: engine.CategoryConversion},
	}
	write := func(run int64, rejects []engine.Reject) engine.Counts {
		b := batch(run, "p", []any{int64(1)}, []any{nil}) // a null key: refused
		b.Rejects = rejects
		c, err := w.Write(ctx, tb, b)
		require.NoError(t, err)
		return c
	}
	first := startRun(t, w, "p")
	c := write(first, rejects)
	assert.Equal(t, engine.Counts{Created: 1, Failed: 1}, c)
	require.Len(t, unresolved(t, w, "p"), 3)

	second := startRun(t, w, "p")
	again := append([]engine.Reject(nil), rejects...)
	again[1].Reason = "not a number, still"
	c = write(second, again)
	assert.Equal(t, engine.Counts{Unchanged: 1, KnownRejected: 2, KnownFailed: 1}, c)
	got := unresolved(t, w, "p")
	require.Len(t, got, 3, "nothing stored twice")
	for _, r := range got {
		assert.Equal(t, first, r.RunID, "first rejected by the first run")
		assert.Equal(t, second, r.LastRunID, "seen again by the second")
	}
	assert.Equal(t, "not a number, still", got[1].Reason, "the reason is the latest")
	assert.Equal(t, engine.CategoryDatabase, got[2].Category)
	assert.Equal(t, "database", got[2].Check)

	other := startRun(t, w, "q")
	b := batch(other, "q")
	b.Rejects = []engine.Reject{rejects[0], rejects[0]}
	c, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{KnownRejected: 1}, c, "the same record twice in a batch is stored once")
	assert.Len(t, unresolved(t, w, "q"), 1)
	assert.Len(t, unresolved(t, w, "p"), 3, "rejects are per pipeline")
}

// batchCounts: each batch adds its tally to its run's history row, with a
// heartbeat, so a run that never finishes shows what it landed, and the
// next run marks it interrupted at its last heartbeat.
func (s suite) batchCounts(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	tb := engine.Table{Name: "contacts", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "name", Type: engine.TypeText}},
		Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")
	tb.RunID = run
	b := batch(run, "p", []any{int64(1), "a"}, []any{int64(2), "b"})
	b.Tally = engine.Tally{Processed: 3, Rejected: 1, Skipped: 5}
	b.Rejects = []engine.Reject{{Pos: engine.Position{Line: 9}, Record: "9", Check: "validate x", Reason: "no", Category: engine.CategoryValidation}}
	_, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	// The second batch goes through the upsert: one new key, one changed, one as it was.
	b = batch(run, "p", []any{int64(2), "B"}, []any{int64(3), "c"}, []any{int64(1), "a"}, []any{nil, "refused"})
	b.Tally = engine.Tally{Processed: 5, Warned: 2}
	c, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, Updated: 1, Unchanged: 1, Failed: 1}, c)

	runs, err := w.Runs(ctx, engine.HistoryFilter{Pipeline: "p"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, engine.StatusRunning, runs[0].Status)
	assert.Equal(t, engine.Tally{Processed: 8, Created: 3, Updated: 1, Unchanged: 1, Rejected: 1, Failed: 1, Skipped: 5, Warned: 2}, runs[0].Tally)
	assert.Equal(t, map[engine.RejectCategory]int64{engine.CategoryValidation: 1, engine.CategoryDatabase: 1}, runs[0].Categories)
	beat := runs[0].Heartbeat
	assert.False(t, beat.IsZero(), "a committed batch sets the heartbeat")
	assert.False(t, beat.Before(runs[0].Started.Truncate(time.Second)))

	next := startRun(t, w, "p")
	runs, err = w.Runs(ctx, engine.HistoryFilter{Pipeline: "p"})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, next, runs[0].ID)
	dead := runs[1]
	assert.Equal(t, engine.StatusFailed, dead.Status)
	assert.Contains(t, dead.Error, "interrupted")
	assert.Equal(t, int64(8), dead.Tally.Processed, "an interrupted run keeps what its batches counted")
	assert.True(t, dead.Finished.Equal(beat), "an interrupted run ends at its last heartbeat: %v, want %v", dead.Finished, beat)
	assert.Equal(t, engine.RunModeRun, dead.Mode)

	replay, err := w.StartRun(ctx, engine.Run{Pipeline: "p", System: "test", Entity: "things", Started: time.Now(), Status: engine.StatusRunning, Mode: engine.RunModeReplay})
	require.NoError(t, err)
	cats := map[engine.RejectCategory]int64{engine.CategoryValidation: 2, engine.CategoryDatabase: 1}
	require.NoError(t, w.FinishRun(ctx, engine.Run{ID: replay, Status: engine.StatusSuccess, Categories: cats,
		Tally: engine.Tally{Processed: 4, Created: 1, AlreadyRejected: 3, Recovered: 1}}))
	runs, err = w.Runs(ctx, engine.HistoryFilter{Pipeline: "p", Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, engine.RunModeReplay, runs[0].Mode)
	assert.Equal(t, cats, runs[0].Categories)
	assert.Equal(t, engine.Tally{Processed: 4, Created: 1, AlreadyRejected: 3, Recovered: 1}, runs[0].Tally)
}

// resolve: a replay's rows that land mark their rejects resolved in the
// same transaction; a row refused again stays unresolved, known.
func (s suite) resolve(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	tb := engine.Table{Name: "contacts", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert}
	require.NoError(t, w.Prepare(ctx, tb))
	first := startRun(t, w, "p")
	b := batch(first, "p")
	b.Rejects = []engine.Reject{
		{Pos: engine.Position{Line: 2}, Record: "5", Check: "map id", Reason: "bad", Category: engine.CategoryConversion},
		{Pos: engine.Position{Line: 3}, Record: "", Check: "map id", Reason: "bad", Category: engine.CategoryConversion},
	}
	_, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	stored := unresolved(t, w, "p")
	require.Len(t, stored, 2)

	replay := startRun(t, w, "p")
	b = engine.Batch{RunID: replay, Pipeline: "p", Rows: [][]any{{int64(5)}, {nil}},
		Origins: []*engine.Record{{Pos: stored[0].Pos, Raw: stored[0].Record}, {Pos: stored[1].Pos, Raw: stored[1].Record}},
		Resolve: []int64{stored[0].ID, stored[1].ID}}
	c, err := w.Write(ctx, tb, b)
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1, KnownFailed: 1, Resolved: 1}, c)
	assert.Equal(t, []int64{stored[0].ID, stored[1].ID}, b.Resolve, "the caller's Resolve is left as it was")

	left := unresolved(t, w, "p")
	require.Len(t, left, 1)
	assert.Equal(t, stored[1].ID, left[0].ID)
	assert.Equal(t, engine.CategoryDatabase, left[0].Category, "the record's new reason")
	rs := w.(engine.RejectStore)
	all, err := rs.Rejects(ctx, engine.RejectFilter{Pipeline: "p"})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, replay, all[0].ResolvedBy)
	assert.False(t, all[0].ResolvedAt.IsZero())
}

func (s suite) columnTypes(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{
		Name: "all_types",
		Columns: []engine.Column{
			{Name: "k", Type: engine.TypeText},
			{Name: "i", Type: engine.TypeInteger},
			{Name: "f", Type: engine.TypeFloat},
			{Name: "b", Type: engine.TypeBoolean},
			{Name: "ts", Type: engine.TypeTimestamp},
			{Name: "d", Type: engine.TypeDate},
			{Name: "dec", Type: engine.TypeDecimal},
			{Name: "j", Type: engine.TypeJSON},
		},
		Key: []string{"k"}, Mode: engine.ModeUpsert, RunID: run,
	}
	require.NoError(t, w.Prepare(ctx, tb))
	berlin := time.FixedZone("CET", 3600)
	rows := []struct {
		name string
		row  []any
	}{
		{"typical", []any{"a typical row", int64(42), 1.5, true,
			time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC), time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC),
			"-12.50", `{"name": "Ann", "tags": ["x", "y"], "n": 1.5, "nested": {"ok": true, "none": null}}`}},
		{"nulls", []any{"b all nulls", nil, nil, nil, nil, nil, nil, nil}},
		{"extremes", []any{"c extremes", int64(math.MaxInt64), math.MaxFloat64, false,
			time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			"12345678901234567890.123456789", `[1, "a", null, [], {}]`}},
		{"negatives and zone", []any{"d negatives", int64(math.MinInt64), -0.000123, false,
			time.Date(2026, 7, 1, 23, 59, 59, 999999000, berlin), time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC),
			"-0.000000000000000000000000000001", `"a JSON string"`}},
		{"text that needs care", []any{`e 'quotes' "double" \back ; -- ünïcødé 🚀` + "\ttab\nnewline", int64(0), 0.0, true,
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			"0", `123`}},
	}
	var all [][]any
	for _, r := range rows {
		all = append(all, r.row)
	}
	counts, err := w.Write(ctx, tb, batch(run, "p", all...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: len(rows)}, counts)

	got := Canonical(tb, s.h.Rows(t, w, tb))
	require.Len(t, got, len(rows))
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			want := Canonical(tb, [][]any{r.row})[0]
			for c, col := range tb.Columns {
				assert.Equal(t, want[c], got[i][c], "column %s (%s)", col.Name, col.Type)
			}
		})
	}

	counts, err = w.Write(ctx, tb, batch(run, "p", all...))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Unchanged: len(rows)}, counts, "rewriting every type unchanged is detected as unchanged")
}

func (s suite) prepareAddsColumns(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	tb := engine.Table{Name: "grow", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "a", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, tb))
	_, err := w.Write(ctx, tb, batch(run, "p", []any{int64(1), "x"}))
	require.NoError(t, err)

	grown := tb
	grown.Columns = append(append([]engine.Column(nil), tb.Columns...), engine.Column{Name: "b", Type: engine.TypeDate}, engine.Column{Name: "c", Type: engine.TypeJSON})
	require.NoError(t, w.Prepare(ctx, grown))
	counts, err := w.Write(ctx, grown, batch(run, "p", []any{int64(2), "y", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), `{"a": 1}`}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Created: 1}, counts)
	assert.Equal(t, Canonical(grown, [][]any{
		{int64(1), "x", nil, nil},
		{int64(2), "y", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), `{"a":1}`},
	}), Canonical(grown, s.h.Rows(t, w, grown)))

	// A pipeline that maps fewer columns than the table has still writes.
	counts, err = w.Write(ctx, tb, batch(run, "p", []any{int64(1), "x2"}))
	require.NoError(t, err)
	assert.Equal(t, engine.Counts{Updated: 1}, counts)
}

func (s suite) schemaQualified(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	schema := "crm"
	if s.h.Schema != nil {
		schema = s.h.Schema(t, w)
	}
	tb := engine.Table{Schema: schema, Name: "contacts", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	plain := tb
	plain.Schema = ""
	for _, x := range []engine.Table{tb, plain} {
		require.NoError(t, w.Prepare(ctx, x))
	}
	_, err := w.Write(ctx, tb, batch(run, "p", []any{int64(1), "in crm"}))
	require.NoError(t, err)
	_, err = w.Write(ctx, plain, batch(run, "p", []any{int64(1), "plain"}, []any{int64(2), "plain"}))
	require.NoError(t, err)
	assert.Equal(t, [][]any{{int64(1), "in crm"}}, Canonical(tb, s.h.Rows(t, w, tb)))
	assert.Len(t, s.h.Rows(t, w, plain), 2, "a schema-qualified table is a different table")

	replaced := tb
	replaced.Mode = engine.ModeReplace
	replaced.RunID = startRun(t, w, "p")
	require.NoError(t, w.Prepare(ctx, replaced))
	_, err = w.Write(ctx, replaced, batch(replaced.RunID, "p", []any{int64(7), "replaced"}))
	require.NoError(t, err)
	require.NoError(t, w.Finish(ctx, replaced, true))
	assert.Equal(t, [][]any{{int64(7), "replaced"}}, Canonical(tb, s.h.Rows(t, w, tb)))
	assert.Len(t, s.h.Rows(t, w, plain), 2, "replace swaps only its own table")
}

func (s suite) hostileNames(t *testing.T) {
	ctx := context.Background()
	w := s.open(t)
	run := startRun(t, w, "p")
	victim := engine.Table{Name: "y", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: run}
	require.NoError(t, w.Prepare(ctx, victim))
	_, err := w.Write(ctx, victim, batch(run, "p", []any{int64(1)}))
	require.NoError(t, err)

	for _, mode := range []engine.Mode{engine.ModeUpsert, engine.ModeAppend, engine.ModeReplace} {
		t.Run(string(mode), func(t *testing.T) {
			tb := engine.Table{
				Name: `x; drop table y; -- "` + string(mode) + `"`,
				Columns: []engine.Column{
					{Name: `id"); drop table y; --`, Type: engine.TypeInteger},
					{Name: "select", Type: engine.TypeText},
					{Name: "Mixed Case", Type: engine.TypeText},
					{Name: "it's", Type: engine.TypeBoolean},
				},
				Key: []string{`id"); drop table y; --`}, Mode: mode, RunID: run,
			}
			require.NoError(t, w.Prepare(ctx, tb))
			counts, err := w.Write(ctx, tb, batch(run, "p", []any{int64(1), "a", "B", true}, []any{int64(2), nil, "c", false}))
			require.NoError(t, err)
			assert.Equal(t, engine.Counts{Created: 2}, counts)
			if mode == engine.ModeUpsert {
				counts, err = w.Write(ctx, tb, batch(run, "p", []any{int64(1), "a", "B", true}, []any{int64(2), "b", "c", false}))
				require.NoError(t, err)
				assert.Equal(t, engine.Counts{Updated: 1, Unchanged: 1}, counts)
			}
			require.NoError(t, w.Finish(ctx, tb, true))
			assert.Len(t, s.h.Rows(t, w, tb), 2)
			assert.Equal(t, [][]any{{int64(1)}}, s.h.Rows(t, w, victim), "the victim table is intact")
		})
	}
}

// Canonical returns rows with each value in a form that compares equal with
// testify's assert.Equal exactly when the values are equal for the column's
// type: times in UTC, decimals as exact fractions ("25/2"), JSON re-encoded
// compactly with sorted keys. Values of an unexpected Go type are left as they
// are, so a mismatch shows in the diff. Harness authors may use it in their
// own tests too.
func Canonical(tb engine.Table, rows [][]any) [][]any {
	if rows == nil {
		return nil
	}
	out := make([][]any, len(rows))
	for i, row := range rows {
		out[i] = make([]any, len(row))
		for c, v := range row {
			typ := engine.ColumnType("")
			if c < len(tb.Columns) {
				typ = tb.Columns[c].Type
			}
			out[i][c] = canonicalValue(typ, v)
		}
	}
	return out
}

func canonicalValue(typ engine.ColumnType, v any) any {
	switch typ {
	case engine.TypeTimestamp, engine.TypeDate:
		if x, ok := v.(time.Time); ok {
			return x.UTC()
		}
	case engine.TypeDecimal:
		if x, ok := v.(string); ok {
			if r, ok := new(big.Rat).SetString(x); ok {
				return "decimal " + r.RatString()
			}
		}
	case engine.TypeJSON:
		if x, ok := v.(string); ok {
			return canonicalJSON(x)
		}
	}
	return v
}

func canonicalJSON(s string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "invalid JSON " + s
	}
	v = canonicalNumbers(v)
	b, err := json.Marshal(v)
	if err != nil {
		return "invalid JSON " + s
	}
	return "json " + string(b)
}

// canonicalNumbers rewrites JSON numbers as exact fractions so 1.50 and 1.5
// compare equal.
func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return "number " + r.RatString()
		}
	case []any:
		for i := range x {
			x[i] = canonicalNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = canonicalNumbers(x[k])
		}
	}
	return v
}
