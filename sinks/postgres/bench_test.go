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
