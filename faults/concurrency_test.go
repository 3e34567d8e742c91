package faults

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// span is one run's row in etl_sync_history.
type span struct {
	id               int64
	status           string
	started, stopped time.Time // stopped is zero while running
}

func (tg *target) spans(t testing.TB) []span {
	t.Helper()
	rs, err := tg.db.Query(`SELECT id, status, started_at, finished_at FROM etl_sync_history WHERE pipeline = '` + tg.pipeline + `' ORDER BY id`)
	if missingTable(err) {
		return nil
	}
	require.NoError(t, err)
	defer rs.Close()
	var out []span
	for rs.Next() {
		var s span
		var started, stopped any
		require.NoError(t, rs.Scan(&s.id, &s.status, &started, &stopped))
		s.started = asTime(t, started)
		if stopped != nil {
			s.stopped = asTime(t, stopped)
		}
		out = append(out, s)
	}
	require.NoError(t, rs.Err())
	return out
}

// labelled is the REST feed's environment for run n, its requests labelled
// /run-n/ so the API can tell the runs apart.
func labelled(f feed, n int, whURL string) []string {
	env := f.envFor(whURL)
	for i, e := range env {
		if u, ok := strings.CutPrefix(e, "FAULTS_API_URL="); ok {
			env[i] = fmt.Sprintf("FAULTS_API_URL=%s/run-%d", u, n)
		}
	}
	return env
}

// TestFaultsConcurrencyIntegration starts runs of one pipeline while
// another runs, on PostgreSQL (advisory lock) and SQLite (file lock): a
// second run with a short --lock-wait exits with the clear message and
// records nothing; runs with a long one wait their turn; the history shows
// no two runs of the pipeline ever running at once.
func TestFaultsConcurrencyIntegration(t *testing.T) {
	skipShort(t)
	warehouses := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "etl.db") }},
	}
	for _, w := range warehouses {
		t.Run(w.name, func(t *testing.T) {
			whURL := w.url(t)
			f, a := restFeed(t, "pat-na1-concurrency")
			a.pageDelay = 20 * time.Millisecond // ~2s for a whole load
			ds := newDataset(pick(8000, 10000), time.Millisecond, 20)
			f.publish(t, ds, nil)
			tg := openTarget(t, whURL, f.table, f.name)
			n := 0
			run := func(lockWait string) etl {
				n++
				return etl{args: []string{"run", f.file, "--lock-wait", lockWait}, env: labelled(f, n, whURL)}
			}

			first := run("0s").start(t)
			waitFor(t, 30*time.Second, "the first run to start", func() bool {
				s := tg.spans(t)
				return len(s) == 1 && s[0].status == "running"
			})

			// A second run that may wait 300ms: refused, with the reason.
			second := run("300ms").run(t)
			assert.Equal(t, 1, second.code, "%s", second)
			assert.Contains(t, second.stderr, "pipeline faults_rest is already running (another etl run has held its lock for 300ms); wait for it to finish")
			assert.GreaterOrEqual(t, second.took, 300*time.Millisecond, "it waits its turn first")
			assert.Len(t, tg.spans(t), 1, "the refused run recorded nothing")

			// A third that may wait long enough: it runs after the first.
			third := run("2m").start(t)
			r1, r3 := first(0), third(0)
			assert.Equal(t, 0, r1.code, "%s", r1)
			assert.Equal(t, 0, r3.code, "%s", r3)

			// A crowd of four at once, on a changed source.
			f.publish(t, ds, ds.mutate(0.5, 100))
			var crowd []func(time.Duration) result
			for range 4 {
				crowd = append(crowd, run("2m").start(t))
			}
			for i, wait := range crowd {
				r := wait(0)
				assert.Equal(t, 0, r.code, "crowd run %d: %s", i, r)
			}
			assert.Len(t, tg.spans(t), 6, "every run that got the lock recorded itself")
			assert.Equal(t, 6, a.readerCount(), "every run that got the lock read the source")
			assert.Empty(t, a.overlappingReaders(), "two runs past the lock at once")
			got, dup := tg.rows(t)
			d := compare(ds, got, dup)
			assert.True(t, d.clean(), "%s", d)
		})
	}
}

// TestFaultsLockLostIntegration cuts only the connection that holds a
// PostgreSQL run's advisory lock (a network blip on one socket: the server
// ends that session and frees the lock) while the run goes on writing on its
// other connections, then starts a second run of the pipeline.
//
// This found a bug, now fixed: the sink held the session advisory lock on
// a connection of its own and never looked at it again, so a run whose
// lock session died went on writing while a second run took the lock. Each
// batch's transaction now checks the lock is still held.
func TestFaultsLockLostIntegration(t *testing.T) {
	skipShort(t)
	direct := pgtest.URL(t)
	viaURL, pr := pgViaProxy(t, direct)
	f, a := restFeed(t, "pat-na1-lock")
	a.pageDelay = 20 * time.Millisecond
	ds := newDataset(8000, time.Millisecond, 21)
	f.publish(t, ds, nil)
	tg := openTarget(t, direct, f.table, f.name)
	first := etl{args: []string{"run", f.file}, env: labelled(f, 1, viaURL)}.start(t)
	waitFor(t, 30*time.Second, "the first rows to land", func() bool {
		return tg.count(t, "SELECT count(*) FROM "+f.table) > 0
	})

	// The lock's session: an advisory lock held by a backend behind the proxy.
	var port int
	err := tg.db.QueryRow(`SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND a.client_addr = '127.0.0.1' AND a.datname = current_database()
		  AND a.client_port IN (` + strings.Join(pr.serverPorts(), ",") + `)`).Scan(&port)
	if err == sql.ErrNoRows {
		t.Fatal("no advisory lock behind the proxy")
	}
	require.NoError(t, err)
	require.Equal(t, 1, pr.CutWhere(func(p int) bool { return p == port }))
	waitFor(t, 30*time.Second, "the server to end the lock's session", func() bool {
		return tg.count(t, fmt.Sprintf(`SELECT count(*) FROM pg_stat_activity WHERE client_addr = '127.0.0.1' AND client_port = %d`, port)) == 0
	})

	second := etl{args: []string{"run", f.file, "--lock-wait", "0s"}, env: labelled(f, 2, direct)}.run(t)
	r1 := first(0)
	t.Logf("first: exit %d after %s: %s", r1.code, r1.took.Round(time.Millisecond), firstLine(r1.stderr))
	t.Logf("second: exit %d after %s: %s", second.code, second.took.Round(time.Millisecond), firstLine(second.stderr))
	if second.code == 0 {
		assert.NotEqual(t, 0, r1.code, "the second run took the lock while the first still ran and finished: two writers")
	}
	assert.Empty(t, a.overlappingReaders(), "two runs past the lock at once")
	settle(t, etl{args: []string{"run", f.file}, env: f.envFor(direct)}, tg, ds)
}
