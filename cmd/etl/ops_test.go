package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonLines parses every line of s as a JSON object.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not a JSON line: %q", line)
		out = append(out, m)
	}
	return out
}

func TestLogFormatJSONEmitsTheSummaryAndTheErrorAsEvents(t *testing.T) {
	pl, _ := contactsSetup(t, 3)
	code, out, errOut := runCLI(t, "run", pl, "--log-format", "json")
	require.Equal(t, exitOK, code, errOut)
	events := jsonLines(t, out)
	require.Len(t, events, 1)
	assert.Equal(t, "run finished", events[0]["msg"])
	assert.Equal(t, "success", events[0]["status"])
	assert.EqualValues(t, 3, events[0]["processed"])
	assert.EqualValues(t, 3, events[0]["created"])
	assert.EqualValues(t, 1, events[0]["run_id"])
	jsonLines(t, errOut)

	// A failed run: the source file is gone.
	src, err := os.ReadFile(pl)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pl, []byte(strings.Replace(string(src), "contacts.csv", "gone.csv", 1)), 0o644))
	code, out, errOut = runCLI(t, "run", pl, "--log-format", "json")
	require.Equal(t, exitFailed, code)
	events = jsonLines(t, out)
	require.Len(t, events, 1)
	assert.Equal(t, "failed", events[0]["status"])
	assert.Contains(t, events[0]["error"], "gone.csv")
	var failed map[string]any
	for _, e := range jsonLines(t, errOut) {
		if e["msg"] == "run failed" {
			failed = e
		}
	}
	require.NotNil(t, failed, "stderr: %s", errOut)
	assert.Equal(t, "ERROR", failed["level"])
	assert.Contains(t, failed["error"], "gone.csv")
}

func TestVersionReportsModuleVersionAndRevision(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/etl-dev/etl", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-07T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "etl v1.2.3 revision abc123 (modified) 2026-12-07T00:00:00Z go1.26.8", version(info, true))
	info.Settings = nil
	assert.Contains(t, version(info, true), "no VCS revision")
	assert.Equal(t, "etl (no build information)", version(nil, false))

	code, out, _ := runCLI(t, "--version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "etl "), out)
}

// TestUnsetEnvIsAWarningAtTheCall: validate passes with an unset env()
// whose empty value a source would refuse ("Empty path"), warning at the
// env() call; run refuses it there.
func TestUnsetEnvIsAWarningAtTheCall(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "orders.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(`pipeline "orders" {
  system = "test"
  entity = "orders"
  source "csv" {
    path = env("ETL_TEST_ORDERS_CSV_UNSET")
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "orders"
    key   = ["id"]
  }
}
`), 0o644))
	code, out, errOut := runCLI(t, "validate", pl)
	assert.Equal(t, exitOK, code, "%s%s", out, errOut)
	all := out + errOut
	assert.Contains(t, all, pl+":5:12: warning: Value not available")
	assert.Contains(t, all, "ETL_TEST_ORDERS_CSV_UNSET is not set")
	assert.NotContains(t, all, "Empty path")
	assert.NotContains(t, all, ":1:1:")

	code, out, _ = runCLI(t, "plan", pl, "--warehouse", "sqlite://"+filepath.Join(dir, "w.db"))
	assert.Equal(t, exitOK, code, "plan shows what it can: %s", out)

	code, _, errOut = runCLI(t, "run", pl, "--warehouse", "sqlite://"+filepath.Join(dir, "w.db"))
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, pl+":5:12: error:")
	assert.Contains(t, errOut, "ETL_TEST_ORDERS_CSV_UNSET is not set")
	assert.NoFileExists(t, filepath.Join(dir, "w.db"))
}

// TestARunThatFailsBeforeItsFirstBatchLeavesNoTable: the source is gone,
// so nothing lands; the table the run created is dropped, the history
// keeps the failed run.
func TestARunThatFailsBeforeItsFirstBatchLeavesNoTable(t *testing.T) {
	pl, wh := contactsSetup(t, 3)
	src, err := os.ReadFile(pl)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pl, []byte(strings.Replace(string(src), "contacts.csv", "gone.csv", 1)), 0o644))
	code, _, _ := runCLI(t, "run", pl)
	require.Equal(t, exitFailed, code)
	code, out, _ := runCLI(t, "plan", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `CREATE TABLE IF NOT EXISTS "crm__contacts"`, "the failed run left no table")
	code, out, _ = runCLI(t, "history", "--warehouse", wh)
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^1\s+contacts\s+.*failed`, out)
}

// TestSchemaDriftIsPlannedWidenedOrRefused: a column whose expression's
// type changed is shown by plan; a widening (decimal → text) is applied by
// the run with a note, a narrowing (decimal → float) refused with the
// statement to run; a column added says its old rows hold NULL.
func TestSchemaDriftIsPlannedWidenedOrRefused(t *testing.T) {
	pl, _ := contactsSetup(t, 3)
	code, _, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, errOut)
	src, err := os.ReadFile(pl)
	require.NoError(t, err)
	rewrite := func(old, new string) {
		t.Helper()
		s := strings.Replace(string(src), old, new, 1)
		require.NotEqual(t, string(src), s)
		require.NoError(t, os.WriteFile(pl, []byte(s), 0o644))
	}

	rewrite(`amount     = "decimal(record.amount)"`, `amount     = "float(record.amount)"`)
	code, out, _ := runCLI(t, "plan", pl)
	require.Equal(t, exitOK, code)
	assert.NotContains(t, out, "DDL: none")
	assert.Contains(t, out, "-- refused, the run fails: column amount is TEXT in the table, the pipeline declares float (REAL)")
	code, _, errOut = runCLI(t, "run", pl, "--full-refresh")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "column amount is TEXT in the table, the pipeline declares float")
	assert.Contains(t, errOut, "to change it run: ALTER TABLE")

	rewrite(`amount     = "decimal(record.amount)"`, `amount     = "decimal(record.amount)"
    score      = "int(record.id) * 10"`)
	code, out, errOut = runCLI(t, "run", pl, "--full-refresh")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "note: added column score to crm__contacts: the rows already there hold NULL in it until they are read again (run with --full-refresh to fill them all)")
}
