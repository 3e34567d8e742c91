package mysql_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sources/mysql"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	mysql.Register(r)
	postgres.Register(r)
	return r
}

// TestGeniusPipelinesLoad loads every shipped Genius pipeline the way etl
// validate does (GENIUS_MYSQL_DSN unset is a warning) and the example.
func TestGeniusPipelinesLoad(t *testing.T) {
	all, err := filepath.Glob("../../pipelines/genius_*.hcl")
	require.NoError(t, err)
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".test.hcl") { // etl test cases, not pipelines
			files = append(files, f)
		}
	}
	require.Len(t, files, 14, "prospect, appointment, division, division_group, user_data, lead, quote, job, marketing_source, marketing_source_type, prospect_source, appointment_type, appointment_outcome, service")
	files = append(files, "example.hcl")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			l := engine.NewLoader(registry())
			l.LookupEnv = func(string) (string, bool) { return "", false }
			p, diags := l.Load(f)
			require.False(t, diags.HasErrors(), diags.Error())
			for _, d := range diags {
				assert.Equal(t, "Value not available", d.Summary, d.Error())
			}
			assert.Equal(t, "mysql", p.SourceKind)
			if p.Source.(engine.CursorOrdered).CursorOrdered() {
				assert.NotNil(t, p.Cursor, "an incremental source needs an incremental block")
			}
		})
	}
}

// TestProspectPipelineIntegration runs the shipped prospect pipeline (its
// sink table moved into the test's schema, a small page and a non-UTC
// timezone) from MariaDB into PostgreSQL, twice.
func TestProspectPipelineIntegration(t *testing.T) {
	dsn := mysqltest.DSN(t)
	ddl, err := os.ReadFile("testdata/genius.sql")
	require.NoError(t, err)
	mysqltest.Exec(t, dsn, string(ddl))
	mysqltest.Exec(t, dsn, `SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';
		INSERT INTO third_party_source_type VALUES (1, 'hubspot'), (2, 'marketsharp');
		INSERT INTO third_party_source VALUES (10, ' 501 ', 1), (11, 'ms-7', 2);
		INSERT INTO prospect (id, division_id, first_name, last_name, city, zip, year_built, notes, add_date, third_party_source_id, updated_at) VALUES
		(1, 3, 'Ann', 'Lee', 'Zürich', '02134', 1987, 'likes ☕', '2024-01-01 08:00:00', 10, '2024-05-01 10:00:00'),
		(2, 3, 'Bob', '', 'Köln', NULL, NULL, '', '2024-01-02 08:00:00', 11, '2024-05-01 10:00:00'),
		(3, 4, 'Cat', NULL, NULL, NULL, NULL, NULL, '2024-04-01 00:00:00', NULL, NULL),
		(4, 4, 'Dan', NULL, NULL, NULL, NULL, NULL, '2024-03-01 00:00:00', NULL, '0000-00-00 00:00:00'),
		(5, 4, '🎉 Eve', NULL, NULL, NULL, NULL, NULL, '2024-01-05 00:00:00', NULL, '2024-05-02 00:00:00'),
		(6, 4, 'Fay', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`)

	reg := registry()
	p := pipelinetest.Load(t, reg, "genius_prospect.hcl", "genius.prospect", map[string]string{"GENIUS_MYSQL_DSN": dsn}, func(text string) string {
		text = strings.NewReplacer(
			`timezone   = "UTC"`, `timezone   = "Asia/Kolkata"`,
			`fallback_column    = "add_date"`, `fallback_column    = "add_date"`+"\n    page_size = 2",
		).Replace(text)
		require.Contains(t, text, "page_size = 2")
		require.Contains(t, text, "Asia/Kolkata")
		return text
	})

	pgURL := pgtest.URL(t)
	ctx := context.Background()
	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: pgURL, BatchSize: 2})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusSuccess, res.Status)
	assert.Equal(t, engine.Tally{Processed: 6, Created: 6}, res.Tally)
	assert.Equal(t, time.Date(2024, 5, 1, 18, 30, 0, 0, time.UTC), res.Cursor.Value, "2024-05-02 00:00 in Kolkata")

	type prospect struct {
		ID        int64
		FirstName *string
		LastName  *string
		City      *string
		Zip       *string
		YearBuilt *int64
		Notes     *string
		HubspotID *string
		AddDate   *time.Time
		UpdatedAt *time.Time
	}
	rows := func() []prospect {
		conn, err := pgx.Connect(ctx, pgURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		rs, err := conn.Query(ctx, `SELECT id, first_name, last_name, city, zip, year_built, notes, hubspot_id, add_date, updated_at FROM genius_prospect ORDER BY id`)
		require.NoError(t, err)
		var out []prospect
		for rs.Next() {
			var p prospect
			require.NoError(t, rs.Scan(&p.ID, &p.FirstName, &p.LastName, &p.City, &p.Zip, &p.YearBuilt, &p.Notes, &p.HubspotID, &p.AddDate, &p.UpdatedAt))
			if p.AddDate != nil {
				*p.AddDate = p.AddDate.UTC()
			}
			if p.UpdatedAt != nil {
				*p.UpdatedAt = p.UpdatedAt.UTC()
			}
			out = append(out, p)
		}
		require.NoError(t, rs.Err())
		return out
	}
	s := func(v string) *string { return &v }
	n := func(v int64) *int64 { return &v }
	ts := func(v string) *time.Time {
		tm, err := time.Parse(time.RFC3339, v)
		require.NoError(t, err)
		return &tm
	}
	want := []prospect{
		{ID: 1, FirstName: s("Ann"), LastName: s("Lee"), City: s("Zürich"), Zip: s("02134"), YearBuilt: n(1987), Notes: s("likes ☕"), HubspotID: s("501"), AddDate: ts("2024-01-01T02:30:00Z"), UpdatedAt: ts("2024-05-01T04:30:00Z")},
		{ID: 2, FirstName: s("Bob"), City: s("Köln"), AddDate: ts("2024-01-02T02:30:00Z"), UpdatedAt: ts("2024-05-01T04:30:00Z")},
		{ID: 3, FirstName: s("Cat"), AddDate: ts("2024-03-31T18:30:00Z")},
		{ID: 4, FirstName: s("Dan"), AddDate: ts("2024-02-29T18:30:00Z")},
		{ID: 5, FirstName: s("🎉 Eve"), AddDate: ts("2024-01-04T18:30:00Z"), UpdatedAt: ts("2024-05-01T18:30:00Z")},
		{ID: 6, FirstName: s("Fay")},
	}
	assert.Equal(t, want, rows())

	// Changes: an update, a row at the saved cursor, a row without
	// updated_at, and a change that does not touch updated_at (invisible to
	// an incremental run, by design).
	mysqltest.Exec(t, dsn, `
		UPDATE prospect SET first_name = 'Bobby', updated_at = '2024-06-01 00:00:00' WHERE id = 2;
		INSERT INTO prospect (id, first_name, add_date, updated_at) VALUES
			(7, 'Gus', '2024-06-02 00:00:00', NULL), (8, 'Hal', '2024-01-08 00:00:00', '2024-05-02 00:00:00');
		UPDATE prospect SET first_name = 'Cathy' WHERE id = 3;`)
	res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: pgURL, BatchSize: 2})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 4, Created: 2, Updated: 1, Unchanged: 1}, res.Tally, "5 (boundary), 8, 2, 7")
	assert.Equal(t, time.Date(2024, 6, 1, 18, 30, 0, 0, time.UTC), res.Cursor.Value)

	want[1].FirstName, want[1].UpdatedAt = s("Bobby"), ts("2024-05-31T18:30:00Z")
	want = append(want,
		prospect{ID: 7, FirstName: s("Gus"), AddDate: ts("2024-06-01T18:30:00Z")},
		prospect{ID: 8, FirstName: s("Hal"), AddDate: ts("2024-01-07T18:30:00Z"), UpdatedAt: ts("2024-05-01T18:30:00Z")})
	assert.Equal(t, want, rows())
}

