package faults

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// TestFaultsRerunIntegration SIGKILLs reruns of a full CSV read onto the
// table the last run filled, where the PostgreSQL sink leaves out the rows
// whose hash matches the one it stored when it wrote them. Between runs
// either the source changes (a few % of the rows, and new ones) or another
// session edits the warehouse (an UPDATE of some rows, a DELETE of others),
// which the hashes do not know of. After each kill the target holds no row
// twice and none the source lacks; each run that finishes leaves the target
// equal to the source (the edited rows put back, the deleted ones written
// again) and counts exactly what it found: created = rows missing before it,
// updated = rows that differed, unchanged = the rest.
func TestFaultsRerunIntegration(t *testing.T) {
	skipShort(t)
	whURL := pgtest.URL(t)
	path := filepath.Join(t.TempDir(), "contacts.csv")
	ds := newDataset(pick(3000, 30000), time.Microsecond*17, 11)
	writeCSV(t, path, ds)
	tg := openTarget(t, whURL, "faults_csv_full", "faults_csv_full")
	// Each run names its sessions, so that after a kill the test can wait
	// for them to end: a COMMIT the killed process sent may still land.
	runs := 0
	next := func() (etl, string) {
		runs++
		app := fmt.Sprintf("faults_rerun_%d", runs)
		return etl{args: []string{"run", pipelineFile(t, "csv_full.hcl"), "--log-format", "json"},
			env: []string{"FAULTS_CSV=" + path, "FAULTS_WAREHOUSE_URL=" + whURL + "&application_name=" + app}}, app
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))

	// finish runs the pipeline to its end and checks the target and the
	// run's counts against the differences found before it.
	finish := func(what string) {
		t.Helper()
		got, dup := tg.rows(t)
		before := compare(ds, got, dup)
		run, _ := next()
		res := run.run(t)
		require.Equal(t, 0, res.code, "%s: %s", what, res)
		got, dup = tg.rows(t)
		d := compare(ds, got, dup)
		assert.True(t, d.clean(), "%s left the target unlike the source: %s", what, d)
		var created, updated, unchanged int
		require.NoError(t, tg.db.QueryRow(`SELECT created, updated, unchanged FROM etl_sync_history
			WHERE pipeline = 'faults_csv_full' AND status = 'success' ORDER BY id DESC LIMIT 1`).Scan(&created, &updated, &unchanged))
		assert.Equal(t, [3]int{before.missing, before.stale, len(ds.rows) - before.missing - before.stale},
			[3]int{created, updated, unchanged}, "%s: created, updated, unchanged (before it: %s)", what, before)
	}

	finish("the first load")
	whole := time.Second
	kills, done, midRun, edits := pick(3, 20), 0, 0, 0
	for attempt := 0; done < kills && attempt < kills*4; attempt++ {
		switch attempt % 3 {
		case 0:
			ds.mutate(0.1*rng.Float64(), 20)
			writeCSV(t, path, ds)
		case 1:
			res, err := tg.db.Exec(`UPDATE faults_csv_full SET name = name || ' (edited)', score = score + 1 WHERE id % 97 = $1`, attempt%97)
			require.NoError(t, err)
			n, _ := res.RowsAffected()
			edits += int(n)
		case 2:
			res, err := tg.db.Exec(`DELETE FROM faults_csv_full WHERE id % 89 = $1`, attempt%89)
			require.NoError(t, err)
			n, _ := res.RowsAffected()
			edits += int(n)
		}
		got, dup := tg.rows(t)
		before := compare(ds, got, dup)
		delay := time.Duration(rng.Int64N(int64(whole*6/5))) + time.Millisecond
		run, app := next()
		res := run.start(t)(delay)
		waitFor(t, time.Minute, "the killed run's sessions to end", func() bool {
			return tg.count(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+app+"'") == 0
		})
		if !res.killed {
			require.Equal(t, 0, res.code, "a run that was not killed must succeed: %s", res)
			whole = max(res.took, 100*time.Millisecond)
			got, dup = tg.rows(t)
			assert.True(t, compare(ds, got, dup).clean(), "attempt %d finished", attempt)
			continue
		}
		done++
		tally.kills.Add(1)
		got, dup = tg.rows(t)
		after := compare(ds, got, dup)
		assert.Zero(t, after.extra+after.dup, "after kill %d at %s: %s", done, delay, after)
		if p, q := after.missing+after.stale, before.missing+before.stale; p > 0 && p < q {
			midRun++
		}
		if done%2 == 0 {
			finish("the rerun after a kill")
			tally.recovered.Add(1)
		}
	}
	require.GreaterOrEqual(t, done, kills, "too few kills found the run alive")
	finish("the last rerun")
	if done%2 == 1 {
		tally.recovered.Add(1)
	}
	got, dup := tg.rows(t)
	d := compare(ds, got, dup)
	tally.lost.Add(int64(d.missing + d.stale))
	tally.duplicated.Add(int64(d.extra + d.dup))
	finish("a rerun of the same file")
	var hashes int64
	require.NoError(t, tg.db.QueryRow(`SELECT count(*) FROM etl_row_hash`).Scan(&hashes))
	assert.Equal(t, int64(len(ds.rows)), hashes, "one stored hash a row")
	assert.Zero(t, tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'running'"))
	t.Logf("faults_csv_full: %d kills during reruns (%d mid-run), %d rows edited or deleted in the warehouse, %d rows; whole run ≈ %s",
		done, midRun, edits, len(ds.rows), whole.Round(time.Millisecond))
}
