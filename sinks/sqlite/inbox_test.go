package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// deliver stores a delivered record in pipeline's inbox, as the webhook
// receiver does, and returns its id.
func deliver(t *testing.T, w *Warehouse, pipeline, record, receivedAt string) int64 {
	t.Helper()
	r, err := w.db.Exec(`INSERT INTO etl_webhook_inbox (pipeline, record, received_at) VALUES (?, ?, ?)`, pipeline, record, receivedAt)
	require.NoError(t, err)
	id, err := r.LastInsertId()
	require.NoError(t, err)
	return id
}

// pendingIDs returns the ids Pending(after, limit) reads for pipeline.
func pendingIDs(t *testing.T, w *Warehouse, pipeline string, after int64, limit int) []int64 {
	t.Helper()
	recs, err := w.Inbox(pipeline).Pending(context.Background(), after, limit)
	require.NoError(t, err)
	ids := []int64{}
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestInboxPending(t *testing.T) {
	w := openTest(t)
	a := deliver(t, w, "p", `{"n":1}`, "2026-01-02T03:04:05.5+01:00")
	deliver(t, w, "other", `{"n":9}`, "2026-01-02T03:04:05Z")
	b := deliver(t, w, "p", `{"n":2}`, "2026-01-02T03:04:06Z")
	c := deliver(t, w, "p", `{"n":3}`, "2026-01-02T03:04:07Z")
	_, err := w.db.Exec(`UPDATE etl_webhook_inbox SET processed_run = 7 WHERE id = ?`, b)
	require.NoError(t, err)

	recs, err := w.Inbox("p").Pending(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2, "the pipeline's unprocessed records only")
	assert.Equal(t, engine.InboxRecord{ID: a, Fields: `{"n":1}`, Received: time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC)}, recs[0])
	assert.Equal(t, c, recs[1].ID)
	assert.Equal(t, time.UTC, recs[0].Received.Location(), "received_at read back in UTC")

	assert.Equal(t, []int64{c}, pendingIDs(t, w, "p", a, 10), "ids above after")
	assert.Equal(t, []int64{a}, pendingIDs(t, w, "p", 0, 1), "at most limit, in id order")
	assert.Empty(t, pendingIDs(t, w, "nobody", 0, 10))
}

func TestInboxPendingBadReceivedAt(t *testing.T) {
	w := openTest(t)
	deliver(t, w, "p", `{}`, "yesterday")
	_, err := w.Inbox("p").Pending(context.Background(), 0, 10)
	assert.ErrorContains(t, err, "read the inbox of p")
	assert.ErrorContains(t, err, "yesterday")
}

func TestInboxMarkedWithTheBatch(t *testing.T) {
	ctx := context.Background()
	w := openTest(t)
	tb := engine.Table{Name: "events", Columns: []engine.Column{{Name: "id", Type: engine.TypeInteger}}, Key: []string{"id"}, Mode: engine.ModeAppend}
	require.NoError(t, w.Prepare(ctx, tb))
	run := startRun(t, w, "p")

	// More ids than one UPDATE takes (500), so the batch marks them in parts.
	var ids []int64
	for i := range 501 {
		ids = append(ids, deliver(t, w, "p", fmt.Sprintf(`{"id":%d}`, i), "2026-01-02T03:04:05Z"))
	}
	kept := deliver(t, w, "p", `{"id":-1}`, "2026-01-02T03:04:05Z")
	earlier := deliver(t, w, "p", `{"id":-2}`, "2026-01-02T03:04:05Z")
	_, err := w.db.Exec(`UPDATE etl_webhook_inbox SET processed_run = 3 WHERE id = ?`, earlier)
	require.NoError(t, err)

	t.Run("a failed write marks nothing", func(t *testing.T) {
		b := newBatch(run, []any{"not an integer"})
		b.Inbox = ids
		_, err := w.Write(ctx, tb, b)
		require.Error(t, err)
		assert.Len(t, pendingIDs(t, w, "p", 0, 1000), 502)
	})

	t.Run("a written batch marks its records", func(t *testing.T) {
		b := newBatch(run, []any{int64(1)})
		b.Inbox = append(ids, earlier)
		_, err := w.Write(ctx, tb, b)
		require.NoError(t, err)
		assert.Equal(t, []int64{kept}, pendingIDs(t, w, "p", 0, 1000))
		assert.Equal(t, fmt.Sprint(run), queryString(t, w, `SELECT processed_run FROM etl_webhook_inbox WHERE id = ?`, ids[500]), "the last part too")
		assert.Equal(t, "3", queryString(t, w, `SELECT processed_run FROM etl_webhook_inbox WHERE id = ?`, earlier), "a record another run processed keeps that run")
	})
}
