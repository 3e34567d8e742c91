package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	tb := engine.Table{Name: "contacts", Columns: []engine.Column{
		{Name: "id", Type: engine.TypeInteger},
		{Name: "email", Type: engine.TypeText},
		{Name: "name", Type: engine.TypeText},
		{Name: "score", Type: engine.TypeFloat},
		{Name: "active", Type: engine.TypeBoolean},
		{Name: "updated_at", Type: engine.TypeTimestamp},
		{Name: "amount", Type: engine.TypeDecimal},
		{Name: "props", Type: engine.TypeJSON},
	}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: 1}
	require.NoError(b, w.Prepare(ctx, tb))
	stagingOnly(w.(*Warehouse), tb) // the new table would take direct COPY; BenchmarkFirstLoadIntegration measures that
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(first int64, variant string) engine.Batch {
		bt := engine.Batch{RunID: 1, Pipeline: "bench", State: &engine.Cursor{Value: at}}
		for i := first; i < first+batchSize; i++ {
			bt.Rows = append(bt.Rows, []any{i, fmt.Sprintf("user%d@example.com", i), "name " + variant, float64(i) / 3, i%2 == 0, at, "1234.56", `{"k": "` + variant + `"}`})
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
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batches []engine.Batch
	for first := range int64(firstLoadRows / firstLoadBatch) {
		bt := engine.Batch{RunID: 1, Pipeline: "bench"}
		for i := first * firstLoadBatch; i < (first+1)*firstLoadBatch; i++ {
			bt.Rows = append(bt.Rows, []any{i, fmt.Sprintf("user%d@example.com", i), fmt.Sprint("name ", i), float64(i) / 3, i%2 == 0, at, "1234.56", `{"k": "v"}`})
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
				tb := engine.Table{Name: fmt.Sprint("load_", tables), Columns: []engine.Column{
					{Name: "id", Type: engine.TypeInteger},
					{Name: "email", Type: engine.TypeText},
					{Name: "name", Type: engine.TypeText},
					{Name: "score", Type: engine.TypeFloat},
					{Name: "active", Type: engine.TypeBoolean},
					{Name: "updated_at", Type: engine.TypeTimestamp},
					{Name: "amount", Type: engine.TypeDecimal},
					{Name: "props", Type: engine.TypeJSON},
				}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: 1}
				require.NoError(b, w.Prepare(ctx, tb))
				if path == "staging" {
					stagingOnly(wh, tb)
				}
				require.True(b, wh.directAllowed(tb) == (path == "direct"))
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
// staging table). Each batch is written twice, into two like tables, by
// Write ("new") and by the statement-by-statement sequence it replaced
// (writeSequential, "old"), in alternating order, so that both meet the
// same load on the server; each gets its own ms/batch and rows/s.
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
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writers := []struct {
		name  string
		write func(engine.Table, engine.Batch) (engine.Counts, error)
	}{
		{"old", func(t engine.Table, bt engine.Batch) (engine.Counts, error) { return wh.writeSequential(ctx, t, bt) }},
		{"new", func(t engine.Table, bt engine.Batch) (engine.Counts, error) { return w.Write(ctx, t, bt) }},
	}
	tables := 0
	prepare := func() engine.Table {
		tables++
		tb := engine.Table{Name: fmt.Sprint("write_", tables), Columns: []engine.Column{
			{Name: "id", Type: engine.TypeInteger},
			{Name: "email", Type: engine.TypeText},
			{Name: "name", Type: engine.TypeText},
			{Name: "score", Type: engine.TypeFloat},
			{Name: "active", Type: engine.TypeBoolean},
			{Name: "updated_at", Type: engine.TypeTimestamp},
			{Name: "amount", Type: engine.TypeDecimal},
			{Name: "props", Type: engine.TypeJSON},
		}, Key: []string{"id"}, Mode: engine.ModeUpsert, RunID: 1}
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
				bt.Rows = append(bt.Rows, []any{i, fmt.Sprintf("user%d@example.com", i), fmt.Sprint("name ", i), float64(i) / 3, i%2 == 0, at, "1234.56", `{"k": "v"}`})
				bt.Origins = append(bt.Origins, &engine.Record{})
			}
			batches = append(batches, bt)
		}
		// load writes every batch into tbs[0] by old and tbs[1] by new,
		// adding the time each took to spent.
		load := func(b *testing.B, tbs [2]engine.Table, want engine.Counts, spent *[2]time.Duration) {
			for n, bt := range batches {
				for i := range writers {
					k := (i + n) % 2 // old first, then new first, …
					start := time.Now()
					c, err := writers[k].write(tbs[k], bt)
					spent[k] += time.Since(start)
					if err != nil || c != want {
						b.Fatalf("%s, batch %d: %+v, %v", writers[k].name, n, c, err)
					}
				}
			}
		}
		report := func(b *testing.B, spent [2]time.Duration) {
			for k, wr := range writers {
				b.ReportMetric(float64(spent[k].Microseconds())/1000/float64(b.N*len(batches)), wr.name+"-ms/batch")
				b.ReportMetric(float64(b.N*writeRows)/spent[k].Seconds(), wr.name+"-rows/s")
			}
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "new/old")
			b.ReportMetric(0, "ns/op")
		}
		b.Run(fmt.Sprintf("rows=%d/empty", size), func(b *testing.B) {
			b.StopTimer()
			var spent [2]time.Duration
			for range b.N {
				tbs := [2]engine.Table{prepare(), prepare()}
				require.True(b, wh.directAllowed(tbs[0]) && wh.directAllowed(tbs[1]))
				load(b, tbs, engine.Counts{Created: size}, &spent)
				drop(tbs[0])
				drop(tbs[1])
			}
			report(b, spent)
		})
		tbs := [2]engine.Table{prepare(), prepare()}
		var spent [2]time.Duration
		load(b, tbs, engine.Counts{Created: size}, &spent)
		for _, tb := range tbs {
			require.NoError(b, w.Finish(ctx, tb, true))
			require.NoError(b, w.Prepare(ctx, tb))
			require.False(b, wh.directAllowed(tb))
		}
		b.Run(fmt.Sprintf("rows=%d/unchanged", size), func(b *testing.B) {
			b.StopTimer()
			var spent [2]time.Duration
			for range b.N {
				load(b, tbs, engine.Counts{Unchanged: size}, &spent)
			}
			report(b, spent)
		})
		drop(tbs[0])
		drop(tbs[1])
	}
}

