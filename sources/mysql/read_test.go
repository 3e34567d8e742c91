package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/mysqltest"
)

func TestLeadFullLoadIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `INSERT INTO `+"`lead`"+` (lead_id, first_name, LeadSource, is_hot, budget, added_on, updated_at) VALUES
		(5, 'Eve', 'web', 1, 100.10, '2024-01-05 00:00:00', NULL),
		(1, 'Ann', 'tv', 0, 1234.50, '2024-01-01 00:00:00', '2024-02-01 00:00:00'),
		(3, 'Cat', NULL, NULL, NULL, NULL, NULL),
		(2, 'Bob', 'radio', 1, 0.01, '2024-01-02 00:00:00', '2024-02-02 00:00:00'),
		(4, 'Dan', 'web', 0, 99999999.99, '2024-01-04 00:00:00', '2024-01-03 00:00:00')`)

	s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "lead"
columns = ["first_name", "LeadSource", "is_hot", "budget"]
key = ["lead_id"]
page_size = 2`, dsn))
	recs, _, err := read(t, s, nil, time.UTC)
	require.NoError(t, err)

	assert.Equal(t, ints(1, 2, 3, 4, 5), field(recs, "lead_id"), "key order, across three pages")
	assert.Equal(t, []any{"tv", "radio", nil, "web", "web"}, field(recs, "LeadSource"), "mixed-case column")
	assert.Equal(t, []any{int64(0), int64(1), nil, int64(0), int64(1)}, field(recs, "is_hot"), "TINYINT(1) stays an integer")
	assert.Equal(t, []any{"1234.50", "0.01", nil, "99999999.99", "100.10"}, field(recs, "budget"), "DECIMAL is exact text")
	assert.Equal(t, engine.Position{Page: "1", Key: "1"}, recs[0].Pos)
	assert.Equal(t, engine.Position{Page: "3", Key: "5"}, recs[4].Pos)
	assert.Len(t, recs[0].Map(), 5)
}

func TestQueryWithJoinIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `
		INSERT INTO third_party_source_type VALUES (1, 'hubspot'), (2, 'other');
		INSERT INTO third_party_source VALUES (10, 'hs-100', 1), (11, 'x-7', 2);
		INSERT INTO prospect (id, first_name, third_party_source_id, updated_at) VALUES
			(1, 'Ann', 10, '2024-01-01 00:00:00'), (2, 'Bob', 11, '2024-01-01 00:00:00'), (3, 'Cat', NULL, NULL);`)
	s := mustSource(t, fmt.Sprintf(`dsn = %q
query = <<-SQL
  SELECT p.id, p.first_name, tps.third_party_id, tpst.label AS third_party_label
  FROM prospect p
  LEFT JOIN third_party_source tps ON tps.id = p.third_party_source_id
  LEFT JOIN third_party_source_type tpst ON tpst.id = tps.third_party_source_type_id AND tpst.label = 'hubspot'
  -- a trailing comment;
