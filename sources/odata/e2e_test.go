package odata_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sources/odata"
)

const (
	msCompany = "8675"
	msAPIKey  = "api-key-0123456789"
)

var msSecret = base64.StdEncoding.EncodeToString([]byte("the secret key, as raw bytes \x00\xff"))

// msEnv is the environment of the shipped pipelines against srv.
func msEnv(srvURL string) map[string]string {
	return map[string]string{
		"MARKETSHARP_API_URL":    srvURL + "/Svc.svc",
		"MARKETSHARP_COMPANY_ID": msCompany,
		"MARKETSHARP_API_KEY":    msAPIKey,
		"MARKETSHARP_SECRET_KEY": msSecret,
	}
}

func newMarketSharp(t testing.TB, n int) *fakeOData {
	return &fakeOData{t: t, entities: contacts(n), companyID: msCompany, apiKey: msAPIKey, secretB64: msSecret}
}

func pgRegistry() *engine.Registry {
	reg := engine.NewRegistry()
	odata.Register(reg)
	postgres.Register(reg)
	return reg
}

// TestMarketSharpHMAC runs the shipped contacts pipeline's source against a
// service that checks the HMAC header of every request: the header is
// computed again for each one, a retry included, so its timestamp moves
// on as time passes.
func TestMarketSharpHMAC(t *testing.T) {
	f := newMarketSharp(t, 30)
	f.fail503 = 1
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := pipelinetest.Load(t, pgRegistry(), "marketsharp_contacts.hcl", "marketsharp.contacts", msEnv(srv.URL), func(s string) string {
		return strings.Replace(s, `backoff  = "10s"`, `backoff  = "2s"`, 1) // waits 1–2 s
	})
	log, logs := newLogger()
	recs, err := readAll(t, p.Source, engine.ReadOptions{Logger: log})
	require.NoError(t, err)
	assert.Len(t, recs, 30)
	// The 503, its retry, and the request for the contacts after the last
	// one, which finds the end.
	require.Len(t, f.authStamps, 3, "every request was signed correctly")
	assert.Greater(t, f.authStamps[1], f.authStamps[0], "the retry is signed anew, a second or more later")
	for _, secret := range []string{msAPIKey, msSecret} {
		assert.NotContains(t, logs.String(), secret)
	}

	// A wrong secret: the 401 fails the run, naming the page, without secrets.
	env := msEnv(srv.URL)
	env["MARKETSHARP_SECRET_KEY"] = base64.StdEncoding.EncodeToString([]byte("wrong"))
	p = pipelinetest.Load(t, pgRegistry(), "marketsharp_contacts.hcl", "marketsharp.contacts", env, nil)
	_, err = readAll(t, p.Source, engine.ReadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "page 1: GET ")
	assert.Contains(t, err.Error(), "401 Unauthorized: bad signature")
	assert.NotContains(t, err.Error(), msAPIKey)
}

