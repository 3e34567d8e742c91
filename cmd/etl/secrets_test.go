package main

import (
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
	"github.com/etl-dev/etl/sinks/postgres"
)

// TestSecretsStayOutOfEverythingIntegration runs a pipeline whose warehouse
// URL carries a password from env(), with a rejected row that contains the
// password too, and a failing run; the password must appear in no output,
// no history column and no reject.
func TestSecretsStayOutOfEverythingIntegration(t *testing.T) {
	const secret = "Sup3rSecretPw"
	base := pgtest.URL(t)
	withPw := strings.Replace(base, "postgres@", "postgres:"+secret+"@", 1)
	require.NotEqual(t, base, withPw)
	t.Setenv("ETL_TEST_SECRET_URL", withPw)

	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, 5, func(i int) string {
		if i == 3 {
			return "3," + secret + "@nowhere,Leaky,1.00,2024-01-01T00:00:00Z"
		}
		return goodContact(i)
	})
	pl := filepath.Join(dir, "contacts.hcl")
	src := strings.Replace(contactsPipeline(csvPath, `url = env("ETL_TEST_SECRET_URL")`), `"crm.contacts"`, `"contacts"`, 1)
	require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))

	code, out, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitPartial, code, "%s\n%s", out, errOut)

	// A failing run: the source file disappears.
	require.NoError(t, os.Rename(csvPath, csvPath+".gone"))
	code, out2, errOut2 := runCLI(t, "run", pl, "--full-refresh")
	require.Equal(t, exitFailed, code)

	for _, s := range []string{out, errOut, out2, errOut2} {
		assert.NotContains(t, s, secret)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, table := range []string{"etl_sync_history", "etl_rejects", "etl_state"} {
		var leaks int
		require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s t WHERE t::text LIKE '%%' || $1 || '%%'`, table), secret).Scan(&leaks))
		assert.Zero(t, leaks, "secret found in %s", table)
	}
	var record string
	require.NoError(t, conn.QueryRow(ctx, `SELECT record FROM etl_rejects WHERE line = 4`).Scan(&record))
	assert.Contains(t, record, "[redacted]@nowhere")
	var runs int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM etl_sync_history WHERE status = 'failed' AND error_message LIKE '%contacts.csv%'`).Scan(&runs))
	assert.Equal(t, 1, runs, "the failed run is recorded with its reason")
}

// TestSecondRunOfAPipelineWaitsItsTurnIntegration holds a pipeline's lock
// as another run would: etl run waits --lock-wait, then refuses with a clear
// message and records nothing; released within the wait, it runs.
func TestSecondRunOfAPipelineWaitsItsTurnIntegration(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	wh, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	defer wh.Close()
	require.NoError(t, wh.Migrate(ctx))
	unlock, err := wh.Lock(ctx, "contacts")
	require.NoError(t, err)
	defer unlock()

	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, 5, goodContact)
	pl := filepath.Join(dir, "contacts.hcl")
	src := strings.Replace(contactsPipeline(csvPath, fmt.Sprintf("url = %q", url)), `"crm.contacts"`, `"contacts"`, 1)
	require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))

	start := time.Now()
	code, _, errOut := runCLI(t, "run", pl, "--lock-wait", "600ms")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "pipeline contacts is already running (another etl run has held its lock for 600ms)")
	assert.GreaterOrEqual(t, time.Since(start), 600*time.Millisecond, "it waits its turn first")

	// Released within the wait, the lock is taken and the run goes ahead.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = unlock()
	}()
	code, out, errOut := runCLI(t, "run", pl, "--lock-wait", "5s")
	assert.Equal(t, exitOK, code, "%s\n%s", out, errOut)
	runs, err := wh.Runs(ctx, engineFilter("contacts"))
	require.NoError(t, err)
	require.Len(t, runs, 1, "the refused run recorded nothing; the second one ran")
	assert.Equal(t, engine.StatusSuccess, runs[0].Status)
}

func engineFilter(p string) engine.HistoryFilter { return engine.HistoryFilter{Pipeline: p} }
