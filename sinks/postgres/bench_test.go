package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
)

// BenchmarkUpsertIntegration measures the hot path: batches of new rows,
// then the same batches again (all unchanged), then with one value changed
// (all updated). Reported per row.
func BenchmarkUpsertIntegration(b *testing.B) {
	const batchSize = 1000
	ctx := context.Background()
	w, err := Open(ctx, pgtest.URL(b))
	require.NoError(b, err)
	defer w.Close()
	require.NoError(b, w.Migrate(ctx))
	tb := benchTable("contacts")
	require.NoError(b, w.Prepare(ctx, tb))
	stagingOnly(w.(*Warehouse), tb) // the new table would take direct COPY; BenchmarkFirstLoadIntegration measures that
	batch := func(first int64, variant string) engine.Batch {
		bt := engine.Batch{RunID: 1, Pipeline: "bench", State: &engine.Cursor{Value: benchAt}}
		for i := first; i < first+batchSize; i++ {
			bt.Rows = append(bt.Rows, benchRow(i, "name "+variant, `{"k": "`+variant+`"}`))
			bt.Origins = append(bt.Origins, &engine.Record{})
		}
		return bt
	}
	var next int64 // first key of the next invocation: every invocation starts on new keys
	for _, phase := range []struct {
		name    string
		before  string // variant written untimed first; "" for none
		variant string
		want    func(engine.Counts) bool
	}{
		{"create", "", "a", func(c engine.Counts) bool { return c.Created == batchSize }},
		{"unchanged", "a", "a", func(c engine.Counts) bool { return c.Unchanged == batchSize }},
		{"update", "a", "b", func(c engine.Counts) bool { return c.Updated == batchSize }},
	} {
		b.Run(phase.name, func(b *testing.B) {
			batches := make([]engine.Batch, b.N)
			for n := range b.N {
				first := next + int64(n)*batchSize
				if phase.before != "" {
					_, err := w.Write(ctx, tb, batch(first, phase.before))
					require.NoError(b, err)
				}
				batches[n] = batch(first, phase.variant)
			}
			next += int64(b.N) * batchSize
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				c, err := w.Write(ctx, tb, batches[n])
				if err != nil || !phase.want(c) {
					b.Fatalf("batch %d: %+v, %v", n, c, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/row")
		})
	}
}

// BenchmarkFirstLoadIntegration upserts firstLoadRows rows in batches of
// firstLoadBatch into a new table, through the staging table ("staging",
// as every upsert did before direct COPY) and by COPY straight into the
// table ("direct"). One op is the whole load; each op loads a table of its
// own, created and dropped untimed.
//
//	go test -run XXX -bench FirstLoad -benchtime 1x -count 5 ./sinks/postgres/
func BenchmarkFirstLoadIntegration(b *testing.B) {
	const (
		firstLoadRows  = 200_000
		firstLoadBatch = 10_000
	)
	ctx := context.Background()
	w, err := Open(ctx, pgtest.URL(b))
	require.NoError(b, err)
	defer w.Close()
	wh := w.(*Warehouse)
	require.NoError(b, w.Migrate(ctx))
	var batches []engine.Batch
	for first := range int64(firstLoadRows / firstLoadBatch) {
		bt := engine.Batch{RunID: 1, Pipeline: "bench"}
		for i := first * firstLoadBatch; i < (first+1)*firstLoadBatch; i++ {
			bt.Rows = append(bt.Rows, benchRow(i, fmt.Sprint("name ", i), `{"k": "v"}`))
			bt.Origins = append(bt.Origins, &engine.Record{})
		}
		batches = append(batches, bt)
	}
	tables := 0
	for _, path := range []string{"staging", "direct"} {
		b.Run(path, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				tables++
				tb := benchTable(fmt.Sprint("load_", tables))
				require.NoError(b, w.Prepare(ctx, tb))
				if path == "staging" {
					stagingOnly(wh, tb)
				}
				require.True(b, wh.plan(tb).direct == (path == "direct"))
				b.StartTimer()
				for n, bt := range batches {
					c, err := w.Write(ctx, tb, bt)
					if err != nil || c != (engine.Counts{Created: firstLoadBatch}) {
						b.Fatalf("batch %d: %+v, %v", n, c, err)
					}
				}
				b.StopTimer()
				require.NoError(b, w.Finish(ctx, tb, true))
				_, err := wh.pool.Exec(ctx, "DROP TABLE "+ident(tb, tb.Name).Sanitize())
				require.NoError(b, err)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*firstLoadRows), "ns/row")
			b.ReportMetric(float64(b.N*firstLoadRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWriteIntegration measures the latency of a Write, round trips and
// commit included, as etl run writes: the pipeline lock held and a cursor
// saved with every batch. One op lands 50,000 rows in batches of 500, 1000
// or 10000 (2,000 rows in batches of 10, where the fixed cost of a batch is
// nearly all), either into an empty table (every batch COPYed straight into
// it) or into a table holding every row already (all unchanged, through the
// staging table). (The statement-by-statement Write that the pipelined one
// replaced was measured beside it with this benchmark; the figures are in
// that commit and in the README.)
//
//	go test -run XXX -bench Write -benchtime 1x -count 5 ./sinks/postgres/
func BenchmarkWriteIntegration(b *testing.B) {
	ctx := context.Background()
	w, err := Open(ctx, pgtest.URL(b))
	require.NoError(b, err)
	defer w.Close()
	wh := w.(*Warehouse)
	require.NoError(b, w.Migrate(ctx))
	unlock, err := w.Lock(ctx, "bench")
	require.NoError(b, err)
	defer unlock()
	tables := 0
	prepare := func() engine.Table {
		tables++
		tb := benchTable(fmt.Sprint("write_", tables))
		require.NoError(b, w.Prepare(ctx, tb))
		return tb
	}
	drop := func(tb engine.Table) {
		require.NoError(b, w.Finish(ctx, tb, true))
		_, err := wh.pool.Exec(ctx, "DROP TABLE "+ident(tb, tb.Name).Sanitize())
		require.NoError(b, err)
	}
	for _, size := range []int{10, 500, 1000, 10_000} {
		writeRows := 50_000
		if size < 500 {
			writeRows = 200 * size
		}
		var batches []engine.Batch
		for first := 0; first < writeRows; first += size {
			bt := engine.Batch{RunID: 1, Pipeline: "bench", State: &engine.Cursor{Value: int64(first + size)}}
			for i := int64(first); i < int64(first+size); i++ {
				bt.Rows = append(bt.Rows, benchRow(i, fmt.Sprint("name ", i), `{"k": "v"}`))
				bt.Origins = append(bt.Origins, &engine.Record{})
			}
			batches = append(batches, bt)
		}
		// load writes every batch into tb and returns the time it took.
		load := func(b *testing.B, tb engine.Table, want engine.Counts) time.Duration {
			start := time.Now()
			for n, bt := range batches {
				if c, err := w.Write(ctx, tb, bt); err != nil || c != want {
					b.Fatalf("batch %d: %+v, %v", n, c, err)
				}
			}
			return time.Since(start)
		}
		report := func(b *testing.B, spent time.Duration) {
			b.ReportMetric(float64(spent.Microseconds())/1000/float64(b.N*len(batches)), "ms/batch")
			b.ReportMetric(float64(b.N*writeRows)/spent.Seconds(), "rows/s")
			b.ReportMetric(0, "ns/op")
		}
		b.Run(fmt.Sprintf("rows=%d/empty", size), func(b *testing.B) {
			b.StopTimer()
			var spent time.Duration
			for range b.N {
				tb := prepare()
				require.True(b, wh.plan(tb).direct)
				spent += load(b, tb, engine.Counts{Created: size})
				drop(tb)
			}
			report(b, spent)
		})
		tb := prepare()
		load(b, tb, engine.Counts{Created: size})
		require.NoError(b, w.Finish(ctx, tb, true))
		require.NoError(b, w.Prepare(ctx, tb))
		require.False(b, wh.plan(tb).direct)
		b.Run(fmt.Sprintf("rows=%d/unchanged", size), func(b *testing.B) {
			b.StopTimer()
			var spent time.Duration
			for range b.N {
				spent += load(b, tb, engine.Counts{Unchanged: size})
			}
			report(b, spent)
		})
		drop(tb)
	}
}

// benchTable is the upsert target of the benchmarks: a column of every
// type but date.
func benchTable(name string) engine.Table {
	return engine.Table{Name: name, Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger},
		{Name: "email", Type: engine.TypeText},
		{Name: "name", Type: engine.TypeText},
		{Name: "score", Type: engine.TypeFloat},
		{Name: "active", Type: engine.TypeBoolean},
		{Name: "updated_at", Type: engine.TypeTimestamp},
		{Name: "amount", Type: engine.TypeDecimal},
		{Name: "props", Type: engine.TypeJSON},
	}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: 1}
}

// benchAt is every bench row's updated_at.
var benchAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchRow is the benchTable row of key i.
func benchRow(i int64, name, props string) []any {
	return []any{i, fmt.Sprintf("user%d@example.com", i), name, float64(i) / 3, i%2 == 0, benchAt, "1234.56", props}
}
