package faults

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
)

// TestFaultsCrashCSVIntegration SIGKILLs incremental runs of the CSV
// pipeline at random moments, into PostgreSQL and into SQLite.
func TestFaultsCrashCSVIntegration(t *testing.T) {
	skipShort(t)
	t.Run("postgres", func(t *testing.T) {
		crashCampaign(t, csvFeed(t), newDataset(pick(3000, 40000), time.Microsecond*17, 1), pgtest.URL(t), pick(2, 20))
	})
	t.Run("sqlite", func(t *testing.T) {
		url := "sqlite://" + filepath.Join(t.TempDir(), "etl.db")
		crashCampaign(t, csvFeed(t), newDataset(pick(3000, 20000), time.Microsecond*17, 2), url, pick(2, 20))
	})
}

// TestFaultsCrashRESTIntegration SIGKILLs incremental runs of the REST
// pipeline, reading a fake HubSpot-like API sorted by updated time.
func TestFaultsCrashRESTIntegration(t *testing.T) {
	skipShort(t)
	f, a := restFeed(t, "pat-na1-11111111-2222-3333-4444-555555555555")
	a.pageDelay = time.Millisecond
	crashCampaign(t, f, newDataset(pick(3000, 20000), time.Millisecond, 3), pgtest.URL(t), pick(2, 20))
}

// TestFaultsCrashMySQLIntegration SIGKILLs incremental runs of the MySQL
// pipeline, reading a table of a fresh MariaDB database.
func TestFaultsCrashMySQLIntegration(t *testing.T) {
	skipShort(t)
	f := mysqlFeed(t, mysqltest.DSN(t))
	crashCampaign(t, f, newDataset(pick(3000, 20000), time.Microsecond*17, 4), pgtest.URL(t), pick(2, 20))
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the etl binary against real servers")
	}
}

// crashCampaign runs the pipeline of f over ds again and again, the source
// changing between runs, and SIGKILLs each run at a random moment until
// kills kills have found a run alive. After each kill, the saved cursor must
// not be ahead of the data in the target; after the last, a rerun must make
// the target equal the source: no row missing, none duplicated, every value
// as in the source.
func crashCampaign(t *testing.T, f feed, ds *dataset, whURL string, kills int) {
	tg := openTarget(t, whURL, f.table, f.name)
	run := etl{args: []string{"run", f.file, "--log-format", "json"}, env: f.envFor(whURL)}
	if !full() {
		// Small batches: the smoke version kills once the first has
		// committed, and many are still to come.
		run.args = append(run.args, "--batch-size", "50")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	f.publish(t, ds, ds.sorted())

	// A run takes about base + work×whole, work being the share of the
	// dataset it has to load; both are learnt from the runs that finish
	// before their kill, and the kill falls uniformly within that time.
	base, whole := 300*time.Millisecond, time.Second
	done, consistent, midLoad, finished := 0, 0, 0, 0
	for attempt := 0; done < kills && attempt < kills*4; attempt++ {
		if attempt > 0 {
			f.publish(t, ds, ds.mutate(pick(0.3, 0.05)+0.6*rng.Float64(), 50))
		}
		got, dup := tg.rows(t)
		before := compare(ds, got, dup)
		work := float64(before.missing+before.stale) / float64(len(ds.rows))
		window := base + time.Duration(1.1*work*float64(whole))
		delay := time.Duration(rng.Int64N(int64(window))) + time.Millisecond
		var res result
		if full() {
			res = run.start(t)(delay)
		} else {
			// The smoke version kills on what it sees, not on a timer: as
			// soon as a row of the source's current version that was not in
			// the target before has committed, so the kill lands mid-load.
			current := fmt.Sprintf("SELECT count(*) FROM %s WHERE name LIKE '%% v%d'", f.table, ds.version)
			landed, _ := tg.tryCount(current)
			res = run.killWhen(t, func() bool {
				n, err := tg.tryCount(current)
				return err == nil && n > landed
			})
		}
		when := "at " + delay.Round(time.Millisecond).String()
		if !full() {
			when = "once rows landed"
		}
		t.Logf("attempt %d: work %.2f, kill %s: killed %v, took %s", attempt, work, when, res.killed, res.took.Round(time.Millisecond))
		if !res.killed {
			finished++
			require.Equal(t, 0, res.code, "a run that was not killed must succeed: %s", res)
			got, dup := tg.rows(t)
			d := compare(ds, got, dup)
			assert.True(t, d.clean(), "a run that finished left the target unlike the source: %s", d)
			base = min(base, res.took*3/4)
			if work > 0.02 {
				whole = time.Duration(float64(res.took-base) / work)
			}
			continue
		}
		done++
		tally.kills.Add(1)
		// The cursor first: a COMMIT the killed process sent can still land
		// after it died, and rows and cursor commit together, so rows read
		// after the cursor include everything the cursor claims.
		cur, saved := tg.cursor(t)
		got, dup = tg.rows(t)
		if err := cursorConsistent(ds, got, cur, saved); assert.NoError(t, err, "after kill %d at %s", done, delay) {
			consistent++
		}
		after := compare(ds, got, dup)
		assert.Zero(t, after.extra+after.dup, "after kill %d: %s", done, after)
		p, q := after.missing+after.stale, before.missing+before.stale
		if p > 0 && p < q {
			midLoad++
		} else if !full() {
			t.Errorf("kill %d did not land mid-load: %d of %d rows of work were left undone", done, p, q)
		}
	}
	require.GreaterOrEqual(t, done, kills, "too few kills found the run alive")

	res := run.run(t)
	require.Equal(t, 0, res.code, "the rerun: %s", res)
	got, dup := tg.rows(t)
	d := compare(ds, got, dup)
	assert.True(t, d.clean(), "after the rerun: %s", d)
	tally.lost.Add(int64(d.missing + d.stale))
	tally.duplicated.Add(int64(d.extra + d.dup))
	if d.clean() {
		tally.recovered.Add(int64(consistent))
	}
	cur, saved := tg.cursor(t)
	require.True(t, saved)
	assert.Equal(t, ds.sorted()[len(ds.rows)-1].Updated, cur, "the saved cursor is the source's newest")
	assert.Zero(t, tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'running'"), "a killed run left running")
	interrupted := tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'failed' AND error_message LIKE 'interrupted%'")
	assert.LessOrEqual(t, interrupted, int64(done))
	assert.Zero(t, tg.count(t, "SELECT count(*) FROM etl_rejects"))
	t.Logf("%s: %d kills (%d mid-load, %d consistent), %d runs finished before their kill, %d rows; whole run ≈ %s",
		f, done, midLoad, consistent, finished, len(ds.rows), (base + whole).Round(time.Millisecond))
	if full() {
		assert.GreaterOrEqual(t, midLoad, kills/4, "too few kills landed mid-load; the campaign proves little")
	} else {
		assert.Equal(t, done, midLoad, "every kill of the smoke version lands mid-load")
	}
}
