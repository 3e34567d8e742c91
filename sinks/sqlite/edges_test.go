package sqlite

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func TestAffinity(t *testing.T) {
	// Section 3.1 of the SQLite datatype documentation, rule by rule.
	for decl, want := range map[string]string{
		"BIGINT": "INTEGER", "varchar(10)": "TEXT", "CLOB": "TEXT", "": "BLOB", "blob": "BLOB",
		"REAL": "REAL", "FLOAT": "REAL", "double precision": "REAL", "DECIMAL(10,2)": "NUMERIC", "BOOLEAN": "NUMERIC",
		"FLOATING POINT": "INTEGER", "CHARINT": "INTEGER", // rule 1 wins, as the documentation warns
	} {
		assert.Equal(t, want, affinity(decl), decl)
	}
}

func TestPrepareRefusesBadTables(t *testing.T) {
	w := openTest(t)
	col := func(n string) engine.Column { return engine.Column{Name: n, Type: engine.TypeInteger} }
	tests := []struct {
		name string
		tb   engine.Table
		want string
	}{
		{"a NUL in a column name", engine.Table{Name: "t", Columns: []engine.Column{col("a\x00b")}, Mode: engine.ModeAppend}, "invalid column name"},
		{"a key column listed twice", engine.Table{Name: "t", Columns: []engine.Column{col("id")}, Key: []string{"id", "ID"}, Mode: engine.ModeUpsert}, "key column ID is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, w.Prepare(context.Background(), tt.tb), tt.want)
			_, err := w.PlanTable(context.Background(), tt.tb)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDropIfNewCanceled(t *testing.T) {
	w := openTest(t)
	tb := engine.Table{Name: "fresh", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Mode: engine.ModeAppend}
	require.NoError(t, w.Prepare(context.Background(), tb))
	assert.Nil(t, w.SchemaNotes(engine.Table{Name: "never_prepared"}))
	assert.Equal(t, TableName(tb), w.TableName(tb))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dropped, err := w.DropIfNew(ctx, tb)
	assert.False(t, dropped)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "sink sqlite: drop the table fresh this run created")
	assert.Equal(t, "1", queryString(t, w, `SELECT count(*) FROM sqlite_schema WHERE name = 'fresh'`), "the table stays")
}

func TestMetricsThatCannotBeEncoded(t *testing.T) {
	// NaN has no JSON form: the run's history row is refused with the
	// reason, not written with the metrics silently dropped.
	ctx := context.Background()
	w := openTest(t)
	bad := map[string]any{"rate": math.NaN()}
	_, err := w.StartRun(ctx, engine.Run{Pipeline: "p", Metrics: bad})
	assert.ErrorContains(t, err, "sink sqlite: start run of p: encode metrics")
	run := startRun(t, w, "p")
	err = w.FinishRun(ctx, engine.Run{ID: run, Pipeline: "p", Status: engine.StatusSuccess, Metrics: bad})
	assert.ErrorContains(t, err, fmt.Sprintf("sink sqlite: finish run %d: encode metrics", run))
	runs, err := w.Runs(ctx, engine.HistoryFilter{Pipeline: "p"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, engine.StatusRunning, runs[0].Status)
}

func TestPrepareNotesColumnsAddedToRows(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := engine.Table{Name: "grown", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Mode: engine.ModeAppend}
	require.NoError(t, w.Prepare(ctx, tb))
	wider := tb
	wider.Columns = append(wider.Columns, engine.Column{Name: "email", Type: engine.TypeText})
	require.NoError(t, w.Prepare(ctx, wider))
	assert.Empty(t, w.SchemaNotes(wider), "no rows hold NULL in a column added to an empty table")

	_, err := w.Write(ctx, wider, newBatch(startRun(t, w, "p"), []any{int64(1), "a@example.com"}))
	require.NoError(t, err)
	widest := wider
	widest.Columns = append(widest.Columns, engine.Column{Name: "phone", Type: engine.TypeText})
	require.NoError(t, w.Prepare(ctx, widest))
	notes := w.SchemaNotes(widest)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "added column phone to grown: the rows already there hold NULL")
}