SQL
key = ["id"]
page_size = 1`, dsn))
	recs, _, err := read(t, s, nil, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, ints(1, 2, 3), field(recs, "id"))
	assert.Equal(t, []any{"hs-100", "x-7", nil}, field(recs, "third_party_id"))
	assert.Equal(t, []any{"hubspot", nil, nil}, field(recs, "third_party_label"))
}

func TestValuesIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `
		SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';
		SET SESSION time_zone = '+05:00';
		INSERT INTO kinds VALUES
		(1, 1, b'1000000001', 3.14, 2.5, 12345678901234.5678, '{"a": [1, 2.50]}', 'café Zürich', '🎉 naïve 日本', x'00FF41', x'DEADBEEF',
		 '2024-03-10', '13:45:00', '2024-01-15 12:00:00.123456', '2024-01-01 10:00:00', 2024, 'sad'),
		(2, 0, b'0', -0.5, 0.1, 0.1, NULL, NULL, '', '', NULL,
		 '0000-00-00', NULL, '2024-07-15 12:00:00', NULL, NULL, NULL),
		(18446744073709551615, NULL, NULL, NULL, NULL, -1.0000, '[]', 'ÆØÅ', 'Ω', NULL, NULL,
		 NULL, '-01:30:00', '0000-00-00 00:00:00', NULL, NULL, 'happy');`)

	kolkata, err := time.LoadLocation("Asia/Kolkata") // +05:30, no DST
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)

	s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "kinds"
key = ["id"]`, dsn))

	// Zone-independent values first.
	recs, logs, err := read(t, s, nil, time.UTC)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	want := []map[string]any{
		{"id": int64(1), "flag": int64(1), "bits": int64(513), "ratio": 3.14, "score": 2.5, "money": "12345678901234.5678",
			"doc": `{"a": [1, 2.50]}`, "latin": "café Zürich", "utf": "🎉 naïve 日本", "raw": "\x00\xffA", "bin": "\xde\xad\xbe\xef",
			"day": "2024-03-10", "at_time": "13:45:00", "instant": time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC), "yr": int64(2024), "mood": "sad"},
		{"id": int64(2), "flag": int64(0), "bits": int64(0), "ratio": -0.5, "score": 0.1, "money": "0.1000",
			"doc": nil, "latin": nil, "utf": "", "raw": "", "bin": nil,
			"day": nil, "at_time": nil, "instant": nil, "yr": nil, "mood": nil},
		{"id": "18446744073709551615", "flag": nil, "bits": nil, "ratio": nil, "score": nil, "money": "-1.0000",
			"doc": "[]", "latin": "ÆØÅ", "utf": "Ω", "raw": nil, "bin": nil,
			"day": nil, "at_time": "-01:30:00", "local_dt": nil, "instant": nil, "yr": nil, "mood": "happy"},
	}
	for i, w := range want {
		for k, v := range w {
			assert.Equal(t, v, recs[i].Map()[k], "row %d column %s", i+1, k)
		}
	}
	assert.Contains(t, logs, `msg="mysql zero dates read as null"`)
	assert.Contains(t, logs, `count=2 columns="day=1, local_dt=1"`)

	// DATETIME is naive: it is read in the pipeline's timezone.
	tests := []struct {
		name string
		loc  *time.Location
		want []any
	}{
		{"UTC", time.UTC, []any{time.Date(2024, 1, 15, 12, 0, 0, 123456000, time.UTC), time.Date(2024, 7, 15, 12, 0, 0, 0, time.UTC), nil}},
		{"Asia/Kolkata, no DST", kolkata, []any{time.Date(2024, 1, 15, 6, 30, 0, 123456000, time.UTC), time.Date(2024, 7, 15, 6, 30, 0, 0, time.UTC), nil}},
		{"America/New_York, winter and summer", newYork, []any{time.Date(2024, 1, 15, 17, 0, 0, 123456000, time.UTC), time.Date(2024, 7, 15, 16, 0, 0, 0, time.UTC), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := read(t, s, nil, tt.loc)
			require.NoError(t, err)
			got := field(recs, "local_dt")
			for i := range got {
				if tm, ok := got[i].(time.Time); ok {
					assert.Equal(t, tt.loc, tm.Location())
					got[i] = tm.UTC()
				}
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC), recs[0].Map()["instant"].(time.Time).UTC(), "TIMESTAMP is an instant, whatever the zone")
		})
	}
}

// leadRows is the lead table of the incremental tests: a group of ten rows
// sharing one updated_at, rows with a NULL or zero updated_at that fall
// back to added_on, one with neither.
const leadRows = "INSERT INTO `lead` (lead_id, first_name, added_on, updated_at) VALUES" + `
	(1, 'g1', '2024-01-01', '2024-05-01 10:00:00'), (2, 'g2', '2024-01-01', '2024-05-01 10:00:00'),
	(3, 'g3', '2024-01-01', '2024-05-01 10:00:00'), (4, 'g4', '2024-01-01', '2024-05-01 10:00:00'),
	(5, 'g5', '2024-01-01', '2024-05-01 10:00:00'), (6, 'g6', '2024-01-01', '2024-05-01 10:00:00'),
	(7, 'g7', '2024-01-01', '2024-05-01 10:00:00'), (8, 'g8', '2024-01-01', '2024-05-01 10:00:00'),
	(9, 'g9', '2024-01-01', '2024-05-01 10:00:00'), (10, 'g10', '2024-01-01', '2024-05-01 10:00:00'),
	(11, 'null updated, added before the group', '2024-05-01 09:00:00', NULL),
	(12, 'null updated, added after the group', '2024-05-02 00:00:00', NULL),
	(13, 'no cursor at all', NULL, NULL),
	(14, 'zero updated_at', '2024-04-30 00:00:00', '0000-00-00 00:00:00'),
	(15, 'old', NULL, '2024-04-01 00:00:00'),
	(16, 'newest', NULL, '2024-06-01 00:00:00')`

