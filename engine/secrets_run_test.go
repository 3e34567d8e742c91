package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/sqlite"
)

// runSecretInline runs an inline pipeline whose env("SECRET") is secret,
// with settings added to its source block, into a fresh SQLite file; it
// returns the run's error, its log (text and JSON handlers) and the file.
func runSecretInline(t *testing.T, secret, sourceSettings, records string) (err error, logs, db string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "w.db")
	src := fmt.Sprintf(`pipeline "p" {
  system      = "s"
  entity      = "e"
  max_rejects = 10
  source "inline" {
    %s
    records = %s
  }
  map {
    n    = "int(record.n)"
    name = "trim(record.name)"
  }
  validate "named" {
    check = "name != ''"
  }
  sink "warehouse" {
    url   = "sqlite://%s"
    table = "t"
    key   = ["n"]
  }
}
`, sourceSettings, records, db)
	reg := testRegistry()
	sqlite.Register(reg)
	l := engine.NewLoader(reg)
	l.LookupEnv = func(name string) (string, bool) { return secret, name == "SECRET" }
	p, diags := l.LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	var buf bytes.Buffer
	text := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	js := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	_, err = p.Run(context.Background(), reg, engine.RunOptions{Logger: slog.New(slog.NewMultiHandler(text, js))})
	return err, buf.String(), db
}

// leakForms is how the secret would show if a redaction were skipped:
// as is, percent-encoded, and JSON-escaped as a raw record stores it.
func leakForms(s string) []string {
	j, _ := json.Marshal(s)
	return []string{s, url.QueryEscape(s), url.PathEscape(s), string(j[1 : len(j)-1])}
}

// TestRejectedRecordsAreStoredRedacted: a record carrying a secret is
// rejected; its raw form in etl_rejects holds the secret redacted. (It fails
// if transformer.rejectRec stores rawRecord unredacted.)
func TestRejectedRecordsAreStoredRedacted(t *testing.T) {
	const secret = "tok/+& é<secret>"
	err, _, db := runSecretInline(t, secret, "", `[{n = 1, name = "ok"}, {n = 2, name = "", note = "carries ${env("SECRET")} along"}]`)
	require.NoError(t, err)
	record := query(t, db, "SELECT record FROM etl_rejects")
	require.NotEmpty(t, record, "the record was rejected")
	assert.Contains(t, record, "carries [redacted] along")
	for _, f := range leakForms(secret) {
		assert.NotContains(t, record, f)
	}
}

// TestRunLogRecordsAreRedacted: a source logs a URL holding a secret, in
// the message, an attribute and an error; neither the text nor the JSON
// log has it. (It fails if Pipeline.Run passes the caller's logger to the
// source without redactLogger.)
func TestRunLogRecordsAreRedacted(t *testing.T) {
	const secret = "k3y/+& é"
	err, logs, _ := runSecretInline(t, secret, `log = "https://api.example.com/v1/${env("SECRET")}/items"`, `[{n = 1, name = "ok"}]`)
	require.NoError(t, err)
	require.Contains(t, logs, "failed; retrying", "the source logged")
	assert.Contains(t, logs, "https://api.example.com/v1/[redacted]/items")
	for _, f := range leakForms(secret) {
		assert.NotContains(t, logs, f)
	}
}
