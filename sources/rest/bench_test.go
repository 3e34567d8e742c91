package rest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sources/rest"
)

var rateLimitBlock = regexp.MustCompile(`(?s)rate_limit \{.*?\n    \}`)

// BenchmarkHubSpotListIntegration runs the shipped hubspot_contacts pipeline
// against a local fake HubSpot into PostgreSQL, 100 contacts a page:
//
//   - unbudgeted: 100,000 contacts with no rate limit and no latency, to
//     measure records per second end to end;
//   - budgeted: 4,000 contacts with a budget of 20 requests per second that
//     the fake enforces as a rolling window (429 beyond it), to measure how
//     much of the budget the source uses.
//
// Run with: go test -run '^$' -bench HubSpotList -benchtime 1x ./sources/rest/
func BenchmarkHubSpotListIntegration(b *testing.B) {
	cases := []struct {
		name     string
		contacts int
		budget   int // requests per second; 0: none
	}{
		{name: "unbudgeted", contacts: 100000},
		{name: "budgeted", contacts: 4000, budget: 20},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			u := pgtest.URL(b)
			f := newFakeHubSpot(b, c.contacts)
			limit := ""
			if c.budget > 0 {
				f.budget, f.window = c.budget, time.Second
				limit = fmt.Sprintf("rate_limit {\n      requests = %d\n      per      = \"1s\"\n    }", c.budget)
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			reg := engine.NewRegistry()
			rest.Register(reg)
			postgres.Register(reg)
			env := map[string]string{"HUBSPOT_API_URL": srv.URL, "HUBSPOT_TOKEN": secretToken}
			p := pipelinetest.Load(b, reg, "hubspot_contacts.hcl", "hubspot.contacts", env, func(s string) string {
				return rateLimitBlock.ReplaceAllString(s, limit)
			})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := f.rec.count()
				start := time.Now()
				res, err := p.Run(context.Background(), reg, engine.RunOptions{WarehouseURL: u, FullRefresh: true})
				took := time.Since(start)
				require.NoError(b, err)
				require.Equal(b, int64(c.contacts), res.Tally.Processed)
				// The request rate is measured between the first and the last
				// request the server saw, without the run's setup.
				reqs := f.rec.all()[before:]
				span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
				reqRate := float64(len(reqs)-1) / span.Seconds()
				b.ReportMetric(float64(c.contacts)/took.Seconds(), "records/s")
				b.ReportMetric(reqRate, "requests/s")
				if c.budget > 0 {
					b.ReportMetric(100*reqRate/float64(c.budget), "%budget")
					b.ReportMetric(float64(f.throttled), "429s")
				}
			}
		})
	}
}

// BenchmarkRead measures the source alone: 100,000 HubSpot contacts, 100 a
// page, from a local fake, with no engine behind it.
func BenchmarkRead(b *testing.B) {
	f := newFakeHubSpot(b, 100000)
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(b, lines(`url = "`+srv.URL+`/crm/v3/objects/contacts"
query = { limit = 100 }
records = "results"
key = "record.id"
auth "bearer" { token = env("TOKEN") }
paginate "cursor" {
  next  = "body.paging?.next?.after"
  param = "after"
}`), authEnv)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		n := 0
		err := s.Read(context.Background(), engine.ReadOptions{}, func(engine.Record) error { n++; return nil })
		require.NoError(b, err)
		require.Equal(b, 100000, n)
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	}
}