func TestIncrementalIntegration(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	tests := []struct {
		name     string
		pageSize int
		loc      *time.Location
	}{
		{"one row a page", 1, time.UTC},
		{"group spans pages", 3, time.UTC},
		{"one page", 100, time.UTC},
		{"non-UTC timezone", 4, kolkata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := schema(t)
			mysqltest.Exec(t, dsn, "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';"+leadRows)
			s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "lead"
columns = ["lead_id", "first_name", "added_on", "updated_at"]
key = ["lead_id"]
incremental_column = "updated_at"
fallback_column = "added_on"
page_size = %d`, dsn, tt.pageSize))
			at := func(s string) time.Time {
				tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, tt.loc)
				require.NoError(t, err)
				return tm.UTC()
			}

			// Full load: rows without a cursor, then by updated_at ?? added_on.
			recs, logs, err := read(t, s, nil, tt.loc)
			require.NoError(t, err)
			assert.Equal(t, ints(13, 15, 14, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16), field(recs, "lead_id"))
			assertCursorOrdered(t, recs)
			assert.Contains(t, logs, `count=1 columns="updated_at=1"`)

			// Incremental from the group's timestamp: the whole group (inclusive
			// boundary), and what came after, including a fallback row.
			recs, _, err = read(t, s, at("2024-05-01 10:00:00"), tt.loc)
			require.NoError(t, err)
			assert.Equal(t, ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16), field(recs, "lead_id"))
			assertCursorOrdered(t, recs)

			// Changes: an update, an insert at the boundary, an insert without
			// updated_at, an old row updated, and an untouched older row.
			mysqltest.Exec(t, dsn, "UPDATE `lead` SET updated_at = '2024-06-02 00:00:00' WHERE lead_id = 3;"+
				"INSERT INTO `lead` (lead_id, first_name, added_on, updated_at) VALUES (17, 'new, null updated', '2024-06-03 00:00:00', NULL), (18, 'new at boundary', '2024-06-01 00:00:00', '2024-06-01 00:00:00');"+
				"UPDATE `lead` SET updated_at = '2024-06-05 00:00:00' WHERE lead_id = 15;")
			recs, _, err = read(t, s, at("2024-06-01 00:00:00"), tt.loc)
			require.NoError(t, err)
			assert.Equal(t, ints(16, 18, 3, 17, 15), field(recs, "lead_id"))
			assertCursorOrdered(t, recs)
		})
	}
}

// assertCursorOrdered checks that updated_at ?? added_on never decreases.
func assertCursorOrdered(t *testing.T, recs []engine.Record) {
	t.Helper()
	var last time.Time
	for _, r := range recs {
		c := r.Map()["updated_at"]
		if c == nil {
			c = r.Map()["added_on"]
		}
		if c == nil {
			continue
		}
		tm := c.(time.Time)
		assert.False(t, tm.Before(last), "key %s: cursor %s before %s", r.Pos.Key, tm, last)
		last = tm
	}
}

func TestIncrementalWithoutFallbackIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';"+leadRows)
	s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "lead"
key = ["lead_id"]
incremental_column = "updated_at"
page_size = 2`, dsn))
	recs, _, err := read(t, s, nil, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, ints(11, 12, 13, 14, 15, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16), field(recs, "lead_id"), "a full load reads NULL and zero updated_at first")
	recs, _, err = read(t, s, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), time.UTC)
	require.NoError(t, err)
	assert.Equal(t, ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16), field(recs, "lead_id"))
}

func TestTimestampCursorIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `SET SESSION time_zone = '-07:00';
		INSERT INTO quote (id, amount, add_date, updated_at) VALUES
		(1, 10.00, '2024-01-01 00:00:00', '2024-03-01 12:00:00'),
		(2, 20.50, '2024-01-01 00:00:00', '2024-03-01 13:00:00'),
		(3, 30.99, '2024-03-01 20:30:00', NULL)`)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "quote"
key = ["id"]
incremental_column = "updated_at"
fallback_column = "add_date"`, dsn))
	// Row 2 is 20:00 UTC; row 3's add_date is naive New York time, 01:30 UTC
	// the next day.
	recs, _, err := read(t, s, time.Date(2024, 3, 1, 20, 0, 0, 0, time.UTC), newYork)
	require.NoError(t, err)
	assert.Equal(t, ints(2, 3), field(recs, "id"))
	assert.Equal(t, []any{"20.50", "30.99"}, field(recs, "amount"))
}

// connections lists the server's connections to the database dsn names.
func connections(t *testing.T, admin *sql.DB, dsn string) []int64 {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	require.NoError(t, err)
	rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", cfg.DBName)
	require.NoError(t, err)
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

func TestKilledConnectionIntegration(t *testing.T) {
	dsn := schema(t)
	// 60 prospects of 500 KB notes: a page of 20 is 10 MB, more than the
	// socket buffers hold, so a kill mid-page cuts the stream.
	mysqltest.Exec(t, dsn, `INSERT INTO prospect (id, first_name, notes, updated_at)
		SELECT seq, CONCAT('p', seq), REPEAT('x', 500000), '2024-01-01' FROM seq_1_to_60`)
	admin := mysqltest.Open(t, mysqltest.ServerConfig(t).FormatDSN())

	tests := []struct {
		name string
		when func(page, n int) bool // kill after this row of this page is scanned
	}{
		{"between pages", func(page, n int) bool { return page == 1 && n == 20 }},
		{"mid-page", func(page, n int) bool { return page == 2 && n == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSource(t, fmt.Sprintf(`dsn = %q
