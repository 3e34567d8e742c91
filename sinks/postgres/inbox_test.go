package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestInboxIntegration: Pending reads the pipeline's unprocessed deliveries
// above after, at most limit, in id order; a written batch marks its
// records processed, a failed one marks none.
func TestInboxIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	c := connect(t, w)
	deliver := func(pipeline, record string, at time.Time) int64 {
		var id int64
		require.NoError(t, c.QueryRow(ctx, `INSERT INTO etl_webhook_inbox (pipeline, record, received_at) VALUES ($1, $2, $3) RETURNING id`,
			pipeline, record, at).Scan(&id))
		return id
	}
	pending := func(after int64, limit int) []int64 {
		recs, err := w.Inbox("p").Pending(ctx, after, limit)
		require.NoError(t, err)
		ids := []int64{}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	a := deliver("p", `{"id":1}`, at)
	deliver("other", `{"id":9}`, at)
	b := deliver("p", `{"id":2}`, at)

	recs, err := w.Inbox("p").Pending(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, engine.InboxRecord{ID: a, Fields: `{"id":1}`, Received: at.UTC()}, recs[0])
	assert.Equal(t, time.UTC, recs[0].Received.Location())
	assert.Equal(t, []int64{b}, pending(a, 10), "ids above after")
	assert.Equal(t, []int64{a}, pending(0, 1), "at most limit")

	tb := startLoad(t, w, engine.Table{Name: "events", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeAppend})
	failed := origins(tb, []any{int64(1)})
	failed.Inbox = []int64{a}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w.Write(canceled, tb, failed)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []int64{a, b}, pending(0, 10), "a failed write marks nothing")

	ok := origins(tb, []any{int64(1)})
	ok.Inbox = []int64{a}
	_, err = w.Write(ctx, tb, ok)
	require.NoError(t, err)
	assert.Equal(t, []int64{b}, pending(0, 10))
	var run int64
	require.NoError(t, c.QueryRow(ctx, `SELECT processed_run FROM etl_webhook_inbox WHERE id = $1`, a).Scan(&run))
	assert.Equal(t, tb.RunID, run)
}
