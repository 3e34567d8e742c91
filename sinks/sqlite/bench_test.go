package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

const (
	benchRows  = 100_000
	benchBatch = 1000
)

// benchTable is a typical CRM entity: eight columns of most types.
func benchTable(name string, mode engine.Mode) engine.Table {
	return engine.Table{
		Name: name,
		Columns: []engine.Column{
			{Name: "id", Type: engine.TypeInteger},
			{Name: "email", Type: engine.TypeText},
			{Name: "name", Type: engine.TypeText},
			{Name: "score", Type: engine.TypeFloat},
			{Name: "active", Type: engine.TypeBoolean},
			{Name: "updated_at", Type: engine.TypeTimestamp},
			{Name: "amount", Type: engine.TypeDecimal},
			{Name: "props", Type: engine.TypeJSON},
		},
		Key:  []string{"id"},
		Mode: mode,
	}
}

// benchBatches returns benchRows rows in batches; version changes every
// non-key value.
func benchBatches(version int) []engine.Batch {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batches []engine.Batch
	for start := 0; start < benchRows; start += benchBatch {
		b := engine.Batch{RunID: 1, Pipeline: "bench"}
		for i := start; i < start+benchBatch; i++ {
			b.Rows = append(b.Rows, []any{
				int64(i),
				fmt.Sprintf("user%d@example.com", i),
				fmt.Sprintf("User %d v%d", i, version),
				float64(i%1000) / 8,
				i%2 == version%2,
				base.Add(time.Duration(i+version) * time.Second),
				fmt.Sprintf("%d.%02d", i%10000, version%100),
				fmt.Sprintf(`{"stage":"lead","v":%d}`, version),
			})
			b.Origins = append(b.Origins, &engine.Record{Pos: engine.Position{Line: i + 2}})
		}
		batches = append(batches, b)
	}
	return batches
}

func writeAll(b *testing.B, w *Warehouse, tb engine.Table, batches []engine.Batch, want func(engine.Counts) int) {
	ctx := context.Background()
	n := 0
	for _, batch := range batches {
		c, err := w.Write(ctx, tb, batch)
		require.NoError(b, err)
		n += want(c)
	}
	require.Equal(b, benchRows, n)
}

// BenchmarkWrite100k writes 100,000 rows in batches of 1,000 per op and
// reports rows/s. Run: go test -run '^$' -bench Write100k ./sinks/sqlite/
func BenchmarkWrite100k(b *testing.B) {
	ctx := context.Background()
	w, err := open(ctx, "sqlite://"+filepath.ToSlash(filepath.Join(b.TempDir(), "bench.db")))
	require.NoError(b, err)
	defer w.Close()
	require.NoError(b, w.Migrate(ctx))
	v1, v2 := benchBatches(1), benchBatches(2)
	report := func(b *testing.B) {
		b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}

	tables := 0
	b.Run("upsert new rows", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			tables++
			tb := benchTable(fmt.Sprint("new_", tables), engine.ModeUpsert)
			require.NoError(b, w.Prepare(ctx, tb))
			b.StartTimer()
			writeAll(b, w, tb, v1, func(c engine.Counts) int { return c.Created })
		}
		report(b)
	})

	tb := benchTable("existing", engine.ModeUpsert)
	require.NoError(b, w.Prepare(ctx, tb))
	writeAll(b, w, tb, v1, func(c engine.Counts) int { return c.Created })

	b.Run("upsert unchanged rows", func(b *testing.B) {
		for b.Loop() {
			writeAll(b, w, tb, v1, func(c engine.Counts) int { return c.Unchanged })
		}
		report(b)
	})

	current := v1 // what the table holds, across runs of the sub-benchmark
	b.Run("upsert changed rows", func(b *testing.B) {
		for b.Loop() {
			next := v2
			if current[0].Rows[0][2] == v2[0].Rows[0][2] {
				next = v1
			}
			writeAll(b, w, tb, next, func(c engine.Counts) int { return c.Updated })
			current = next
		}
		report(b)
	})

	b.Run("append", func(b *testing.B) {
		tb := benchTable("appended", engine.ModeAppend)
		require.NoError(b, w.Prepare(ctx, tb))
		for b.Loop() {
			writeAll(b, w, tb, v1, func(c engine.Counts) int { return c.Created })
		}
		report(b)
	})
}
