package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
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
)

// fakeLeadConduit serves GET /events as documented: basic auth with any
// user and the API key as password, 403 without Accept: application/json,
// a bare array, sort asc|desc (default desc), after_id exclusive, limit
// (default 100, at most 1000).
func fakeLeadConduit(t *testing.T, events []map[string]any, rec *recorder) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if _, pass, ok := r.BasicAuth(); !ok || pass != secretKey {
			writeJSON(w, 401, map[string]any{"error": "unauthorized"})
			return
		}
		if r.Header.Get("Accept") != "application/json" {
			writeJSON(w, 403, map[string]any{"error": "misconfigured csrf: check Accept header is set properly"})
			return
		}
		q := r.URL.Query()
		require.Equal(t, "asc", q.Get("sort"), "after_id paging needs sort=asc")
		limit := 100
		if l := q.Get("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
			limit = min(limit, 1000)
		}
		out := []map[string]any{}
		for _, e := range events {
			if a := q.Get("after_id"); a != "" && e["id"].(string) <= a {
				continue
			}
			if len(out) < limit {
				out = append(out, e)
			}
		}
		writeJSON(w, 200, out)
	}
}

func leadEvent(i int) map[string]any {
	ms := int64(1711300000123 + i*1000)
	e := map[string]any{
		"id": fmt.Sprintf("66000000000000000000%04x", i), "type": "source", "outcome": "success", "reason": nil,
		"start_timestamp": ms, "end_timestamp": ms + 333, "ms": 333,
		"vars": map[string]any{
			"lead": map[string]any{"first_name": "Ann", "phone_1": "5125550100",
				"email": map[string]any{"normal": fmt.Sprintf("ann%d@example.com", i), "raw": fmt.Sprintf(" Ann%d@Example.com", i), "valid": true}},
			"flow": map[string]any{"name": "Web Leads"}, "source": map[string]any{"name": "Website"},
		},
	}
	if i%2 == 0 { // typed values also come as plain strings
		e["vars"].(map[string]any)["lead"].(map[string]any)["email"] = fmt.Sprintf("ann%d@example.com", i)
	}
	return e
}

// TestLeadConduitPipelineIntegration runs pipelines/activeprospect_events.hcl
// twice against the fake: 2,500 events in pages of 1,000, then only the
// events after the last id that landed.
func TestLeadConduitPipelineIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	var events []map[string]any
	for i := 1; i <= 2500; i++ {
		events = append(events, leadEvent(i))
	}
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fakeLeadConduit(t, events, &rec)(w, r)
	}))
	defer srv.Close()
	reg := engine.NewRegistry()
	rest.Register(reg)
	postgres.Register(reg)
	p := pipelinetest.Load(t, reg, "activeprospect_events.hcl", "leadconduit.events", map[string]string{"LEADCONDUIT_API_URL": srv.URL, "LEADCONDUIT_API_KEY": secretKey}, nil)

	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 2500, Created: 2500}, res.Tally)
	reqs := rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, "limit=1000&sort=asc", encodeQuery(reqs[0].Query))
	assert.Equal(t, "after_id="+leadEvent(2000)["id"].(string)+"&limit=1000&sort=asc", encodeQuery(reqs[2].Query), "the 2,000th event's id")

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var id, email, phone, flow string
	var started time.Time
	var valid *bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT id, email, email_valid, phone, flow_name, started_at FROM leadconduit_events WHERE id = $1`, "66000000000000000000000b").
		Scan(&id, &email, &valid, &phone, &flow, &started))
	assert.Equal(t, "ann11@example.com", email, "read from normal")
	require.NotNil(t, valid)
	assert.True(t, *valid)
	assert.Equal(t, "5125550100", phone)
	assert.Equal(t, "Web Leads", flow)
	assert.Equal(t, time.UnixMilli(1711300011123).UTC(), started.UTC())
	require.NoError(t, conn.QueryRow(ctx, `SELECT email, email_valid FROM leadconduit_events WHERE id = $1`, "66000000000000000000000c").Scan(&email, &valid))
	assert.Equal(t, "ann12@example.com", email, "a plain string")
	assert.Nil(t, valid)

	// Run 2: two new events; the request starts after the saved id.
	events = append(events, leadEvent(2501), leadEvent(2502))
	before := rec.count()
	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 2, Created: 2}, res.Tally)
	reqs = rec.all()[before:]
	require.Len(t, reqs, 1)
	assert.Equal(t, "after_id="+leadEvent(2500)["id"].(string)+"&limit=1000&sort=asc", encodeQuery(reqs[0].Query))
}

// TestArrivyPipelineIntegration runs pipelines/arrivy_tasks.hcl against a
// fake Arrivy that checks X-Auth-Key/X-Auth-Token, ignores the page size
// (3 a page) and answers an empty array past the last page.
func TestArrivyPipelineIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.Header.Get("X-Auth-Key") != secretKey || r.Header.Get("X-Auth-Token") != secretToken {
			writeJSON(w, 401, map[string]any{"message": "unauthorized"})
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		tasks := []map[string]any{}
		for i := 3*page - 2; i <= 3*page && i <= 7; i++ {
			tasks = append(tasks, map[string]any{
				"id": 5629499534213120 + i, "title": fmt.Sprintf("Install %d", i), "status": "COMPLETE",
				"start_datetime": "2024-06-01T09:00:00-05:00", "end_datetime": "2024-06-01T11:00:00",
				"customer_first_name": "Bo", "customer_last_name": "Li", "customer_email": "Bo@Example.com",
				"customer_exact_location": map[string]any{"lat": "30.2672", "lng": -97.7431},
				"entity_ids":              []any{5001, 5002}, "crew_ids": []any{}, "extra_fields": map[string]any{"permit": "A1"},
				"created": "2024-05-01T10:00:00Z", "updated": "2024-06-02T10:00:00.123Z",
			})
		}
		writeJSON(w, 200, tasks)
	}))
	defer srv.Close()
	reg := engine.NewRegistry()
	rest.Register(reg)
	postgres.Register(reg)
	p := pipelinetest.Load(t, reg, "arrivy_tasks.hcl", "arrivy.tasks", map[string]string{"ARRIVY_API_URL": srv.URL, "ARRIVY_AUTH_KEY": secretKey, "ARRIVY_AUTH_TOKEN": secretToken}, nil)
	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 7, Created: 7}, res.Tally)
	reqs := rec.all()
	require.Len(t, reqs, 4, "pages 1–3, then the empty page 4")
	assert.Equal(t, "4", reqs[3].Query["page"][0])
	assert.Equal(t, "2015-01-01T00:00:00+00:00", reqs[0].Query["from"][0])
	assert.NotEmpty(t, reqs[0].Query["to"])

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var id, name, email string
	var lat float64
	var start time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT id, customer_name, customer_email, latitude, start_datetime FROM arrivy_tasks ORDER BY id LIMIT 1`).Scan(&id, &name, &email, &lat, &start))
	assert.Equal(t, "5629499534213121", id, "a 16-digit id, exact")
	assert.Equal(t, "Bo Li", name)
	assert.Equal(t, "bo@example.com", email)
	assert.InDelta(t, 30.2672, lat, 1e-9)
	assert.Equal(t, time.Date(2024, 6, 1, 14, 0, 0, 0, time.UTC), start.UTC())
}