// writeSequential is Write as it was before its end was pipelined, kept
// for BenchmarkWriteIntegration only: one round trip per statement (BEGIN,
// SAVEPOINT, COPY, RELEASE for a direct COPY; BEGIN, COPY, upsert through
// the staging table; then the lock check, the state, COMMIT). Batches with
// rejects or refused rows are beyond it.
func (w *Warehouse) writeSequential(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	if len(b.Rejects) > 0 {
		return engine.Counts{}, fmt.Errorf("writeSequential: rejects are beyond it")
	}
	var counts engine.Counts
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		staging, err := stagingTable(ctx, c, t.Columns)
		if err != nil {
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			counts = engine.Counts{Created: len(b.Rows)}
			landed := false
			if w.directAllowed(t) {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := sp.CopyFrom(ctx, destination(t), columnNames(t), pgx.CopyFromRows(b.Rows)); err != nil {
					return err
				}
				if err := sp.Commit(ctx); err != nil {
					return err
				}
				landed = true
			}
			if !landed {
				src := &stagingRows{rows: b.Rows, seqs: w.seqs(len(b.Rows)), buf: make([]any, len(t.Columns)+1)}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", staging}, stagingColumns(len(t.Columns)), src); err != nil {
					return err
				}
				var distinct, created, updated int
				if err := tx.QueryRow(ctx, upsertSQL(t, staging, w.filterAllowed(t))).Scan(&distinct, &created, &updated); err != nil {
					return err
				}
				counts = engine.Counts{Created: created, Updated: updated + len(b.Rows) - distinct, Unchanged: distinct - created - updated}
			}
			if pid, ok := w.lockHolder(b.Pipeline); ok {
				var held bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted)`, int32(pid)).Scan(&held); err != nil || !held {
					return fmt.Errorf("check the pipeline lock: %v %w", held, err)
				}
			}
			if b.State != nil {
				kind, text := b.State.Encode()
				if _, err := tx.Exec(ctx, stateSQL, b.Pipeline, kind, cleanText(text), b.RunID); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return counts, err
}
