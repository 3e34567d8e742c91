package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/sqlite"
)

// runInline loads an inline pipeline whose records and checks are given,
// and runs it into a fresh SQLite warehouse.
func runInline(t *testing.T, records, checks string, opts engine.RunOptions) (*engine.Result, string, error) {
	return runInlineWith(t, records, checks, "max_rejects = 10", opts)
}

func runInlineWith(t *testing.T, records, checks, settings string, opts engine.RunOptions) (*engine.Result, string, error) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "w.db")
	res, err := runInlineAt(t, db, records, checks, settings, opts)
	return res, db, err
}

// runInlineAt is runInlineWith into the SQLite warehouse db.
func runInlineAt(t *testing.T, db, records, checks, settings string, opts engine.RunOptions) (*engine.Result, error) {
	t.Helper()
	p, reg := loadInline(t, db, records, checks, settings)
	return p.Run(context.Background(), reg, opts)
}

// loadInline loads runInlineAt's pipeline and a registry to run it.
func loadInline(t *testing.T, db, records, checks, settings string) (*engine.Pipeline, *engine.Registry) {
	t.Helper()
	src := fmt.Sprintf(`pipeline "p" {
  system     = "s"
  entity     = "e"
  batch_size = 2
  %s
  source "inline" {
    ordered = true
    records = %s
  }
  incremental {
    cursor = "n"
  }
  map {
    n    = "int(record.n)"
    name = "trim(record.name)"
  }
  %s
  sink "warehouse" {
    url   = "sqlite://%s"
    table = "t"
    key   = ["n"]
  }
}
`, settings, records, checks, db)
	reg := testRegistry()
	sqlite.Register(reg)
	p, diags := engine.NewLoader(reg).LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	return p, reg
}

func query(t *testing.T, db, q string) string {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	defer conn.Close()
	rows, err := conn.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		require.NoError(t, rows.Scan(&s))
		out = append(out, s.String)
	}
	return strings.Join(out, ",")
}

const fiveRecords = `[{n = 1, name = "a"}, {n = 2, name = " b "}, {n = 3, name = ""}, {n = 4, name = "d"}, {n = 5, name = "e"}]`

func TestRunOutcomes(t *testing.T) {
	t.Run("warn loads the record and counts it", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, `validate "named" {
    check   = "name != ''"
    on_fail = "warn"
  }`, engine.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, engine.StatusSuccess, res.Status)
		assert.Equal(t, engine.Tally{Processed: 5, Created: 5, Warned: 1}, res.Tally)
		assert.Equal(t, "a,b,,d,e", query(t, db, "SELECT name FROM t ORDER BY n"))
		assert.Equal(t, "5", query(t, db, "SELECT cursor_value FROM etl_state"))
	})
	t.Run("abort stops the run with what landed before it", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, `validate "named" {
    check   = "name != ''"
    message = "name is empty"
    on_fail = "abort"
  }`, engine.RunOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "validate named: name is empty (line 3")
		assert.Equal(t, engine.StatusFailed, res.Status)
		// Batches of 2: the first landed, with its cursor; the second aborted.
		assert.Equal(t, "1,2", query(t, db, "SELECT n FROM t ORDER BY n"))
		assert.Equal(t, "2", query(t, db, "SELECT cursor_value FROM etl_state"))
		assert.Equal(t, "failed", query(t, db, "SELECT status FROM etl_sync_history"))
		// The history keeps the error and what landed before it.
		assert.Equal(t, engine.Tally{Processed: 2, Created: 2}, res.Tally)
		assert.Equal(t, "2|2|1", query(t, db, "SELECT processed || '|' || created || '|' || (heartbeat_at IS NOT NULL) FROM etl_sync_history"))
		assert.Contains(t, query(t, db, "SELECT error_message FROM etl_sync_history"), "validate named: name is empty")
	})
	t.Run("reject goes on and ends partial", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, `validate "named" {
    check = "name != ''"
  }`, engine.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, engine.StatusPartial, res.Status)
		assert.Equal(t, engine.Tally{Processed: 5, Created: 4, Rejected: 1}, res.Tally)
		assert.Equal(t, "validate named|check named failed|3", query(t, db, "SELECT check_name || '|' || reason || '|' || line FROM etl_rejects"))
	})
	t.Run("limit stops early", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, "", engine.RunOptions{Limit: 3})
		require.NoError(t, err)
		assert.Equal(t, int64(3), res.Tally.Processed)
		assert.Equal(t, "1,2,3", query(t, db, "SELECT n FROM t ORDER BY n"))
	})
	t.Run("since skips older records inclusively", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, "", engine.RunOptions{Since: "3"})
		require.NoError(t, err)
		assert.Equal(t, engine.Tally{Processed: 3, Created: 3, Skipped: 2}, res.Tally)
		assert.Equal(t, "3,4,5", query(t, db, "SELECT n FROM t ORDER BY n"))
	})
	t.Run("dry run writes nothing", func(t *testing.T) {
		res, db, err := runInline(t, fiveRecords, "", engine.RunOptions{DryRun: true})
		require.NoError(t, err)
		assert.Equal(t, int64(5), res.Valid)
		assert.NoFileExists(t, db)
	})
}

