package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/secrettest"
)

// secretsPipeline reads a REST API whose base URL, a key in the path, a key
// in the query and a bearer token all come from env(), into the warehouse
// env("E2E_WAREHOUSE_URL").
const secretsPipeline = `pipeline "secrets_e2e" {
  system = "e2e"
  entity = "contacts"

  source "rest" {
    url     = "${env("E2E_API_URL")}/${env("E2E_PATH_KEY")}/crm/v3/objects/contacts"
    query   = { api_key = env("E2E_QUERY_KEY"), limit = 10 }
    records = "results"
    auth "bearer" {
      token = env("E2E_TOKEN")
    }
    retry {
      attempts = 1
    }
  }

  map {
    id = "int(record.id)"
  }

  sink "warehouse" {
    url   = env("E2E_WAREHOUSE_URL")
    table = "secrets_e2e"
    key   = ["id"]
  }
}
`

// hostile401 answers every request 401, echoing what it got (URL, query,
// Authorization header) in its JSON body, as careless APIs do.
func hostile401(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message": "bad credentials %s for %s", "query": %q}`, r.Header.Get("Authorization"), r.URL, r.URL.Query().Get("api_key"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// secretValue is a value with every character that encoders treat
// differently, unique to the test.
func secretValue(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "/+& é<" + hex.EncodeToString(b)
}

// TestSecretsInEveryEncodingStayOutIntegration runs the real binary
// against an API that fails with 401, with secrets holding / + & space é in
// the URL's path and query and in the token, into PostgreSQL (its URL
// carrying a password) and SQLite. No secret may appear in any encoding in
// stdout, stderr (text and JSON logs at debug level), the final error, the
// history rows, `etl history` (table and JSON), `etl plan`, a --dry-run,
// nor in a validate diagnostic; and the API's host must appear in the
// errors, the plan and the history's endpoint: an operator can tell which
// server refused.
func TestSecretsInEveryEncodingStayOutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildETL(t)
	srv := hostile401(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	secrets := map[string]string{
		"token":              secretValue("tok"),
		"path key":           secretValue("pk"),
		"query key":          secretValue("qk"),
		"warehouse password": secretValue("pw"),
	}
	pgBase := pgtest.URL(t)
	withPassword := func(u string) string {
		p, err := url.Parse(u)
		require.NoError(t, err)
		p.User = url.UserPassword("postgres", secrets["warehouse password"])
		return p.String()
	}
	dir := t.TempDir()
	pl := filepath.Join(dir, "secrets.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(secretsPipeline), 0o644))

	type out struct{ name, text string }
	var outputs []out
	etl := func(name string, wantCode int, wh string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "E2E_API_URL="+srv.URL, "E2E_TOKEN="+secrets["token"], "E2E_PATH_KEY="+secrets["path key"],
			"E2E_QUERY_KEY="+secrets["query key"], "E2E_WAREHOUSE_URL="+wh)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, wantCode, code, "%s:\n%s\n%s", name, stdout.String(), stderr.String())
		outputs = append(outputs, out{name + " stdout", stdout.String()}, out{name + " stderr", stderr.String()})
		return stdout.String() + stderr.String()
	}

	warehouses := []struct {
		name string
		url  string
		rows func() []string // every history row as text
	}{
		{"postgres", withPassword(pgBase), func() []string {
			return pgRowsAsText(t, pgBase, "etl_sync_history", "etl_rejects")
		}},
		{"sqlite", "sqlite://" + filepath.Join(dir, "etl.db"), func() []string {
			return sqliteRowsAsText(t, filepath.Join(dir, "etl.db"), "etl_sync_history", "etl_rejects")
		}},
	}
	for _, w := range warehouses {
		for _, format := range []string{"text", "json"} {
			got := etl(w.name+" run "+format, exitFailed, w.url, "run", pl, "--log-level", "debug", "--log-format", format)
			assert.Contains(t, got, "GET "+srv.URL+"/[redacted]/crm/v3/objects/contacts?api_key=[redacted]&limit=10: 401 Unauthorized",
				"%s: the error names the host and the path, the secrets redacted", w.name)
		}
		got := etl(w.name+" history json", exitOK, w.url, "history", "--format", "json", "--warehouse", w.url)
		assert.Contains(t, got, `"endpoint": "rest GET `+srv.URL+`/[redacted]/crm/v3/objects/contacts"`)
		assert.Contains(t, got, host+`/[redacted]/crm/v3/objects/contacts?api_key=[redacted]\u0026limit=10: 401 Unauthorized`, "the history's error names the host")
		etl(w.name+" history", exitOK, w.url, "history", "--warehouse", w.url)
		rows := w.rows()
		require.NotEmpty(t, rows)
		for _, r := range rows {
			outputs = append(outputs, out{w.name + " history row", r})
		}
		assert.Contains(t, strings.Join(rows, "\n"), host, "%s: the history row names the host", w.name)

		got = etl(w.name+" plan", exitOK, w.url, "plan", pl)
		assert.Contains(t, got, "source:     rest GET "+srv.URL+"/[redacted]/crm/v3/objects/contacts")
		assert.Contains(t, got, "first read: GET "+srv.URL+"/[redacted]/crm/v3/objects/contacts?api_key=[redacted]&limit=10")
		got = etl(w.name+" dry run", exitFailed, w.url, "run", pl, "--dry-run", "--log-level", "debug")
		assert.Contains(t, got, srv.URL+"/[redacted]/crm/v3/objects/contacts")
	}

	// A warehouse that cannot be opened: its URL's password, from env() or
	// from --warehouse (never seen as a secret by the pipeline), is not in
	// the plan's target line nor in the run's error.
	unreachable := withPassword("postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	got := etl("plan unreachable warehouse", exitOK, unreachable, "plan", pl)
	assert.Contains(t, got, "target:     postgres://postgres:[redacted]@127.0.0.1:1/test")
	got = etl("plan --warehouse unreachable", exitOK, "", "plan", pl, "--warehouse", unreachable)
	assert.Contains(t, got, "target:     postgres://postgres:[redacted]@127.0.0.1:1/test")
	etl("run unreachable warehouse", exitFailed, unreachable, "run", pl)
	etl("history unreachable warehouse", exitFailed, "", "history", "--warehouse", unreachable)

	// An invalid URL made of env() values: validate and run quote it
	// redacted.
	broken := func(name string, wantCode int, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "E2E_API_URL=ftp:"+secrets["query key"], "E2E_TOKEN="+secrets["token"], "E2E_PATH_KEY="+secrets["path key"],
			"E2E_QUERY_KEY="+secrets["query key"], "E2E_WAREHOUSE_URL=sqlite://etl.db")
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			assert.Equal(t, wantCode, ee.ExitCode(), "%s: %s", name, b)
		}
		outputs = append(outputs, out{name, string(b)})
		return string(b)
	}
	for _, cmd := range []string{"validate", "run"} {
		got := broken(cmd+" invalid URL", 1, cmd, pl)
		assert.Contains(t, got, "Invalid URL", cmd)
		assert.Contains(t, got, `url "[redacted]/[redacted]/crm/v3/objects/contacts" is not an absolute`, cmd)
	}

	for _, o := range outputs {
		if name, form := secrettest.Find(o.text, secrets); name != "" {
			t.Errorf("the %s is in %s as %q:\n%s", name, o.name, form, secrettest.Excerpt(o.text, form))
		}
	}
}

// pgRowsAsText returns every row of the tables, each as PostgreSQL's text
// form of the whole row.
func pgRowsAsText(t *testing.T, u string, tables ...string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var out []string
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+table+` t`)
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out = append(out, texts...)
	}
	return out
}

// sqliteRowsAsText returns every row of the tables, each as its columns'
// texts joined.
func sqliteRowsAsText(t *testing.T, path string, tables ...string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var out []string
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var b strings.Builder
			for _, v := range vals {
				b.WriteString(v.String + "|")
			}
			out = append(out, b.String())
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}