table = "prospect"
columns = ["id", "first_name", "notes"]
key = ["id"]
page_size = 20
retry {
  attempts = 4
  max_wait = "50ms"
}`, dsn))
			killed := 0
			s.scanned = func(page, n int) {
				if killed == 0 && tt.when(page, n) {
					for _, id := range connections(t, admin, dsn) {
						_, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id))
						require.NoError(t, err)
						killed++
					}
				}
			}
			recs, logs, err := read(t, s, nil, time.UTC)
			require.NoError(t, err)
			require.NotZero(t, killed, "no connection was killed")
			want := make([]any, 60)
			for i := range want {
				want[i] = int64(i + 1)
			}
			assert.Equal(t, want, field(recs, "id"), "every row once, in order")
			if tt.name == "mid-page" {
				// Usually the kill cuts the page's stream and the page is read
				// again; on a loaded machine the page may already sit in the
				// socket buffers, and the kill then finds the connection idle
				// (the driver drops it). Either way every row came once, above.
				if !strings.Contains(logs, "mysql connection lost; retrying") {
					assert.Contains(t, logs, "closing bad idle connection", "the kill reached neither a read nor an idle connection")
				}
			}
		})
	}
}

// user creates a MariaDB user with a password and SELECT on the database
// dsn names, dropped when the test ends; it returns the user's DSN.
func user(t *testing.T, dsn, password, extra string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "etl_" + hex.EncodeToString(b[:])
	cfg, err := gomysql.ParseDSN(dsn)
	require.NoError(t, err)
	admin := mysqltest.Open(t, mysqltest.ServerConfig(t).FormatDSN())
	_, err = admin.Exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' %s", name, password, extra))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", name)) })
	_, err = admin.Exec(fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", cfg.DBName, name))
	require.NoError(t, err)
	u := cfg.Clone()
	u.User, u.Passwd = name, password
	return u.FormatDSN()
}

func TestLoginAndQueryErrorsIntegration(t *testing.T) {
	dsn := schema(t)
	const password = "S3cret-Pa55word"
	good := user(t, dsn, password, "")
	expired := user(t, dsn, password, "PASSWORD EXPIRE")
	wrong := strings.Replace(good, password, "Wr0ng-Pa55word", 1)

	tests := []struct {
		name string
		dsn  string
		body string
		want []string
	}{
		{"wrong password", wrong, `table = "prospect"`, []string{"test_pipeline", "error 1045", "access denied", "not retried"}},
		{"expired password", expired, `table = "prospect"`, []string{"test_pipeline", "expired", "not retried"}},
		{"unknown column", good, `query = "SELECT id, nope FROM prospect"`, []string{"test_pipeline", "Unknown column 'nope'", "query: SELECT * FROM ( SELECT id, nope FROM prospect ) AS `_etl` LIMIT 0"}},
		{"missing key column", good, `query = "SELECT first_name FROM prospect"`, []string{"test_pipeline", `key column "id" is not among the columns the mysql query selects (first_name)`}},
		{"unknown table", good, `table = "nope"`, []string{"test_pipeline", "Table", "doesn't exist", "FROM `nope`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSource(t, fmt.Sprintf("dsn = %q\n%s\nkey = [\"id\"]", tt.dsn, tt.body))
			start := time.Now()
			_, logs, err := read(t, s, nil, time.UTC)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), password)
			assert.NotContains(t, err.Error(), "Wr0ng-Pa55word")
			assert.NotContains(t, logs, password)
			assert.NotContains(t, logs, "retrying", "no retry storm")
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}
}

func TestUnreachableServerRetriesIntegration(t *testing.T) {
	s := mustSource(t, `dsn = "root:S3cret-Pa55word@tcp(127.0.0.1:1)/test"
table = "prospect"
key = ["id"]
connect_timeout = "1s"
retry {
  attempts = 3
  max_wait = "10ms"
}`)
	_, logs, err := read(t, s, nil, time.UTC)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 3 attempts")
	assert.Equal(t, 2, strings.Count(logs, "retrying"))
	assert.NotContains(t, err.Error()+logs, "S3cret-Pa55word")
}

func TestContextCancelIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `INSERT INTO prospect (id) SELECT seq FROM seq_1_to_10`)
	s := mustSource(t, fmt.Sprintf("dsn = %q\ntable = \"prospect\"\nkey = [\"id\"]\npage_size = 2", dsn))
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := s.Read(ctx, engine.ReadOptions{}, func(engine.Record) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, n, 10)
}

func TestCompositeKeyIntegration(t *testing.T) {
	dsn := schema(t)
	mysqltest.Exec(t, dsn, `INSERT INTO appointment_to_service VALUES
		(2, 1, '2024-01-01', '2024-02-01'), (1, 2, '2024-01-01', '2024-02-01'), (1, 1, '2024-01-01', '2024-02-01'),
		(2, 2, '2024-01-01', '2024-02-01'), (1, 3, '2024-01-01', '2024-02-01'), (3, 1, '2024-01-01', '2024-03-01'),
		(3, 2, '2024-01-01', NULL)`)
	tests := []struct {
		name string
		inc  string
		want []string
	}{
		{"full load by key", "", []string{"1,1", "1,2", "1,3", "2,1", "2,2", "3,1", "3,2"}},
		{"by cursor, then key", `incremental_column = "updated_at"
fallback_column = "created_at"`, []string{"3,2", "1,1", "1,2", "1,3", "2,1", "2,2", "3,1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSource(t, fmt.Sprintf("dsn = %q\ntable = \"appointment_to_service\"\nkey = [\"appointment_id\", \"service_id\"]\npage_size = 2\n%s", dsn, tt.inc))
			recs, _, err := read(t, s, nil, time.UTC)
			require.NoError(t, err)
			var got []string
			for _, r := range recs {
				got = append(got, r.Pos.Key)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