func TestRejectBudget(t *testing.T) {
	empty := `validate "named" {
    check = "name != ''"
  }`
	records := `[{n = 1, name = ""}, {n = 2, name = "b"}, {n = 3, name = ""}, {n = 4, name = "d"}, {n = 5, name = ""}]`
	cases := []struct {
		name     string
		settings string
		err      string
		landed   string
	}{
		{"strict by default: the first reject fails the run after its batch", "", "max_rejects exceeded: 1 of 2 records rejected or refused (budget 0)", "2"},
		{"a count below the budget is partial", "max_rejects = 3", "", "2,4"},
		{"a count past the budget fails", "max_rejects = 2", "max_rejects exceeded: 3 of 5 records rejected or refused (budget 2)", "2,4"},
		{"a percentage is enforced at the end", `max_rejects = "50%"`, "max_rejects exceeded: 3 of 5 records rejected or refused (budget 50%)", "2,4"},
		{"a percentage within budget is partial", `max_rejects = "60%"`, "", "2,4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, db, err := runInlineWith(t, records, empty, c.settings, engine.RunOptions{})
			if c.err == "" {
				require.NoError(t, err)
				assert.Equal(t, engine.StatusPartial, res.Status)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				assert.Equal(t, engine.StatusFailed, res.Status)
				assert.Equal(t, "failed", query(t, db, "SELECT status FROM etl_sync_history"))
			}
			assert.Equal(t, c.landed, query(t, db, "SELECT n FROM t ORDER BY n"))
		})
	}
}

func TestInvalidBudgetIsAValidateError(t *testing.T) {
	for _, v := range []string{`-1`, `1.5`, `"abc"`, `"0%"`, `"101%"`, `true`} {
		src := fmt.Sprintf(`pipeline "p" {
  system      = "s"
  entity      = "e"
  max_rejects = %s
  source "inline" { records = [] }
  map { id = "int(record.id)" }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`, v)
		_, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", []byte(src))
		require.True(t, diags.HasErrors(), v)
		assert.Equal(t, "Invalid max_rejects", diags[0].Summary, v)
		assert.Equal(t, 4, diags[0].Subject.Start.Line, v)
	}
}

func TestMaskedFieldsNeverReachTheRejects(t *testing.T) {
	records := `[{n = 1, name = "", email = "ann@example.com", phone = "5551234567"}]`
	_, db, err := runInlineWith(t, records, `validate "named" {
    check = "name != ''"
  }`, `max_rejects = 5
  mask        = ["email", "phone"]`, engine.RunOptions{})
	require.NoError(t, err)
	got := query(t, db, "SELECT record FROM etl_rejects")
	assert.Contains(t, got, `"email":"[masked]"`)
	assert.Contains(t, got, `"phone":"[masked]"`)
	assert.NotContains(t, got, "ann@example.com")
	assert.NotContains(t, got, "5551234567")
}

func TestSourceStateOutlivesTheRunAndStaysSecret(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	reg := testRegistry()
	sqlite.Register(reg)
	run := func(token string) error {
		src := fmt.Sprintf(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    rotate  = %q
    records = []
  }
  map { id = "int(record.id)" }
  sink "warehouse" {
    url   = "sqlite://%s"
    table = "t"
    key   = ["id"]
  }
}
`, token, db)
		p, diags := engine.NewLoader(reg).LoadSource("p.hcl", []byte(src))
		require.False(t, diags.HasErrors(), "%v", diags)
		_, err := p.Run(context.Background(), reg, engine.RunOptions{})
		return err
	}
	err := run("rt-first-1111")
	require.Error(t, err)
	assert.Equal(t, `source inline: refresh with "" failed; got "[redacted]"`, err.Error())
	err = run("rt-second-2222")
	require.Error(t, err)
	assert.Equal(t, `source inline: refresh with "[redacted]" failed; got "[redacted]"`, err.Error(), "the first run's token came back, as a secret")
	assert.Equal(t, "rt-second-2222", query(t, db, "SELECT value FROM etl_source_state WHERE pipeline = 'p'"))
	assert.NotContains(t, query(t, db, "SELECT error_message FROM etl_sync_history"), "rt-")
}

func TestSourceCountersReachTheResultAndTheHistory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	reg := testRegistry()
	sqlite.Register(reg)
	src := fmt.Sprintf(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    counts  = { xml_chars_removed = 2, zero_dates_as_null = 5 }
    records = [{ id = "1" }]
  }
  map { id = "int(record.id)" }
  sink "warehouse" {
    url   = "sqlite://%s"
    table = "t"
    key   = ["id"]
  }
}
`, db)
	p, diags := engine.NewLoader(reg).LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	res, err := p.Run(context.Background(), reg, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"xml_chars_removed": 4, "zero_dates_as_null": 10}, res.Counters, "each Count adds up")
	assert.Equal(t, `{"xml_chars_removed":4,"zero_dates_as_null":10}`, query(t, db, "SELECT json_extract(performance_metrics, '$.counters') FROM etl_sync_history"))
}
