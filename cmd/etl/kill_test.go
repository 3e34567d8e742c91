package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/etl-dev/etl/internal/pgtest"
)

// startETL starts the etl binary bin with args, its stderr drained.
func startETL(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() { // drain
		s := bufio.NewScanner(stderr)
		for s.Scan() {
		}
	}()
	return cmd
}

// waitForRows polls table until it holds at least n rows, for up to wait.
func waitForRows(query func(url, q string) (int64, error), url, table string, n int64, wait time.Duration) {
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if got, err := query(url, "SELECT count(*) FROM "+table); err == nil && got >= n {
			return
		}
	}
}

// buildETL compiles the etl binary once per test into a temp dir.
func buildETL(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "etl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// TestKillMidFileAndRerunIntegration SIGKILLs `etl run` while it loads a
// CSV, runs it again, and checks that the target equals the file: no row
// missing, none duplicated, every value as in the file; the killed run is
// marked failed (interrupted) and the saved cursor is the file's largest.
func TestKillMidFileAndRerunIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and loads 120,000 rows")
	}
	bin := buildETL(t)
	const rows = 120000
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, rows, goodContact)

	warehouses := []struct {
		name  string
		url   func(t *testing.T) string
		query func(url, q string) (int64, error)
	}{
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }, pgCount},
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "etl.db") }, sqliteCount},
	}
	for _, w := range warehouses {
		t.Run(w.name, func(t *testing.T) {
			url := w.url(t)
			count := func(q string) int64 {
				n, err := w.query(url, q)
				require.NoError(t, err, q)
				return n
			}
			table := "contacts"
			pl := filepath.Join(t.TempDir(), "contacts.hcl")
			src := strings.Replace(contactsPipeline(csvPath, fmt.Sprintf("url = %q", url)), `"crm.contacts"`, `"contacts"`, 1)
			require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))

			kills, midFile := 0, 0
			for attempt := 0; attempt < 4; attempt++ {
				cmd := startETL(t, bin, "run", pl, "--batch-size", "500")
				// Kill at a random moment once rows have started to land (a
				// fixed delay may fall before the first commit or after the
				// last on a fast machine).
				waitForRows(w.query, url, table, 1, 10*time.Second)
				time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
					kills++
				}
				_ = cmd.Wait()
				if n, err := w.query(url, "SELECT count(*) FROM "+table); err == nil && n > 0 && n < rows {
					midFile++
				}
			}
			require.Positive(t, kills)
			assert.Positive(t, midFile, "no kill landed mid-file; the test proves nothing")

			out, err := exec.Command(bin, "run", pl).CombinedOutput()
			require.NoError(t, err, "rerun: %s", out)
			assert.Contains(t, string(out), "success: contacts")

			assert.Equal(t, int64(rows), count("SELECT count(*) FROM "+table))
			assert.Equal(t, int64(rows), count("SELECT count(DISTINCT id) FROM "+table))
			assert.Equal(t, int64(rows)*(rows+1)/2, count("SELECT sum(id) FROM "+table))
			assert.Equal(t, int64(0), count("SELECT count(*) FROM "+table+" WHERE email <> 'user' || id || '@example.com' OR name <> 'User ' || id"))
			assert.Equal(t, int64(0), count("SELECT count(*) FROM etl_sync_history WHERE status = 'running'"))
			assert.Equal(t, int64(0), count("SELECT count(*) FROM etl_rejects"))
			interrupted := count("SELECT count(*) FROM etl_sync_history WHERE status = 'failed' AND error_message LIKE 'interrupted%'")
			assert.LessOrEqual(t, interrupted, int64(kills))
			assert.Equal(t, int64(1), count("SELECT count(*) FROM etl_state WHERE pipeline = 'contacts' AND cursor_value = '2024-01-01T00:00:59Z'"))
		})
	}
}

func sqliteCount(url, q string) (int64, error) {
	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite://"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n sql.NullInt64
	err = db.QueryRowContext(context.Background(), q).Scan(&n)
	return n.Int64, err
}

func pgCount(url, q string) (int64, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n *int64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, err
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}
