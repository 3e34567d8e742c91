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
// restarted): cut for good, the run fails cleanly, the cursor consistent
// with the data, and the rerun finishes with the target equal to the
// source; cut for a moment, the run finishes or fails cleanly, and so on.
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
			run := etl{args: []string{"run", f.file}, env: f.envFor(viaURL)}

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
			if res.code != 0 {
				assert.Equal(t, 1, res.code, "%s", res)
				assert.Contains(t, res.stderr, "faults_rest failed:", "%s", res)
			}
			cur, saved := tg.cursor(t)
			got, _ := tg.rows(t)
			assert.NoError(t, cursorConsistent(ds, got, cur, saved))
			t.Logf("%s: exit %d after %s; %d of %d rows had landed; %s", tt.name, res.code, res.took.Round(time.Millisecond), len(got), len(ds.rows), firstLine(res.stderr))

			pr.Restore()
			settle(t, run, tg, ds)
			assert.Equal(t, int64(1), tg.count(t, "SELECT count(*) FROM etl_sync_history WHERE status = 'success'"), "only the rerun succeeded")
		})
	}
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
