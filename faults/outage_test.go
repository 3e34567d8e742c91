package faults

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
)

// pgViaProxy returns the postgres:// URL u pointed at a new proxy to its
// server, and the proxy.
func pgViaProxy(t testing.TB, u string) (string, *proxy) {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	pr := newProxy(t, p.Host)
	p.Host = pr.Addr()
	return p.String(), pr
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// outage counts one outage; survived is decided when the test ends.
func outage(t *testing.T) {
	tally.outages.Add(1)
	t.Cleanup(func() {
		if !t.Failed() {
			tally.survived.Add(1)
		}
	})
}

// settle runs the pipeline to the end and checks that the target equals the
// source, with no run left running.
func settle(t *testing.T, run etl, tg *target, ds *dataset) {
	t.Helper()
	res := run.run(t)
	require.Equal(t, 0, res.code, "the rerun: %s", res)
	got, dup := tg.rows(t)
	d := compare(ds, got, dup)
	assert.True(t, d.clean(), "after the rerun: %s", d)
	tally.lost.Add(int64(d.missing + d.stale))
	tally.duplicated.Add(int64(d.extra + d.dup))
	assert.Zero(t, tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'running'"), "a run left running")
}

// TestFaultsWarehouseOutageIntegration cuts the PostgreSQL warehouse away
// from a run through a proxy on loopback (the shared server is never
// restarted): cut for good, the run fails cleanly once warehouse_retry is
// spent, the cursor consistent with the data, and the rerun finishes with
// the target equal to the source; cut for a moment, the run rides it out.
func TestFaultsWarehouseOutageIntegration(t *testing.T) {
	skipShort(t)
	for _, tt := range []struct {
		name string
		down time.Duration // 0: until the run has failed
	}{
		{name: "cut until the run fails"},
		{name: "cut for a second", down: time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			outage(t)
			direct := pgtest.URL(t)
			viaURL, pr := pgViaProxy(t, direct)
			f, a := restFeed(t, "pat-na1-outage")
			a.pageDelay = pick[time.Duration](2, 4) * time.Millisecond
			ds := newDataset(pick(4000, 20000), time.Millisecond, 10)
			f.publish(t, ds, nil)
			tg := openTarget(t, direct, f.table, f.name)
			args := []string{"run", f.file}
			if tt.down == 0 {
				args = append(args, "--warehouse-retry", "2s")
			}
			run := etl{args: args, env: f.envFor(viaURL)}

			wait := run.start(t)
			waitFor(t, 30*time.Second, "the first rows to land", func() bool {
				return tg.count(t, "SELECT count(*) FROM "+f.table) > 0
			})
			pr.Cut()
			if tt.down > 0 {
				time.Sleep(tt.down)
				pr.Restore()
			}
			res := wait(0)
			assert.Less(t, res.took, time.Minute, "the run hung on the cut: %s", res)
			if tt.down == 0 {
				assert.Equal(t, 1, res.code, "%s", res)
				assert.Contains(t, res.stderr, "faults_rest failed:", "%s", res)
				assert.Contains(t, res.stderr, "warehouse_retry is 2s", "%s", res)
			} else {
				assert.Equal(t, 0, res.code, "a one-second cut is ridden out: %s", res)
			}
			cur, saved := tg.cursor(t)
			got, _ := tg.rows(t)
			assert.NoError(t, cursorConsistent(ds, got, cur, saved))
			t.Logf("%s: exit %d after %s; %d of %d rows had landed; %s", tt.name, res.code, res.took.Round(time.Millisecond), len(got), len(ds.rows), firstLine(res.stderr))

			pr.Restore()
			settle(t, run, tg, ds)
			if tt.down == 0 {
				assert.Equal(t, int64(1), tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'success'"), "only the rerun succeeded")
			}
		})
	}
}

// TestFaultsWarehouseRestartIntegration runs the REST pipeline into a
// throwaway PostgreSQL cluster of its own and, once the run has landed
// rows, restarts the server in immediate mode (a crash: every session dies,
// the run's lock with them), or stops it for a while and starts it again.
// The run must ride it out: exit 0, the target equal to the source, one
// history row, success, with the run's true counts and its retries noted.
func TestFaultsWarehouseRestartIntegration(t *testing.T) {
	skipShort(t)
	cluster := pgtest.NewCluster(t)
	for _, tt := range []struct {
		name string
		down time.Duration // 0: restart at once
	}{
		{name: "restarted in immediate mode"},
		{name: "stopped, then started", down: pick(2*time.Second, 20*time.Second)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			outage(t)
			whURL := clusterSchema(t, cluster)
			f, a := restFeed(t, "pat-na1-restart")
			a.pageDelay = pick[time.Duration](2, 4) * time.Millisecond
			ds := newDataset(pick(4000, 20000), time.Millisecond, 11)
			f.publish(t, ds, nil)
			run := etl{args: []string{"run", f.file}, env: f.envFor(whURL)}
			before := openTarget(t, whURL, f.table, f.name)

			wait := run.start(t)
			waitFor(t, 30*time.Second, "the first rows to land", func() bool {
				return before.count(t, "SELECT count(*) FROM "+f.table) > 0
			})
			landed := before.count(t, "SELECT count(*) FROM "+f.table)
			if tt.down == 0 {
				require.NoError(t, cluster.Restart())
			} else {
				require.NoError(t, cluster.Stop())
				time.Sleep(tt.down) // the outage itself: how long the server stays away
				require.NoError(t, cluster.Start())
			}
			res := wait(0)
			require.Equal(t, 0, res.code, "the run rides out the warehouse going away: %s", res)
			assert.Contains(t, res.stderr, "warehouse unreachable; retrying", "%s", res)

			tg := openTarget(t, whURL, f.table, f.name)
			got, dup := tg.rows(t)
			d := compare(ds, got, dup)
			assert.True(t, d.clean(), "after the run: %s", d)
			tally.lost.Add(int64(d.missing + d.stale))
			tally.duplicated.Add(int64(d.extra + d.dup))
			assert.Less(t, landed, int64(len(ds.rows)), "the server went away mid-load")

			assert.Equal(t, int64(1), tg.count(t, "SELECT count(*) FROM etl_sync_history"), "one run, one history row")
			var status string
			var processed, created, updated, unchanged int64
			var retries *int64
			require.NoError(t, tg.db.QueryRow(`SELECT status, processed, created, updated, unchanged, (performance_metrics->>'warehouse_retries')::bigint
				FROM etl_sync_history`).Scan(&status, &processed, &created, &updated, &unchanged, &retries))
			n := int64(len(ds.rows))
			assert.Equal(t, []any{"success", n, n, int64(0), int64(0)}, []any{status, processed, created, updated, unchanged}, "the history tells the run as it was")
			if assert.NotNil(t, retries, "the retries are noted") {
				assert.Positive(t, *retries)
			}
			t.Logf("%s: exit 0 after %s; %d of %d rows had landed when the server went away; %d retries", tt.name, res.took.Round(time.Millisecond), landed, len(ds.rows), *retries)
		})
	}
}

// clusterSchema returns a URL of cluster c whose search_path selects a new
// schema of its own.
func clusterSchema(t testing.TB, c *pgtest.Cluster) string {
	t.Helper()
	db := openTarget(t, c.URL(), "", "")
	schema := "s_" + randomHex(4)
	_, err := db.db.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	return c.URL() + "&search_path=" + schema
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "failed") || strings.Contains(l, "error") {
			return l
		}
	}
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// restPipeline writes rest.hcl with its timeout set to timeout.
func restPipeline(t testing.TB, timeout string) string {
	t.Helper()
	src, err := os.ReadFile(pipelineFile(t, "rest.hcl"))
	require.NoError(t, err)
	text := strings.Replace(string(src), `timeout = "5s"`, fmt.Sprintf("timeout = %q", timeout), 1)
	require.NotEqual(t, string(src), text)
	p := filepath.Join(t.TempDir(), "rest.hcl")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// TestFaultsSourceOutageRESTIntegration runs the REST pipeline against an
// API that drops connections mid-body, hangs past the request timeout, and
// answers 503 for a while: the source retries (rest.hcl: 30 attempts, 1 m
// of waiting per request, backoff 200ms doubling to 2s) and the run lands
// everything.
func TestFaultsSourceOutageRESTIntegration(t *testing.T) {
	skipShort(t)
	unavailable := pick(3*time.Second, 20*time.Second)
	for _, tt := range []struct {
		name    string
		fault   func(start *atomic.Int64) func(n int64, w http.ResponseWriter, r *http.Request) bool
		minTook time.Duration
	}{
		{
			name: "connections dropped mid-body",
			fault: func(*atomic.Int64) func(n int64, w http.ResponseWriter, r *http.Request) bool {
				return func(n int64, w http.ResponseWriter, r *http.Request) bool {
					if n == 5 || n == 6 || n == 20 || n == 21 || n == 22 {
						dropMidBody(w)
						return true
					}
					return false
				}
			},
		},
		{
			name: "a server hanging past the timeout",
			fault: func(*atomic.Int64) func(n int64, w http.ResponseWriter, r *http.Request) bool {
				return func(n int64, w http.ResponseWriter, r *http.Request) bool {
					if n == 8 || n == 9 {
						hang(w, r, 30*time.Second)
						return true
					}
					return false
				}
			},
			minTook: 2 * time.Second,
		},
		{
			name: fmt.Sprintf("503 for %s", unavailable),
			fault: func(start *atomic.Int64) func(n int64, w http.ResponseWriter, r *http.Request) bool {
				return func(n int64, w http.ResponseWriter, r *http.Request) bool {
					if n < 10 {
						return false
					}
					now := time.Now().UnixNano()
					start.CompareAndSwap(0, now)
					if time.Duration(now-start.Load()) < unavailable {
						w.WriteHeader(http.StatusServiceUnavailable)
						_, _ = w.Write([]byte("upstream down for maintenance"))
						return true
					}
					return false
				}
			},
			minTook: unavailable,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			outage(t)
			whURL := pgtest.URL(t)
			f, a := restFeed(t, "pat-na1-source-outage")
			ds := newDataset(pick(3000, 20000), time.Millisecond, 11)
			f.publish(t, ds, nil)
			var start atomic.Int64
			a.setFault(tt.fault(&start))
			tg := openTarget(t, whURL, f.table, f.name)
			run := etl{args: []string{"run", restPipeline(t, "1s")}, env: f.envFor(whURL)}

			res := run.run(t)
			require.Equal(t, 0, res.code, "%s", res)
			assert.GreaterOrEqual(t, res.took, tt.minTook)
			assert.Positive(t, a.faulted.Load(), "no fault was served")
			got, dup := tg.rows(t)
			d := compare(ds, got, dup)
			assert.True(t, d.clean(), "%s", d)
			tally.lost.Add(int64(d.missing + d.stale))
			tally.duplicated.Add(int64(d.extra + d.dup))
			t.Logf("%s: %d faults served, run took %s", tt.name, a.faulted.Load(), res.took.Round(time.Millisecond))
		})
	}
}