// TestMarketSharpContactsIntegration runs the shipped contacts pipeline
// against the fake service into PostgreSQL twice: a full first run, then
// an incremental one that asks for lastUpdate ge the saved cursor.
func TestMarketSharpContactsIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	f := newMarketSharp(t, 250)
	f.clamp = 100 // the service ignores $top=5000
	srv := httptest.NewServer(f)
	defer srv.Close()
	reg := pgRegistry()
	p := pipelinetest.Load(t, reg, "marketsharp_contacts.hcl", "marketsharp.contacts", msEnv(srv.URL), nil)

	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusSuccess, res.Status)
	assert.Equal(t, engine.Tally{Processed: 250, Created: 250}, res.Tally)
	last := f.entities[249].LastUpdate
	require.NotNil(t, res.Cursor)
	assert.Equal(t, last, res.Cursor.Value)

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	type row struct {
		ID         string
		CompanyID  int64
		FirstName  string
		Email1     string
		IsActive   bool
		LastUpdate time.Time
		Title      *string
	}
	rows := func() []row {
		r, err := conn.Query(ctx, `SELECT id, company_id, first_name, email1, is_active, last_update, title FROM marketsharp_contacts ORDER BY last_update, id`)
		require.NoError(t, err)
		out, err := pgx.CollectRows(r, pgx.RowToStructByPos[row])
		require.NoError(t, err)
		return out
	}
	got := rows()
	require.Len(t, got, 250)
	for i, r := range got {
		e := f.entities[i]
		r.LastUpdate = r.LastUpdate.UTC()
		assert.Equal(t, row{ID: e.ID, CompanyID: 42, FirstName: e.FirstName, Email1: e.Email, IsActive: e.IsActive, LastUpdate: e.LastUpdate}, r)
	}
	var types []string
	r, err := conn.Query(ctx, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'marketsharp_contacts' AND column_name IN ('company_id', 'is_active', 'last_update', 'email1') ORDER BY column_name`, pgtest.Schema(t, u))
	require.NoError(t, err)
	types, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"company_id bigint", "email1 text", "is_active boolean", "last_update timestamp with time zone"}, types)
	var endpoint string
	require.NoError(t, conn.QueryRow(ctx, `SELECT endpoint FROM etl_sync_history WHERE id = $1`, res.RunID).Scan(&endpoint))
	assert.Equal(t, "odata "+srv.URL+"/Svc.svc/Contacts", endpoint, "an env() URL's origin and path are shown; only its credentials are secret")

	// Between the runs: one contact changes, one is new.
	f.mu.Lock()
	f.entities[10].FirstName = "Changed"
	f.entities[10].LastUpdate = last.Add(time.Second)
	f.entities = append(f.entities, entity{ID: "00000000-0000-4000-8000-000000000999", CompanyID: 42, FirstName: "New", Email: "new@example.com", Amount: "1", LastUpdate: last.Add(2 * time.Second)})
	before := len(f.requests)
	f.mu.Unlock()

	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	// The contact at the boundary instant comes again, unchanged.
	assert.Equal(t, engine.Tally{Processed: 3, Created: 1, Updated: 1, Unchanged: 1}, res.Tally)
	reqs := f.urls()[before:]
	require.NotEmpty(t, reqs)
	assert.Equal(t, "/Svc.svc/Contacts?$filter=lastUpdate%20ge%20datetime'2024-04-01T09:04:09'&$orderby=lastUpdate%20asc,id%20asc&$top=5000", reqs[0])
	got = rows()
	require.Len(t, got, 251)
	assert.Equal(t, "Changed", got[249].FirstName)
	assert.Equal(t, "New", got[250].FirstName)
}

// TestMarketSharpTruncatedPageKeepsTheCursorIntegration fails the run on a
// page cut short: the error names the page and its URL, the batches before
// it have landed with their cursor, and the rerun resumes from it.
func TestMarketSharpTruncatedPageKeepsTheCursorIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	f := newMarketSharp(t, 450)
	f.clamp = 100
	f.truncateAt = 4
	srv := httptest.NewServer(f)
	defer srv.Close()
	reg := pgRegistry()
	p := pipelinetest.Load(t, reg, "marketsharp_contacts.hcl", "marketsharp.contacts", msEnv(srv.URL), func(s string) string {
		return strings.Replace(s, "batch_size = 1000", "batch_size = 100", 1)
	})

	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.Error(t, err)
	assert.Equal(t, engine.StatusFailed, res.Status)
	assert.Contains(t, err.Error(), "source odata: Contacts: page 4 (GET "+srv.URL+"/Svc.svc/Contacts?$filter=(lastUpdate%20gt%20datetime'2024-04-01T09:04:59')%20or%20(lastUpdate%20eq%20datetime'2024-04-01T09:04:59'%20and%20id%20gt%20'00000000-0000-4000-8000-000000000300')%20or%20lastUpdate%20eq%20null&$orderby=lastUpdate%20asc,id%20asc&$top=5000): the page is not well-formed XML")

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM marketsharp_contacts`).Scan(&n))
	assert.Equal(t, 300, n, "the three whole pages landed")
	var cursor string
	require.NoError(t, conn.QueryRow(ctx, `SELECT cursor_value FROM etl_state WHERE pipeline = $1`, p.Name).Scan(&cursor))
	assert.Equal(t, f.entities[299].LastUpdate.Format(time.RFC3339Nano), cursor)

	f.truncateAt = 0
	before := len(f.urls())
	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, "/Svc.svc/Contacts?$filter=lastUpdate%20ge%20datetime'2024-04-01T09:04:59'&$orderby=lastUpdate%20asc,id%20asc&$top=5000", f.urls()[before])
	assert.Equal(t, engine.Tally{Processed: 151, Created: 150, Unchanged: 1}, res.Tally)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM marketsharp_contacts`).Scan(&n))
	assert.Equal(t, 450, n)
}

// TestEveryEdmTypeIntoPostgresIntegration lands the every-type page in
// PostgreSQL: Int64 and Decimal exact (bigint, numeric), Edm.DateTime in
// the pipeline's timezone as timestamptz, booleans, text, null and "".
func TestEveryEdmTypeIntoPostgresIntegration(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	srv := httptest.NewServer(staticPage(t, "testdata/every_type.xml"))
	defer srv.Close()
	reg := pgRegistry()
	l := engine.NewLoader(reg)
	l.Strict = true
	p, diags := l.LoadSource("every.hcl", []byte(`pipeline "every" {
  system      = "test"
  entity      = "things"
  timezone    = "America/New_York"
  max_rejects = 1
  source "odata" {
    url        = "`+srv.URL+`/Svc.svc"
    entity_set = "Things"
    key        = "record.id"
  }
  map {
    id          = "record.id"
    company_id  = "int(record.companyId)"
    big         = "int(record.big)"
    amount      = "decimal(record.amount)"
    rate        = "float(record.rate)"
    is_active   = "bool(record.isActive)"
    last_update = "timestamp(record.lastUpdate)"
    seen_at     = "timestamp(record.seenAt)"
    middle      = "record.middleInitial"
    title       = "record.title"
    city        = "record.address?.city"
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}`))
	require.False(t, diags.HasErrors(), diags.Error())
	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: u})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusPartial, res.Status)
	assert.Equal(t, engine.Tally{Processed: 3, Created: 2, Rejected: 1}, res.Tally)

	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	type row struct {
		ID         string
		CompanyID  int64
		Big        *int64
		Amount     string
		Rate       *float64
		IsActive   *bool
		LastUpdate *time.Time
		SeenAt     *time.Time
		Middle     *string
		Title      *string
		City       *string
	}
	r, err := conn.Query(ctx, `SELECT id, company_id, big, amount::text, rate, is_active, last_update, seen_at, middle, title, city FROM things ORDER BY id`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(r, pgx.RowToStructByPos[row])
	require.NoError(t, err)
	require.Len(t, got, 2)
	utc := func(t *time.Time) *time.Time { v := t.UTC(); return &v }
	got[0].LastUpdate, got[0].SeenAt = utc(got[0].LastUpdate), utc(got[0].SeenAt)
	assert.Equal(t, row{
		ID:         "00000000-0000-4000-8000-000000000001",
		CompanyID:  42,
		Big:        ptr(int64(9007199254740993)),
		Amount:     "12345678901234567.89",
		Rate:       ptr(0.1),
		IsActive:   ptr(true),
		LastUpdate: ptr(time.Date(2024, 5, 1, 2, 1, 2, 500_000_000, time.UTC)), // 22:01:02.5 in New York (EDT)
		SeenAt:     ptr(time.Date(2024, 4, 30, 20, 1, 2, 123456000, time.UTC)), // PostgreSQL keeps microseconds
		Middle:     nil,
		Title:      ptr(""),
		City:       ptr("Springfield"),
	}, got[0])
	assert.Equal(t, row{ID: "00000000-0000-4000-8000-000000000002", CompanyID: 7, Amount: "-0.50"}, got[1])

	var check, reason, page, key string
	require.NoError(t, conn.QueryRow(ctx, `SELECT check_name, reason, page, source_key FROM etl_rejects WHERE run_id = $1`, res.RunID).Scan(&check, &reason, &page, &key))
	assert.Equal(t, []string{"source", `property companyId: (Edm.Int32) "not-a-number" is not an integer`, "1", "00000000-0000-4000-8000-000000000003"}, []string{check, reason, page, key})
}

func ptr[T any](v T) *T { return &v }

// BenchmarkAtomFeedIntegration runs the shipped contacts pipeline against
// a local fake MarketSharp serving Atom, 5,000 entries a page, into
// PostgreSQL, and reports records per second and the run's memory: the
// peak Go heap in use (live objects, garbage the collector has yet to
// reclaim, and free space in spans in use; HeapInuse) and the peak live
// heap (as of each collection), both sampled every few milliseconds, and
// the live heap before the run, what is not the run's.
//
// The fake generates each entity from its index as a page asks for it and
// writes the page out an entry at a time, so nothing in the process grows
// with the feed but what the source, engine and sink keep: the peaks at
// three feed sizes show whether that does.
//
// Run with: ETL_TEST_REQUIRE_DB=1 go test -run '^$' -bench AtomFeed -benchtime 1x ./sources/odata/
func BenchmarkAtomFeedIntegration(b *testing.B) {
	for _, n := range []int{20000, 100000, 200000} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			u := pgtest.URL(b)
			f := &fakeOData{t: b, generate: n, companyID: msCompany, apiKey: msAPIKey, secretB64: msSecret}
			srv := httptest.NewServer(f)
			defer srv.Close()
			reg := pgRegistry()
			p := pipelinetest.Load(b, reg, "marketsharp_contacts.hcl", "marketsharp.contacts", msEnv(srv.URL), nil)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				base := readHeap()
				var peak heapFigures
				done, stopped := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(stopped)
					tick := time.NewTicker(5 * time.Millisecond)
					defer tick.Stop()
					for {
						peak = peak.max(readHeap())
						select {
						case <-done:
							return
						case <-tick.C:
						}
					}
				}()
				start := time.Now()
				res, err := p.Run(context.Background(), reg, engine.RunOptions{WarehouseURL: u, FullRefresh: true})
				took := time.Since(start)
				close(done)
				<-stopped
				require.NoError(b, err)
				require.Equal(b, int64(n), res.Tally.Processed)
				b.ReportMetric(float64(n)/took.Seconds(), "records/s")
				b.ReportMetric(mib(peak.inuse), "peak-heap-MiB")
				b.ReportMetric(mib(peak.live), "peak-live-MiB")
				b.ReportMetric(mib(base.live), "base-live-MiB")
			}
		})
	}
}

// heapFigures are the Go heap's in-use and live bytes.
type heapFigures struct{ inuse, live uint64 }

func (h heapFigures) max(o heapFigures) heapFigures {
	return heapFigures{max(h.inuse, o.inuse), max(h.live, o.live)}
}

// readHeap reads the heap in use now (objects, reclaimed or not, and the
// free space in their spans, as MemStats.HeapInuse, without stopping the
// world) and the heap that survived the last collection.
func readHeap() heapFigures {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(s)
	return heapFigures{inuse: s[0].Value.Uint64() + s[1].Value.Uint64(), live: s[2].Value.Uint64()}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
