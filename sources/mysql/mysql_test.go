package mysql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/mysqltest"
)

// newSource builds a Source from the body of a source block.
func newSource(t testing.TB, body string) (*Source, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(body), "test.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	src, diags := New(f.Body, &hcl.EvalContext{}, engine.PluginContext{Pipeline: "test_pipeline", DefRange: hcl.Range{Filename: "test.hcl"}})
	if src == nil {
		return nil, diags
	}
	s := src.(*Source)
	s.minWait = 10 * time.Millisecond
	return s, diags
}

func mustSource(t testing.TB, body string) *Source {
	t.Helper()
	s, diags := newSource(t, body)
	require.False(t, diags.HasErrors(), diags.Error())
	return s
}

// read runs one Read and returns the records, the log and the error.
func read(t testing.TB, s *Source, since any, loc *time.Location) ([]engine.Record, string, error) {
	t.Helper()
	var logs bytes.Buffer
	var recs []engine.Record
	err := s.Read(context.Background(), engine.ReadOptions{
		Since:    since,
		Location: loc,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, logs.String(), err
}

// schema creates a database with testdata/genius.sql and returns its DSN.
func schema(t testing.TB) string {
	t.Helper()
	dsn := mysqltest.DSN(t)
	ddl, err := os.ReadFile("testdata/genius.sql")
	require.NoError(t, err)
	mysqltest.Exec(t, dsn, string(ddl))
	return dsn
}

// field returns one field of every record, in order.
func field(recs []engine.Record, name string) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i], _ = r.Get(name)
	}
	return out
}

func ints(vs ...int64) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func TestNewDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // the summary of the first error; "" for none
	}{
		{"table", `dsn = "u:p@tcp(h:3306)/db"
table = "lead"
key = ["lead_id"]`, ""},
		{"empty dsn is accepted while validating", `dsn = ""
table = "lead"
key = ["lead_id"]`, ""},
		{"neither table nor query", `dsn = "u:p@tcp(h)/db"
key = ["id"]`, "Missing table or query"},
		{"table and query", `dsn = "u:p@tcp(h)/db"
table = "t"
query = "SELECT 1"
key = ["id"]`, "Both table and query"},
		{"columns with query", `dsn = "u:p@tcp(h)/db"
query = "SELECT id FROM t"
columns = ["id"]
key = ["id"]`, "Columns with a query"},
		{"query not a select", `dsn = "u:p@tcp(h)/db"
query = "DELETE FROM t"
key = ["id"]`, "Query is not a SELECT"},
		{"empty key", `dsn = "u:p@tcp(h)/db"
table = "t"
key = []`, "Missing key"},
		{"fallback without incremental", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id"]
fallback_column = "created_at"`, "Fallback without incremental_column"},
		{"incremental in key", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id", "updated_at"]
incremental_column = "updated_at"`, "Incremental column in key"},
		{"page size", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id"]
page_size = 0.5`, "Unsuitable value type"},
		{"page size range", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id"]
page_size = 1000000`, "Invalid page_size"},
		{"bad duration", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id"]
read_timeout = "soon"`, "Invalid read_timeout"},
		{"retry attempts", `dsn = "u:p@tcp(h)/db"
table = "t"
key = ["id"]
retry {
  attempts = 0.5
}`, "Unsuitable value type"},
		{"duplicate column", `dsn = "u:p@tcp(h)/db"
table = "t"
columns = ["id", "ID"]
key = ["id"]`, "Duplicate column"},
		{"no database", `dsn = "u:p@tcp(h)/"
table = "t"
key = ["id"]`, "No database in dsn"},
		{"bad table name", `dsn = "u:p@tcp(h)/db"
table = "a.b.c"
key = ["id"]`, "Invalid table name"},
		{"invalid dsn", `dsn = "u:s3cret-pass@tcp(h/db"
table = "t"
key = ["id"]`, "Invalid dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := newSource(t, tt.body)
			if tt.want == "" {
				assert.False(t, diags.HasErrors(), diags.Error())
				return
			}
			require.True(t, diags.HasErrors())
			assert.Equal(t, tt.want, diags[0].Summary, diags.Error())
			assert.NotNil(t, diags[0].Subject)
			assert.NotContains(t, diags.Error(), "s3cret-pass")
		})
	}
}

func TestDescribeAndFields(t *testing.T) {
	s := mustSource(t, `dsn = "genius:s3cret-pass@tcp(db.example.com:3306)/genius"
table = "lead"
columns = ["first_name", "LeadSource"]
key = ["lead_id"]
incremental_column = "updated_at"
fallback_column = "added_on"`)
	assert.Equal(t, "mysql db.example.com/genius table lead", s.Describe())
	assert.NotContains(t, s.Describe(), "s3cret-pass")
	assert.Equal(t, []string{"first_name", "LeadSource", "lead_id", "updated_at", "added_on"}, s.Fields())
	assert.True(t, s.CursorOrdered())

	q := mustSource(t, `dsn = "genius:s3cret-pass@tcp(db.example.com:3307)/genius"
query = "SELECT id FROM prospect"
key = ["id"]`)
	assert.Equal(t, "mysql db.example.com:3307/genius query", q.Describe())
	assert.Nil(t, q.Fields())
	assert.False(t, q.CursorOrdered())
}

func TestPageQuery(t *testing.T) {
	s := mustSource(t, "dsn = \"u:p@tcp(h)/db\"\ntable = \"genius.lead\"\ncolumns = [\"lead_id\", \"Odd`Name\"]\nkey = [\"lead_id\"]\npage_size = 10")
	r := &reader{s: s, cols: []column{{name: "lead_id"}, {name: "Odd`Name"}, {name: "updated_at", kind: kindDateTime}}}
	st := &stream{filter: "`updated_at` >= ?", args: []any{"2024-01-01 00:00:00"}, ord: []int{2, 0}}
	q, args := r.pageQuery(st)
	assert.Equal(t, "SELECT `lead_id`, `Odd``Name` FROM `genius`.`lead` WHERE `updated_at` >= ? ORDER BY `updated_at`, `lead_id` LIMIT 10", q)
	assert.Equal(t, []any{"2024-01-01 00:00:00"}, args)

	st.after = []any{"2024-01-02 03:04:05", int64(7)}
	q, args = r.pageQuery(st)
	assert.Equal(t, "SELECT `lead_id`, `Odd``Name` FROM `genius`.`lead` WHERE `updated_at` >= ? AND ((`updated_at` > ?) OR (`updated_at` = ? AND `lead_id` > ?)) ORDER BY `updated_at`, `lead_id` LIMIT 10", q)
	assert.Equal(t, []any{"2024-01-01 00:00:00", "2024-01-02 03:04:05", "2024-01-02 03:04:05", int64(7)}, args)

	qs := mustSource(t, "dsn = \"u:p@tcp(h)/db\"\nquery = \"SELECT id FROM t -- trailing comment;\"\nkey = [\"id\"]")
	assert.Equal(t, "(\nSELECT id FROM t -- trailing comment\n) AS `_etl`", qs.from())
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"killed", &gomysql.MySQLError{Number: 1927}, true},
		{"deadlock", &gomysql.MySQLError{Number: 1213}, true},
		{"syntax", &gomysql.MySQLError{Number: 1064}, false},
		{"access denied", &gomysql.MySQLError{Number: 1045}, false},
		{"expired", &gomysql.MySQLError{Number: 1862}, false},
		{"unknown column", &gomysql.MySQLError{Number: 1054}, false},
		{"bad conn", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"invalid conn", fmt.Errorf("read: %w", gomysql.ErrInvalidConn), true},
		{"canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, transient(tt.err))
		})
	}
}

func TestSQLTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := time.Date(2024, 7, 1, 16, 30, 0, 0, time.UTC)
	assert.Equal(t, "2024-07-01 12:30:00", sqlTime(at, kindDateTime, ny))
	assert.Equal(t, "2024-07-01 16:30:00", sqlTime(at, kindTimestamp, ny))
	assert.Equal(t, "2024-07-01", sqlTime(at, kindDate, ny))
	assert.Equal(t, "2024-07-01 12:30:00.000250", sqlTime(at.Add(250*time.Microsecond), kindDateTime, ny))
}

func TestZeroDate(t *testing.T) {
	for _, s := range []string{"0000-00-00", "0000-00-00 00:00:00", "2020-00-00", "2020-05-00 00:00:00"} {
		assert.True(t, zeroDate([]byte(s)), s)
	}
	for _, s := range []string{"2020-05-01", "2020-05-01 00:00:00", "12:00:00"} {
		assert.False(t, zeroDate([]byte(s)), s)
	}
}

func TestParseDateTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tests := []struct {
		name string
		in   string
		want time.Time
		err  bool
	}{
		{"date-time", "2024-03-10 12:34:56", time.Date(2024, 3, 10, 12, 34, 56, 0, ny), false},
		{"micros", "2024-03-10 12:34:56.000250", time.Date(2024, 3, 10, 12, 34, 56, 250000, ny), false},
		{"tenths", "2024-03-10 12:34:56.5", time.Date(2024, 3, 10, 12, 34, 56, 500000000, ny), false},
		{"date", "2024-03-10", time.Date(2024, 3, 10, 0, 0, 0, 0, ny), false},
		{"DST gap moves forward like time.Date", "2024-03-10 02:30:00", time.Date(2024, 3, 10, 2, 30, 0, 0, ny), false},
		{"Feb 31 is an error", "2024-02-31 00:00:00", time.Time{}, true},
		{"garbage", "yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDateTime([]byte(tt.in), ny)
			if tt.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s want %s", got, tt.want)
		})
	}
}

func TestPlanRead(t *testing.T) {
	s := mustSource(t, `dsn = "u:s3cret-pass@tcp(h)/db"
table = "lead"
columns = ["lead_id", "first_name"]
key = ["lead_id"]
incremental_column = "updated_at"
fallback_column = "added_on"
page_size = 100`)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	got := s.PlanRead(engine.ReadOptions{Since: time.Date(2024, 7, 1, 16, 0, 0, 0, time.UTC), Location: ny})
	assert.Equal(t, "SELECT `lead_id`, `first_name`, `updated_at`, `added_on` FROM `lead` WHERE (`updated_at` IS NULL OR `updated_at` < '0001-01-01') AND `added_on` >= ? ORDER BY `added_on`, `lead_id` LIMIT 100 -- ? = \"2024-07-01 12:00:00\"\n"+
		"SELECT `lead_id`, `first_name`, `updated_at`, `added_on` FROM `lead` WHERE `updated_at` >= ? ORDER BY `updated_at`, `lead_id` LIMIT 100 -- ? = \"2024-07-01 12:00:00\"", got)
	full := s.PlanRead(engine.ReadOptions{})
	assert.Equal(t, 3, strings.Count(full, "SELECT"), full)
	assert.NotContains(t, full, "s3cret-pass")
}