// TestFaultsSourceOutageMySQLIntegration kills the MySQL source's
// connection mid-read (KILL CONNECTION, three times in one run) and cuts it
// through a proxy: the source reconnects and resumes after the last row it
// read, and the run lands everything.
func TestFaultsSourceOutageMySQLIntegration(t *testing.T) {
	skipShort(t)
	t.Run("KILL CONNECTION mid-read", func(t *testing.T) {
		outage(t)
		dsn := mysqltest.DSN(t)
		whURL := pgtest.URL(t)
		f := mysqlFeed(t, dsn)
		ds := newDataset(pick(20000, 60000), time.Microsecond*17, 12)
		f.publish(t, ds, ds.sorted())
		tg := openTarget(t, whURL, f.table, f.name)
		run := etl{args: []string{"run", f.file, "--log-level", "debug"}, env: f.envFor(whURL)}

		cfg, err := gomysql.ParseDSN(dsn)
		require.NoError(t, err)
		admin := mysqltest.Open(t, mysqltest.ServerConfig(t).FormatDSN())
		wait := run.start(t)
		var killed atomic.Int64
		stop := make(chan struct{})
		go func() {
			for killed.Load() < 3 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID() AND command = 'Query'", cfg.DBName)
				if err != nil {
					continue
				}
				var ids []int64
				for rows.Next() {
					var id int64
					if rows.Scan(&id) == nil {
						ids = append(ids, id)
					}
				}
				rows.Close()
				for _, id := range ids {
					if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
						killed.Add(1)
					}
				}
			}
		}()
		res := wait(0)
		close(stop)
		require.Equal(t, 0, res.code, "%s", res)
		require.Positive(t, killed.Load(), "no connection was killed mid-read; the test proves nothing")
		assert.Contains(t, res.stderr, "mysql connection lost; retrying")
		got, dup := tg.rows(t)
		d := compare(ds, got, dup)
		assert.True(t, d.clean(), "%s", d)
		tally.lost.Add(int64(d.missing + d.stale))
		tally.duplicated.Add(int64(d.extra + d.dup))
		t.Logf("%d connections killed; run took %s", killed.Load(), res.took.Round(time.Millisecond))
	})
	t.Run("connection cut through a proxy", func(t *testing.T) {
		outage(t)
		dsn := mysqltest.DSN(t)
		whURL := pgtest.URL(t)
		f := mysqlFeed(t, dsn)
		ds := newDataset(pick(20000, 60000), time.Microsecond*17, 13)
		f.publish(t, ds, ds.sorted())
		cfg, err := gomysql.ParseDSN(dsn)
		require.NoError(t, err)
		pr := newProxy(t, cfg.Addr)
		cfg.Addr = pr.Addr()
		f.env = []string{"FAULTS_MYSQL_DSN=" + cfg.FormatDSN()}
		tg := openTarget(t, whURL, f.table, f.name)
		run := etl{args: []string{"run", f.file}, env: f.envFor(whURL)}

		wait := run.start(t)
		waitFor(t, 30*time.Second, "the source to connect", func() bool { return pr.Conns() > 0 })
		time.Sleep(20 * time.Millisecond)
		pr.Cut()
		time.Sleep(1500 * time.Millisecond)
		pr.Restore()
		res := wait(0)
		require.Equal(t, 0, res.code, "%s", res)
		got, dup := tg.rows(t)
		d := compare(ds, got, dup)
		assert.True(t, d.clean(), "%s", d)
		tally.lost.Add(int64(d.missing + d.stale))
		tally.duplicated.Add(int64(d.extra + d.dup))
		t.Logf("run took %s: %s", res.took.Round(time.Millisecond), firstLine(res.stderr))
	})
}
