package faults

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/secrettest"
)

// TestFaultsSecretsIntegration runs pipelines holding a bearer token, an
// HMAC key, a warehouse password and MySQL passwords (all from env()),
// makes them fail every way the campaign knows — a hostile API echoing the
// credentials in its 401 and 503 bodies, dropped and hung responses, a
// redirect to another host, a record carrying the secrets into the
// rejects, the warehouse cut mid-run and unreachable, a refused MySQL
// login, a missing table — with text and JSON logs at debug level, and
// then looks for each secret (as is, URL-escaped, base64) in every stdout
// and stderr, in `etl history` and `etl plan`, in every column of
// etl_sync_history, etl_rejects and etl_state, and in the headers the other
// host of the redirect received.
func TestFaultsSecretsIntegration(t *testing.T) {
	skipShort(t)
	token := "pat-na1-" + randomHex(12)
	hmacKey := "hmac-" + randomHex(16)
	pgPassword := "Pg-" + randomHex(10)
	myPassword := "My-" + randomHex(10)
	myWrong := "MyWrong-" + randomHex(10)
	secrets := map[string]string{"token": token, "hmac key": hmacKey, "warehouse password": pgPassword,
		"mysql password": myPassword, "wrong mysql password": myWrong}

	// The warehouse URL carries a password (the test server trusts
	// loopback, so it is never checked, only carried).
	base := pgtest.URL(t)
	withPassword := func(u string) string {
		p, err := url.Parse(u)
		require.NoError(t, err)
		p.User = url.UserPassword("postgres", pgPassword)
		return p.String()
	}
	whURL := withPassword(base)
	viaURL, pr := pgViaProxy(t, base)
	viaURL = withPassword(viaURL)

	a := newAPI(t, token)
	ds := newDataset(pick(1500, 3000), time.Millisecond, 30)
	a.publish(ds)
	a.tamper = func(id int64, rec map[string]any) {
		props := rec["properties"].(map[string]any)
		switch id {
		case 7: // rejected, the token in its raw form and the reason
			props["score"] = "x" + token
		case 8:
			props["score"] = hmacKey
		}
	}
	// The other host of the redirect: it records every header it gets.
	var otherMu sync.Mutex
	var otherHeaders []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherMu.Lock()
		for k, v := range r.Header {
			otherHeaders = append(otherHeaders, k+": "+strings.Join(v, ", "))
		}
		otherMu.Unlock()
		writeJSON(w, 200, map[string]any{"results": []any{}})
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	restEnv := func(wh string) []string {
		return []string{"FAULTS_API_URL=" + a.URL(), "FAULTS_TOKEN=" + token, "FAULTS_HMAC=" + hmacKey, "FAULTS_WAREHOUSE_URL=" + wh}
	}
	restFile := pipelineFile(t, "secrets_rest.hcl")
	echo := func(code int) func(n int64, w http.ResponseWriter, r *http.Request) bool {
		return func(n int64, w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"message": "rejected credentials %s and key %s for %s"}`, r.Header.Get("Authorization"), r.Header.Get("X-Hmac-Key"), r.URL)
			return true
		}
	}
	var outputs []string
	runs := 0
	do := func(name string, wantCode int, e etl, logArgs ...string) result {
		t.Helper()
		e.args = append(e.args, logArgs...)
		res := e.run(t)
		runs++
		if wantCode >= 0 {
			assert.Equal(t, wantCode, res.code, "%s: %s", name, res)
		}
		outputs = append(outputs, name+" stdout:\n"+res.stdout, name+" stderr:\n"+res.stderr)
		return res
	}
	jsonDebug := []string{"--log-format", "json", "--log-level", "debug"}
	textDebug := []string{"--log-level", "debug"}
	rest := func(wh string) etl { return etl{args: []string{"run", restFile}, env: restEnv(wh)} }

	// REST: a partial run whose rejects carry the secrets.
	do("rest partial", 3, rest(whURL), jsonDebug...)
	// A 401 and a 503 whose bodies echo the credentials.
	a.setFault(echo(401))
	do("rest 401 echo", 1, rest(whURL), jsonDebug...)
	a.setFault(echo(503))
	do("rest 503 echo", 1, rest(whURL), textDebug...)
	// Bodies cut short, and a server that hangs past the timeout.
	a.setFault(func(n int64, w http.ResponseWriter, r *http.Request) bool { dropMidBody(w); return true })
	do("rest dropped", 1, rest(whURL), jsonDebug...)
	a.setFault(func(n int64, w http.ResponseWriter, r *http.Request) bool { hang(w, r, 5*time.Second); return true })
	do("rest hang", 1, rest(whURL), textDebug...)
	// A redirect to another host: the credentials stay behind.
	a.setFault(func(n int64, w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, otherURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		return true
	})
	// The other host answers no records: a success that warns (exit 4) of
	// a full read that came back empty over a table with rows.
	do("rest redirect", 4, rest(whURL), jsonDebug...)
	otherMu.Lock()
	gotOther := len(otherHeaders) > 0
	otherMu.Unlock()
	assert.True(t, gotOther, "the redirect was not followed")
	a.setFault(nil)

	// The warehouse: cut mid-run, then unreachable, then a database that
	// does not exist.
	a.pageDelay = 20 * time.Millisecond
	cut := rest(viaURL)
	cut.args = append(cut.args, jsonDebug...)
	cut.args = append(cut.args, "--warehouse-retry", "1s") // its retries logged, then the failure
	served := a.requests.Load()
	stop := cut.start(t)
	tg := openTarget(t, base, "faults_secrets", "faults_secrets_rest")
	// Mid-load: the run is recorded and has asked for its third page, so
	// the first page's batch has gone to the sink.
	waitFor(t, 30*time.Second, "the run to be mid-load", func() bool {
		return a.requests.Load() >= served+3 && tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'running'") > 0
	})
	pr.Cut()
	res := stop(0)
	assert.Equal(t, 1, res.code, "warehouse cut: %s", res)
	assert.Contains(t, res.stderr, "sink faults_secrets", "the cut hit a write: %s", res)
	runs++
	outputs = append(outputs, "warehouse cut stdout:\n"+res.stdout, "warehouse cut stderr:\n"+res.stderr)
	a.pageDelay = 0
	do("warehouse unreachable", 1, rest(viaURL), textDebug...)
	pr.Restore()
	noDB := strings.Replace(whURL, "/test?", "/no_such_db_"+randomHex(3)+"?", 1)
	require.NotEqual(t, whURL, noDB)
	do("warehouse missing database", 1, rest(noDB), jsonDebug...)

	// MySQL: a user with a password; its login refused with a wrong one;
	// a missing table; the read's connection killed mid-read.
	dsn := mysqltest.DSN(t)
	f := mysqlFeed(t, dsn)
	f.publish(t, ds, ds.sorted())
	user := mysqlUser(t, dsn, myPassword)
	mysqlRun := func(dsn string) etl {
		return etl{args: []string{"run", f.file}, env: []string{"FAULTS_MYSQL_DSN=" + dsn, "FAULTS_WAREHOUSE_URL=" + whURL}}
	}
	do("mysql success", 0, mysqlRun(user), jsonDebug...)
	do("mysql wrong password", 1, mysqlRun(strings.Replace(user, myPassword, myWrong, 1)), textDebug...)
	mysqltest.Exec(t, dsn, "RENAME TABLE contact TO contact_gone")
	do("mysql missing table", 1, mysqlRun(user), jsonDebug...)
	mysqltest.Exec(t, dsn, "RENAME TABLE contact_gone TO contact")

	// What the operator sees afterwards.
	for _, args := range [][]string{
		{"history", "--format", "json", "--limit", "100", "--warehouse", whURL},
		{"history", "--limit", "100", "--warehouse", whURL},
		{"plan", restFile},
	} {
		do("etl "+args[0], -1, etl{args: args, env: restEnv(whURL)})
	}

	// Look for every secret, in every form, everywhere.
	leaks := 0
	check := func(place, text string) {
		for name, s := range secrets {
			tally.secretsChecked.Add(1)
			if _, form := secrettest.Find(text, map[string]string{name: s}); form != "" {
				leaks++
				tally.secretsLeaked.Add(1)
				t.Errorf("the %s is in %s as %q:\n%s", name, place, form, secrettest.Excerpt(text, form))
			}
		}
	}
	for _, o := range outputs {
		place, _, _ := strings.Cut(o, "\n")
		check(place, o)
	}
	for _, table := range []string{"etl_sync_history", "etl_rejects", "etl_state"} {
		rows, err := tg.db.Query(`SELECT t::text FROM ` + table + ` t`)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			check(table, s)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	otherMu.Lock()
	check("the redirect target's request headers", strings.Join(otherHeaders, "\n"))
	otherMu.Unlock()

	// The failures were real: every run is in the history, the rejects are.
	assert.GreaterOrEqual(t, tg.count(t, "SELECT count(*) FROM etl_rejects WHERE record LIKE '%[redacted]%'"), int64(2), "the rejects keep their raw records, secrets redacted")
	assert.GreaterOrEqual(t, tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'failed'"), int64(6))
	t.Logf("%d runs and commands, %d secrets, %d leaks", runs, len(secrets), leaks)
	if os.Getenv("FAULTS_DUMP") != "" {
		t.Log(strings.Join(outputs, "\n"))
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mysqlUser creates a MariaDB user with password and SELECT on the
// database dsn names, dropped when the test ends; it returns its DSN.
func mysqlUser(t *testing.T, dsn, password string) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	require.NoError(t, err)
	name := "etl_" + randomHex(4)
	admin := mysqltest.Open(t, mysqltest.ServerConfig(t).FormatDSN())
	_, err = admin.Exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", name, password))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", name)) })
	_, err = admin.Exec(fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", cfg.DBName, name))
	require.NoError(t, err)
	u := cfg.Clone()
	u.User, u.Passwd = name, password
	return u.FormatDSN()
}

// TestFaultsSecretInURLPathIntegration puts a key in the REST url's path,
// as APIs that take their key in the path want
// (url = "${env("API_URL")}/${env("KEY")}/contacts"), and has the first
// attempt of a request fail: the retry's log line names the API's host and
// path, the key redacted.
//
// This found a bug, now fixed: the "request failed; retrying" log line
// printed the URL as it was. Every log record of a run now passes through
// the pipeline's redactor.
func TestFaultsSecretInURLPathIntegration(t *testing.T) {
	skipShort(t)
	token := "pat-na1-" + randomHex(12)
	pathKey := "run-+& é" + randomHex(12) // the API takes /run-…/ before its path
	whURL := pgtest.URL(t)
	a := newAPI(t, token)
	ds := newDataset(300, time.Millisecond, 31)
	a.publish(ds)
	failFirst := func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	src, err := os.ReadFile(pipelineFile(t, "secrets_rest.hcl"))
	require.NoError(t, err)
	keyed := strings.Replace(string(src), `"${env("FAULTS_API_URL", "http://127.0.0.1:9")}/crm/v3/objects/contacts"`,
		`"${env("FAULTS_API_URL")}/${env("FAULTS_PATH_KEY")}/crm/v3/objects/contacts"`, 1)
	require.NotEqual(t, string(src), keyed)
	file := filepath.Join(t.TempDir(), "secrets_rest_keyed.hcl")
	require.NoError(t, os.WriteFile(file, []byte(keyed), 0o644))
	for _, format := range []string{"text", "json"} {
		a.setFault(failFirst)
		res := etl{args: []string{"run", file, "--log-format", format, "--full-refresh"},
			env: []string{"FAULTS_API_URL=" + a.URL(), "FAULTS_PATH_KEY=" + pathKey, "FAULTS_TOKEN=" + token, "FAULTS_HMAC=" + randomHex(8), "FAULTS_WAREHOUSE_URL=" + whURL}}.run(t)
		require.Equal(t, 0, res.code, "%s", res)
		out := res.stdout + res.stderr
		require.Contains(t, out, "retrying", "%s: the first attempt failed and was logged", format)
		assert.Contains(t, out, a.URL()+"/[redacted]/crm/v3/objects/contacts", "%s: the log names the host", format)
		if _, form := secrettest.Find(out, map[string]string{"path key": pathKey}); form != "" {
			t.Errorf("%s logs hold the path key as %q:\n%s", format, form, secrettest.Excerpt(out, form))
		}
	}
}
