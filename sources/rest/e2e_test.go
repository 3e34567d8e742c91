package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sources/rest"
	"github.com/etl-dev/etl/sources/webhook"
)

// TestHubSpotIncrementalPipelineIntegration runs the shipped
// hubspot_contacts_incremental pipeline against the fake HubSpot into
// PostgreSQL twice: a full first run, then one that asks only for contacts
// modified since the saved cursor.
func TestHubSpotIncrementalPipelineIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	f := newFakeHubSpot(t, 250)
	srv := httptest.NewServer(f)
	defer srv.Close()
	reg := engine.NewRegistry()
	rest.Register(reg)
	postgres.Register(reg)
	webhook.Register(reg) // the pipeline's trigger "webhook"
	env := map[string]string{"HUBSPOT_API_URL": srv.URL, "HUBSPOT_TOKEN": secretToken}
	p := pipelinetest.Load(t, reg, "hubspot_contacts_incremental.hcl", "hubspot.contacts", env, nil)

	// Run 1: everything.
	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusSuccess, res.Status)
	assert.Equal(t, engine.Tally{Processed: 250, Created: 250}, res.Tally)
	last := f.contacts[249].Modified
	require.NotNil(t, res.Cursor)
	assert.Equal(t, last, res.Cursor.Value)

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	type row struct {
		ID        int64
		Email     string
		FirstName string
		LastName  *string
		Phone     *string
		UpdatedAt time.Time
	}
	rows := func() []row {
		r, err := conn.Query(ctx, `SELECT id, email, first_name, last_name, phone, updated_at FROM hubspot_contacts ORDER BY id`)
		require.NoError(t, err)
		out, err := pgx.CollectRows(r, pgx.RowToStructByPos[row])
		require.NoError(t, err)
		return out
	}
	got := rows()
	require.Len(t, got, 250)
	for i, r := range got {
		c := f.contacts[i]
		assert.Equal(t, row{ID: 512000000001 + int64(i), Email: c.Email, FirstName: c.First, UpdatedAt: c.Modified}, row{ID: r.ID, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Phone: r.Phone, UpdatedAt: r.UpdatedAt.UTC()})
	}
	var endpoint, status string
	require.NoError(t, conn.QueryRow(ctx, `SELECT endpoint, status FROM etl_sync_history WHERE id = $1`, res.RunID).Scan(&endpoint, &status))
	assert.Equal(t, "success", status)
	assert.Contains(t, endpoint, "rest POST ")
	assert.NotContains(t, endpoint, secretToken)

	// Between the runs: one contact changes, one is new.
	f.mu.Lock()
	f.contacts[10].Email = "changed@example.com"
	f.contacts[10].Modified = last.Add(time.Second)
	f.contacts = append(f.contacts, contact{ID: "512000000999", Email: "new@example.com", First: "New", Created: last, Modified: last.Add(2 * time.Second)})
	f.mu.Unlock()
	before := f.rec.count()

	// Run 2: only what changed since the cursor, boundary included.
	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	// The 5 contacts at the boundary instant come again, unchanged.
	assert.Equal(t, engine.Tally{Processed: 7, Created: 1, Updated: 1, Unchanged: 5}, res.Tally)
	reqs := f.rec.all()[before:]
	require.Len(t, reqs, 1)
	var body searchBody
	require.NoError(t, json.Unmarshal([]byte(reqs[0].Body), &body))
	assert.Equal(t, fmt.Sprint(last.UnixMilli()), body.FilterGroups[0].Filters[0].Value)
	assert.Equal(t, "", body.After)
	assert.Equal(t, 100, body.Limit)

	got = rows()
	require.Len(t, got, 251)
	assert.Equal(t, "changed@example.com", got[10].Email)
	assert.Equal(t, "new@example.com", got[250].Email)
}

// TestHubSpotMalformedPageKeepsTheCursorIntegration fails the run on a
// malformed page: the error names the page, and the saved cursor stays at
// the last batch that landed.
func TestHubSpotMalformedPageKeepsTheCursorIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	f := newFakeHubSpot(t, 1200)
	f.malformedAt = 700
	srv := httptest.NewServer(f)
	defer srv.Close()
	reg := engine.NewRegistry()
	rest.Register(reg)
	postgres.Register(reg)
	webhook.Register(reg) // the pipeline's trigger "webhook"
	env := map[string]string{"HUBSPOT_API_URL": srv.URL, "HUBSPOT_TOKEN": secretToken}
	p := pipelinetest.Load(t, reg, "hubspot_contacts_incremental.hcl", "hubspot.contacts", env, func(s string) string {
		return rateLimitBlock.ReplaceAllString(s, "") // 4 requests a second is HubSpot's, not this test's
	})

	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "page 8 (POST ")
	assert.Contains(t, err.Error(), "response is not valid JSON")
	assert.Equal(t, engine.StatusFailed, res.Status)

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM hubspot_contacts`).Scan(&n))
	assert.Equal(t, 500, n, "the first batch of 500 landed")
	var cursor string
	require.NoError(t, conn.QueryRow(ctx, `SELECT cursor_value FROM etl_state WHERE pipeline = $1`, p.Name).Scan(&cursor))
	assert.Equal(t, f.contacts[499].Modified.Format(time.RFC3339Nano), cursor)

	// Fixed: the rerun asks from that cursor and lands the rest.
	f.malformedAt = 0
	before := f.rec.count()
	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	var body searchBody
	require.NoError(t, json.Unmarshal([]byte(f.rec.all()[before].Body), &body))
	assert.Equal(t, fmt.Sprint(f.contacts[499].Modified.UnixMilli()), body.FilterGroups[0].Filters[0].Value)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM hubspot_contacts`).Scan(&n))
	assert.Equal(t, 1200, n)
	assert.Equal(t, int64(700), res.Tally.Created)
}
