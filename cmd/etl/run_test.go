package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
)

// contactsPipeline is a CSV → warehouse pipeline over csvPath, incremental
// on updated_at, with one reject check.
func contactsPipeline(csvPath, extra string) string {
	return fmt.Sprintf(`pipeline "contacts" {
  system      = "test"
  entity      = "contacts"
  batch_size  = 100
  max_rejects = 10

  source "csv" {
    path = %q
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    email      = "email(record.email)"
    name       = "trim(record.name)"
    amount     = "decimal(record.amount)"
    updated_at = "timestamp(record.updated_at)"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "contact has no email"
  }

  sink "warehouse" {
    table = "crm.contacts"
    key   = ["id"]
    %s
  }
}
`, csvPath, extra)
}

// writeContacts writes n contacts; bad(i) says whether row i is broken, and how.
func writeContacts(t *testing.T, path string, n int, row func(i int) string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("id,email,name,amount,updated_at\n")
	for i := 1; i <= n; i++ {
		b.WriteString(row(i))
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

func goodContact(i int) string {
	return fmt.Sprintf("%d,user%d@example.com,User %d,%d.%02d,2024-01-01T00:00:%02dZ", i, i, i, i, i%100, i%60)
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func pgScalar[T any](t *testing.T, url, q string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v T
	require.NoError(t, conn.QueryRow(ctx, q, args...).Scan(&v))
	return v
}

// TestRunPostgresIntegration runs a CSV pipeline into the real PostgreSQL:
// bad rows land in etl_rejects with their lines, a rerun of the same file
// counts every row unchanged, a changed row counts as updated, and the sync
// history's counts add up.
func TestRunPostgresIntegration(t *testing.T) {
	url := pgtest.URL(t)
	// crm.contacts is schema-qualified: give this test its own schema name.
	schema := pgtest.Schema(t, url)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	bad := map[int]string{
		7:   "7,not-an-email,Bad Email,1.00,2024-01-01T00:00:07Z",
		50:  "50,,No Email,1.00,2024-01-01T00:00:50Z",
		120: "120,u120@example.com,Ragged",
		233: "233,u233@example.com,Bad Amount,12abc,2024-01-01T00:00:13Z",
	}
	row := func(i int) string {
		if b, ok := bad[i]; ok {
			return b
		}
		return goodContact(i)
	}
	writeContacts(t, csvPath, 250, row)
	pl := filepath.Join(dir, "contacts.hcl")
	src := strings.Replace(contactsPipeline(csvPath, fmt.Sprintf("url = %q", url)), `"crm.contacts"`, fmt.Sprintf("%q", schema+"_crm.contacts"), 1)
	require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+"_crm CASCADE")
			conn.Close(context.Background())
		}
	})

	code, out, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitPartial, code, "stdout: %s\nstderr: %s", out, errOut)
	assert.Contains(t, out, "processed 250 = created 246 + updated 0 + unchanged 0 + rejected 4 + failed 0; rejects: parse 1, conversion 2, validation 1")

	type rej struct {
		Line  int32
		Check string
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT line, check_name FROM etl_rejects ORDER BY line`)
	require.NoError(t, err)
	rejects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rej])
	require.NoError(t, err)
	// The header is line 1, so row i is on line i+1.
	assert.Equal(t, []rej{{8, "map email"}, {51, "validate has_email"}, {121, "source"}, {234, "map amount"}}, rejects)

	var n int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`_crm.contacts`).Scan(&n))
	assert.Equal(t, int64(246), n)
	var amount string
	require.NoError(t, conn.QueryRow(ctx, `SELECT amount::text FROM `+schema+`_crm.contacts WHERE id = 42`).Scan(&amount))
	assert.Equal(t, "42.42", amount)

	// The same file again, in full: every good row is unchanged, and the bad
	// rows are known: already rejected, not rejected again.
	code, out, _ = runCLI(t, "run", pl, "--full-refresh")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "success: contacts")
	assert.Contains(t, out, "processed 250 = created 0 + updated 0 + unchanged 246 + rejected 0 + failed 0 + already rejected 4")
	assert.Equal(t, int64(4), pgScalar[int64](t, url, `SELECT count(*) FROM etl_rejects`), "each bad row stored once")

	// One row changed, one added, and the file run incrementally.
	writeContacts(t, csvPath, 251, func(i int) string {
		switch i {
		case 10:
			return "10,user10@example.com,Renamed Ten,10.10,2024-02-01T00:00:00Z"
		case 251:
			return "251,user251@example.com,New,1.00,2024-02-01T00:00:00Z"
		}
		return row(i)
	})
	code, out, _ = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, out)
	// Rows at the saved cursor (inclusive) come again, unchanged; rows
	// before it are skipped; bad rows without a cursor value are met again,
	// already rejected.
	assert.Contains(t, out, "processed 9 = created 1 + updated 1 + unchanged 4 + rejected 0 + failed 0 + already rejected 3; skipped before cursor 242")
	require.NoError(t, conn.QueryRow(ctx, `SELECT name FROM `+schema+`_crm.contacts WHERE id = 10`).Scan(&amount))
	assert.Equal(t, "Renamed Ten", amount)

	// The history's counts add up on every run.
	rows, err = conn.Query(ctx, `SELECT status, processed, created + updated + unchanged + rejected + failed + already_rejected FROM etl_sync_history ORDER BY id`)
	require.NoError(t, err)
	type hist struct {
		Status    string
		Processed int64
		Sum       int64
	}
	hs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[hist])
	require.NoError(t, err)
	require.Len(t, hs, 3)
	for i, h := range hs {
		assert.Equal(t, map[bool]string{true: "partial", false: "success"}[i == 0], h.Status)
		assert.Equal(t, h.Processed, h.Sum)
	}
	cursor := pgScalar[string](t, url, `SELECT cursor_value FROM etl_state WHERE pipeline = 'contacts'`)
	assert.Equal(t, "2024-02-01T00:00:00Z", cursor)
}

func TestRunRefusesAnInvalidFile(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "p.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(strings.Replace(contactsPipeline("x.csv", ""), `"int(record.id)"`, `"integer(record.id)"`, 1)), 0o644))
	code, _, errOut := runCLI(t, "run", pl)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "p.hcl:16:19: error: Unknown name")
	assert.Contains(t, errOut, "nothing was run")
	assert.NotContains(t, errOut, "Unknown key column", "a failed column is reported once")
}

func TestValidateReportsEachProblemWithItsPosition(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "../../engine/testdata/errors")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "invalid")
	for _, want := range []string{
		"typo_attribute.hcl:11:5: error: Unsupported argument",
		`Did you mean "table"?`,
		"unknown_function.hcl:9:14: error: Unknown name",
		"type_error.hcl:12:19: error: Type error in expression",
	} {
		assert.Contains(t, errOut, want)
	}

	code, out, _ = runCLI(t, "validate", "--format", "json", "../../engine/testdata/errors/unknown_function.hcl")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, `"summary": "Unknown name"`)
	assert.Contains(t, out, `"line": 9`)

	code, _, _ = runCLI(t, "validate", "../../pipelines")
	assert.Equal(t, exitOK, code)

	code, _, _ = runCLI(t, "validate", "--format", "yaml")
	assert.Equal(t, exitUsage, code)
}

func TestValidateGitHubAnnotations(t *testing.T) {
	code, out, _ := runCLI(t, "validate", "--format", "github", "../../engine/testdata/errors/typo_attribute.hcl")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "::error file=../../engine/testdata/errors/typo_attribute.hcl,line=11,col=5,endLine=11,endColumn=10,title=Unsupported argument::An argument named \"tabel\" is not expected here. Did you mean \"table\"?\n")
}

func TestFmtCheckListsUnformattedFilesAndFmtFixesThem(t *testing.T) {
	dir := t.TempDir()
	messy := filepath.Join(dir, "messy.hcl")
	require.NoError(t, os.WriteFile(messy, []byte("pipeline \"p\" {\nsystem=\"s\"\n  entity    = \"e\"\n}\n"), 0o644))
	tidy := filepath.Join(dir, "tidy.hcl")
	require.NoError(t, os.WriteFile(tidy, []byte("pipeline \"p\" {\n  system = \"s\"\n}\n"), 0o644))

	code, out, _ := runCLI(t, "fmt", "-check", dir)
	assert.Equal(t, exitFailed, code)
	assert.Equal(t, messy+"\n", out)

	code, _, _ = runCLI(t, "fmt", dir)
	assert.Equal(t, exitOK, code)
	b, err := os.ReadFile(messy)
	require.NoError(t, err)
	assert.Equal(t, "pipeline \"p\" {\n  system = \"s\"\n  entity = \"e\"\n}\n", string(b))

	code, out, _ = runCLI(t, "fmt", "-check", dir)
	assert.Equal(t, exitOK, code)
	assert.Empty(t, out)

	code, out, _ = runCLI(t, "fmt", "-check", "../../pipelines")
	assert.Equal(t, exitOK, code, "shipped pipelines are formatted: %s", out)
}

func TestPlanShowsColumnsCursorAndDDLWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, 3, goodContact)
	db := filepath.Join(dir, "w.db")
	pl := filepath.Join(dir, "contacts.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(contactsPipeline(csvPath, fmt.Sprintf("url = %q", "sqlite://"+db))), 0o644))

	code, out, errOut := runCLI(t, "plan", pl)
	require.Equal(t, exitOK, code, errOut)
	for _, want := range []string{
		"source:     csv " + csvPath,
		"cursor:     none saved (none): reads everything",
		"target:     sqlite " + db + " (not created yet) table crm__contacts, upsert on id",
		"amount      decimal    decimal(record.amount)",
		"has_email  reject   email != nil  contact has no email",
		`CREATE TABLE IF NOT EXISTS "crm__contacts"`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NoFileExists(t, db, "planning creates no warehouse")

	code, _, _ = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code)
	code, out, _ = runCLI(t, "plan", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "cursor:     2024-01-01T00:00:03Z (saved): reads records from it on, inclusive")
	assert.Contains(t, out, "DDL: none; the table matches")
	code, out, _ = runCLI(t, "plan", pl, "--since", "2024-01-01")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "cursor:     2024-01-01T00:00:00Z (--since)")
}

func TestSummaryLine(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	res := &engine.Result{
		RunID: 7, Pipeline: "contacts", Status: engine.StatusPartial,
		Tally:   engine.Tally{Processed: 10, Created: 5, Updated: 2, Unchanged: 1, Rejected: 1, Failed: 1, Skipped: 3},
		Started: start, Finished: start.Add(2 * time.Second),
		Target:   "postgres 127.0.0.1:5432/w table crm.contacts",
		Counters: map[string]int64{"zero_dates_as_null": 4, "xml_chars_removed": 2},
	}
	assert.Equal(t, "partial: contacts (run 7): processed 10 = created 5 + updated 2 + unchanged 1 + rejected 1 + failed 1; skipped before cursor 3, xml chars removed 2, zero dates as null 4 in 2s, 5 records/s → postgres 127.0.0.1:5432/w table crm.contacts", summary(res, false))
}

// TestPlanWorksOnEveryShippedPipeline runs etl plan on each pipeline in
// pipelines/ against an empty SQLite warehouse: each must show its columns
// and the table it would create, with no secrets set.
func TestPlanWorksOnEveryShippedPipeline(t *testing.T) {
	files, err := pipelineFiles([]string{"../../pipelines"})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	db := "sqlite://" + filepath.Join(t.TempDir(), "w.db")
	for _, f := range files {
		if engine.IsDefinitions(f) {
			continue // connections/*.hcl: used by the pipelines, not run
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, out, errOut := runCLI(t, "plan", f, "--warehouse", db)
			require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
			assert.Contains(t, out, "COLUMN")
			assert.Contains(t, out, "CREATE TABLE IF NOT EXISTS")
		})
	}
}

func TestHistoryListsRunsAndCreatesNoWarehouse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	code, out, _ := runCLI(t, "history", "--warehouse", "sqlite://"+db)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "no runs recorded")
	assert.NoFileExists(t, db)

	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, 3, goodContact)
	pl := filepath.Join(dir, "contacts.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(contactsPipeline(csvPath, fmt.Sprintf("url = %q", "sqlite://"+db))), 0o644))
	code, _, _ = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code)
	code, out, _ = runCLI(t, "history", "--warehouse", "sqlite://"+db)
	assert.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^1\s+contacts\s+.*\s+success\s+run\s+3\s+3\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+-\s*$`, out)
	code, out, _ = runCLI(t, "history", "--warehouse", "sqlite://"+db, "--format", "json")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, `"status": "success"`)
}