// TestAppointmentPipelineIntegration runs the shipped appointment pipeline:
// the split date and time become one instant in the pipeline's timezone, and
// the prospect's HubSpot id comes through the cross-reference joins.
func TestAppointmentPipelineIntegration(t *testing.T) {
	dsn := mysqltest.DSN(t)
	ddl, err := os.ReadFile("testdata/genius.sql")
	require.NoError(t, err)
	mysqltest.Exec(t, dsn, string(ddl))
	mysqltest.Exec(t, dsn, `
		INSERT INTO third_party_source_type VALUES (1, 'hubspot'), (2, 'marketsharp');
		INSERT INTO third_party_source VALUES (10, '501', 1), (11, 'ms-7', 2);
		INSERT INTO prospect (id, third_party_source_id) VALUES (1, 10), (2, 11);
		INSERT INTO appointment (id, prospect_id, `+"`date`, `time`"+`, spouses_present, is_complete, add_date, updated_at) VALUES
		(1, 1, '2024-07-15', '18:30:00', 1, 0, '2024-07-01 09:00:00', '2024-07-02 10:00:00'),
		(2, 2, '2024-01-15', NULL, 0, 1, '2024-01-01 09:00:00', NULL),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`)

	reg := registry()
	p := pipelinetest.Load(t, reg, "genius_appointment.hcl", "genius.appointment", map[string]string{"GENIUS_MYSQL_DSN": dsn}, func(text string) string {
		text = strings.Replace(text, `timezone   = "UTC"`, `timezone   = "America/New_York"`, 1)
		require.Contains(t, text, "America/New_York")
		return text
	})
	pgURL := pgtest.URL(t)
	ctx := context.Background()
	res, err := p.Run(ctx, reg, engine.RunOptions{WarehouseURL: pgURL})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 3, Created: 3}, res.Tally)

	conn, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rs, err := conn.Query(ctx, `SELECT id, date::text, time, starts_at, spouses_present, is_complete, hubspot_id FROM genius_appointment ORDER BY id`)
	require.NoError(t, err)
	type appt struct {
		ID            int64
		Date, Time    *string
		StartsAt      *time.Time
		Spouses, Done *bool
		HubspotID     *string
	}
	var got []appt
	for rs.Next() {
		var a appt
		require.NoError(t, rs.Scan(&a.ID, &a.Date, &a.Time, &a.StartsAt, &a.Spouses, &a.Done, &a.HubspotID))
		if a.StartsAt != nil {
			*a.StartsAt = a.StartsAt.UTC()
		}
		got = append(got, a)
	}
	require.NoError(t, rs.Err())
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }
	at := time.Date(2024, 7, 15, 22, 30, 0, 0, time.UTC) // 18:30 EDT
	assert.Equal(t, []appt{
		{ID: 1, Date: s("2024-07-15"), Time: s("18:30:00"), StartsAt: &at, Spouses: b(true), Done: b(false), HubspotID: s("501")},
		{ID: 2, Date: s("2024-01-15"), Spouses: b(false), Done: b(true)},
		{ID: 3},
	}, got)
}
