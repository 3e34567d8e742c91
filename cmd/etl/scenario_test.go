package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// TestOperationsScenario is the day-two scenario of issue #14, driven
// through a static (CGO_ENABLED=0) build of the real binary: a CSV with
// bad rows → run → fix the mapping → rejects replay → rerun unchanged →
// rows deleted in the source → a full run with deletes = "soft". It ends
// with the expected table, history and rejects. The build also proves
// `etl --version` names the git revision.
func TestOperationsScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "etl")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build: %s", out)

	etl := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &o, &e
		cmd.Env = append(os.Environ(), "ETL_WAREHOUSE_URL=")
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), o.String(), e.String()
		}
		require.NoError(t, err)
		return 0, o.String(), e.String()
	}

	// --version says what the toolchain stamped into the binary: the
	// revision when it recorded one (not in a git worktree, nor with
	// -buildvcs=false), and the Go version always.
	code, version, _ := etl("--version")
	require.Equal(t, 0, code)
	info, err := exec.Command("go", "version", "-m", bin).Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") {
			assert.Contains(t, version, "revision "+strings.TrimPrefix(f[1], "vcs.revision="))
		}
	}
	assert.Contains(t, version, strings.Fields(string(info))[1], "the Go version")

	csvPath := filepath.Join(dir, "contacts.csv")
	db := filepath.Join(dir, "w.db")
	writeCSV := func(skip int) {
		var b strings.Builder
		b.WriteString("id,email,amount,updated_at\n")
		for i := 1; i <= 10; i++ {
			if i == skip {
				continue
			}
			amount := fmt.Sprintf("%d.50", i)
			if i == 3 || i == 7 {
				amount = fmt.Sprintf("$%d.50", i) // a currency sign: the mapping refuses it
			}
			fmt.Fprintf(&b, "%d,user%d@example.com,%s,2024-01-%02dT00:00:00Z\n", i, i, amount, i)
		}
		require.NoError(t, os.WriteFile(csvPath, []byte(b.String()), 0o644))
	}
	pl := filepath.Join(dir, "contacts.hcl")
	writePipeline := func(amount, sinkExtra string) {
		require.NoError(t, os.WriteFile(pl, []byte(fmt.Sprintf(`pipeline "contacts" {
  system      = "test"
  entity      = "contacts"
  max_rejects = "50%%"

  source "csv" {
    path = "contacts.csv"
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    email      = "email(record.email)"
    amount     = %q
    updated_at = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    url   = "sqlite://w.db"
    table = "contacts"
    key   = ["id"]
    %s
  }
}
`, amount, sinkExtra)), 0o644))
	}

	// 1. Two rows have a currency sign: the run lands 8 and rejects 2.
	writeCSV(0)
	writePipeline("decimal(record.amount)", "")
	code, stdout, stderr := etl("run", pl)
	require.Equal(t, exitPartial, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "processed 10 = created 8 + updated 0 + unchanged 0 + rejected 2 + failed 0")
	code, stdout, _ = etl("rejects", "--pipeline", "contacts", "--warehouse", "sqlite://"+db, "--format", "json")
	require.Equal(t, 0, code)
	var rejects []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rejects), stdout)
	require.Len(t, rejects, 2)
	for _, r := range rejects {
		assert.Equal(t, "conversion", r["category"])
		assert.Equal(t, "map amount", r["check"])
	}

	// 2. The author fixes the mapping; replay recovers both.
	writePipeline(`decimal(regex_replace(record.amount, '[$]', ''))`, "")
	code, stdout, stderr = etl("rejects", "replay", pl)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "recovered 2 of 2")

	// 3. A rerun of the unchanged file: nothing new, nothing rejected.
	code, stdout, stderr = etl("run", pl)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "processed 1 = created 0 + updated 0 + unchanged 1 + rejected 0 + failed 0; skipped before cursor 9")

	// 4. Row 5 is deleted in the source; a full run with soft deletes marks it.
	writeCSV(5)
	writePipeline(`decimal(regex_replace(record.amount, '[$]', ''))`, `deletes = "soft"`)
	code, stdout, stderr = etl("run", pl)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.NotContains(t, stdout, "deleted", "an incremental run never deletes")
	code, stdout, stderr = etl("run", pl, "--full-refresh")
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "processed 9 = created 0 + updated 0 + unchanged 9 + rejected 0 + failed 0; deleted 1")

	// The table: ten rows, the fixed amounts exact, row 5 marked deleted.
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	defer conn.Close()
	rows, err := conn.Query(`SELECT id, amount, _etl_deleted_at IS NOT NULL FROM contacts ORDER BY id`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var id int
		var amount string
		var deleted bool
		require.NoError(t, rows.Scan(&id, &amount, &deleted))
		got = append(got, fmt.Sprintf("%d %s %v", id, amount, deleted))
	}
	require.NoError(t, rows.Err())
	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("%d %d.50 %v", i, i, i == 5))
	}
	assert.Equal(t, want, got)

	// The history, newest first.
	code, stdout, _ = etl("history", "--warehouse", "sqlite://"+db, "--format", "json")
	require.Equal(t, 0, code)
	var runs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &runs))
	require.Len(t, runs, 5)
	type row struct {
		Status, Mode                                     string
		Processed, Created, Rejected, Recovered, Deleted float64
	}
	var hist []row
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		hist = append(hist, row{r["status"].(string), r["mode"].(string), r["processed"].(float64), r["created"].(float64),
			r["rejected"].(float64), r["recovered"].(float64), r["deleted"].(float64)})
	}
	assert.Equal(t, []row{
		{"partial", "run", 10, 8, 2, 0, 0},
		{"success", "replay", 2, 2, 0, 2, 0},
		{"success", "run", 1, 0, 0, 0, 0}, // incremental: the boundary record; 9 skipped
		{"success", "run", 1, 0, 0, 0, 0},
		{"success", "run", 9, 0, 0, 0, 1}, // --full-refresh: row 5 marked
	}, hist)

	// No unresolved reject is left; both are resolved by the replay.
	code, stdout, _ = etl("rejects", "--pipeline", "contacts", "--warehouse", "sqlite://"+db, "--format", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &rejects), stdout)
	assert.Empty(t, rejects)
	code, stdout, _ = etl("rejects", "--all", "--pipeline", "contacts", "--warehouse", "sqlite://"+db, "--format", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &rejects), stdout)
	assert.Len(t, rejects, 2)
}
