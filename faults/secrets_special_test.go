package faults

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/secrettest"
)

// TestFaultsSpecialSecretsIntegration gives a bearer token and a warehouse
// password the characters that encodings change — `/ + & space é` (and
// `= @ :`) — and looks for them, in every form secrettest knows (raw,
// percent-encoded, base64, JSON-escaped), in what `etl validate`, `etl
// plan`, `etl run` (a success, a dry run, and a 401 whose body echoes the
// token) and `etl history` print, and in every row of etl_sync_history,
// etl_rejects, etl_state and etl_source_state.
func TestFaultsSpecialSecretsIntegration(t *testing.T) {
	skipShort(t)
	token := "tök/+& n=" + randomHex(6)
	password := "pw/+& é@:" + randomHex(6)
	secrets := map[string]string{"token": token, "warehouse password": password}

	base := pgtest.URL(t)
	p, err := url.Parse(base)
	require.NoError(t, err)
	p.User = url.UserPassword("postgres", password) // the server trusts loopback: carried, never checked
	whURL := p.String()

	f, a := restFeed(t, token)
	ds := newDataset(300, 0, 40)
	f.publish(t, ds, nil)
	env := f.envFor(whURL)

	var outputs []string
	do := func(name string, wantCode int, args ...string) result {
		t.Helper()
		res := etl{args: args, env: env}.run(t)
		if wantCode >= 0 {
			assert.Equal(t, wantCode, res.code, "%s: %s", name, res)
		}
		outputs = append(outputs, name+" stdout:\n"+res.stdout, name+" stderr:\n"+res.stderr)
		return res
	}
	do("etl validate", 0, "validate", f.file)
	do("etl validate --format json", 0, "validate", "--format", "json", f.file)
	do("etl plan", 0, "plan", f.file)
	do("etl run", 0, "run", f.file, "--log-level", "debug")
	do("etl run --dry-run", 0, "run", f.file, "--dry-run", "--log-level", "debug")
	a.setFault(func(n int64, w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message": "rejected %s for %s"}`, r.Header.Get("Authorization"), r.URL)
		return true
	})
	do("etl run (401 echoing the token)", 1, "run", f.file, "--log-format", "json", "--log-level", "debug")
	a.setFault(nil)
	do("etl history --format json", 0, "history", "--format", "json", "--warehouse", whURL)
	do("etl history", 0, "history", "--warehouse", whURL)

	tg := openTarget(t, base, f.table, f.name)
	check := func(place, text string) {
		t.Helper()
		tally.secretsChecked.Add(int64(len(secrets)))
		if name, form := secrettest.Find(text, secrets); form != "" {
			tally.secretsLeaked.Add(1)
			t.Errorf("the %s is in %s as %q:\n%s", name, place, form, secrettest.Excerpt(text, form))
		}
	}
	for _, o := range outputs {
		place, _, _ := strings.Cut(o, "\n")
		check(place, o)
	}
	for _, table := range []string{"etl_sync_history", "etl_rejects", "etl_state", "etl_source_state"} {
		rows, err := tg.db.Query(`SELECT t::text FROM ` + table + ` t`)
		require.NoError(t, err, table)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			check(table, s)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	// The runs were real: the token reached the API, the rows landed.
	assert.Equal(t, int64(len(ds.rows)), tg.count(t, "SELECT count(*) FROM "+f.table))
	assert.Equal(t, int64(1), tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'failed'"), "the 401 run")
}
