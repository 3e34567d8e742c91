package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// TestKilledRunShowsWhatItLandedIntegration SIGKILLs `etl run` once rows
// have landed: its history row, still running, counts exactly the rows in
// the table (each batch adds its counts in its own transaction) and has a
// heartbeat; the next run marks it interrupted, ending at that heartbeat
// rather than at the next run's start, its counts kept.
func TestKilledRunShowsWhatItLandedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and loads 100,000 rows")
	}
	bin := buildETL(t)
	const rows = 100000
	csvPath := filepath.Join(t.TempDir(), "contacts.csv")
	writeContacts(t, csvPath, rows, goodContact)
	warehouses := []struct {
		name  string
		url   func(t *testing.T) string
		query func(url, q string) (int64, error)
		epoch func(column string) string // a timestamp column as Unix microseconds
	}{
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }, pgCount,
			func(c string) string { return "(extract(epoch FROM " + c + ") * 1000000)::bigint" }},
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "etl.db") }, sqliteCount,
			func(c string) string { return "CAST(unixepoch(" + c + ", 'subsec') * 1000000 AS INTEGER)" }},
	}
	for _, w := range warehouses {
		t.Run(w.name, func(t *testing.T) {
			url := w.url(t)
			count := func(q string) int64 {
				n, err := w.query(url, q)
				require.NoError(t, err, q)
				return n
			}
			pl := filepath.Join(t.TempDir(), "contacts.hcl")
			src := strings.Replace(contactsPipeline(csvPath, fmt.Sprintf("url = %q", url)), `"crm.contacts"`, `"contacts"`, 1)
			require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))

			cmd := startETL(t, bin, "run", pl, "--batch-size", "500")
			waitForRows(w.query, url, "contacts", 1000, 20*time.Second)
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()

			landed := count("SELECT count(*) FROM contacts")
			require.Positive(t, landed)
			if landed == rows {
				t.Skip("the run finished before the kill; nothing to check")
			}
			assert.Equal(t, int64(1), count("SELECT count(*) FROM etl_sync_history WHERE status = 'running'"))
			assert.Equal(t, landed, count("SELECT processed FROM etl_sync_history WHERE id = 1"), "processed: what landed")
			assert.Equal(t, landed, count("SELECT created FROM etl_sync_history WHERE id = 1"))
			beat := count("SELECT " + w.epoch("heartbeat_at") + " FROM etl_sync_history WHERE id = 1")
			require.Positive(t, beat, "a committed batch sets the heartbeat")

			out, err := exec.Command(bin, "run", pl).CombinedOutput()
			require.NoError(t, err, "rerun: %s", out)
			assert.Equal(t, int64(rows), count("SELECT count(*) FROM contacts"))
			assert.Equal(t, int64(1), count("SELECT count(*) FROM etl_sync_history WHERE id = 1 AND status = 'failed' AND error_message LIKE 'interrupted%'"))
			assert.Equal(t, landed, count("SELECT processed FROM etl_sync_history WHERE id = 1"), "the interrupted run keeps its counts")
			assert.Equal(t, beat, count("SELECT "+w.epoch("finished_at")+" FROM etl_sync_history WHERE id = 1"), "it ended at its last heartbeat")
			assert.Less(t, beat, count("SELECT "+w.epoch("started_at")+" FROM etl_sync_history WHERE id = 2"), "before the next run began")
		})
	}
}
