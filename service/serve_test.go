package service_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/etl-dev/etl/internal/pgtest"
)

// etlBin is the etl binary, built once for every test of the package.
var etlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "etl-serve-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	etlBin = filepath.Join(dir, "etl")
	if out, err := exec.Command("go", "build", "-o", etlBin, "../cmd/etl").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// csvPipeline writes pipeline name reading name.csv of rows rows into
// table t_name, on schedule (none when empty), with extra attributes.
func csvPipeline(t *testing.T, dir, name string, rows int, schedule, extra string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "%d,%s-%d\n", i, name, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".csv"), []byte(b.String()), 0o644))
	sched := ""
	if schedule != "" {
		sched = fmt.Sprintf("schedule = %q", schedule)
	}
	hcl := fmt.Sprintf(`pipeline %q {
  system = "test"
  entity = %q
  %s
  %s
  source "csv" {
    path = "%s.csv"
  }
  map {
    id   = "int(record.id)"
    name = "record.name"
  }
  sink "warehouse" {
    table = "t_%s"
    key   = ["id"]
  }
}
`, name, name, sched, extra, name, name)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".hcl"), []byte(hcl), 0o644))
}

// serveProc is one running `etl serve`.
type serveProc struct {
	cmd      *exec.Cmd
	addr     string
	clientID string
	mu       sync.Mutex
	stderr   bytes.Buffer
	exited   chan struct{}
	exitErr  error
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct{ p *serveProc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

var clientIDRE = regexp.MustCompile(`client_id=(\S+)`)

// startServe starts `etl serve DIR` on a free loopback port and waits until
// it listens.
func startServe(t *testing.T, dir, warehouse string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{exited: make(chan struct{})}
	p.cmd = exec.Command(etlBin, append([]string{"serve", dir, "--listen", "127.0.0.1:0", "--warehouse", warehouse}, args...)...)
	p.cmd.Stderr = lockedWriter{p}
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if _, a, ok := strings.Cut(s.Text(), "listening on http://"); ok {
				addr <- a
			}
		}
	}()
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("etl serve (pid %d) log:\n%s", p.cmd.Process.Pid, p.log())
		}
	})
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("etl serve exited before listening: %v\n%s", p.exitErr, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("etl serve did not listen within 60s\n%s", p.log())
	}
	waitFor(t, 10*time.Second, "the client id in the log", func() bool {
		m := clientIDRE.FindStringSubmatch(p.log())
		if m != nil {
			p.clientID = m[1]
		}
		return m != nil
	})
	return p
}

// stop sends SIGTERM and waits for the process to exit within limit.
func (p *serveProc) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("etl serve did not exit within %s of SIGTERM", limit)
	}
	assert.NoError(t, p.exitErr, "etl serve exit")
	return time.Since(start)
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (ticks not run: %v)", limit, what, lastMissing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// histRun is a row of etl_sync_history as the tests read it.
type histRun struct {
	ID               int64
	Pipeline         string
	Started, Finshed time.Time
	Status, Error    string
	Processed        int64
	Created          int64
	Updated          int64
	Unchanged        int64
	Rejected, Failed int64
	Skipped          int64
	Job, Tick        string
	Trigger          string
}

func asTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		t, _ := time.Parse(time.RFC3339Nano, x)
		return t
	case []byte:
		t, _ := time.Parse(time.RFC3339Nano, string(x))
		return t
	}
	return time.Time{}
}

func readRuns(t *testing.T, db *sql.DB) []histRun {
	t.Helper()
	rows, err := db.Query(`SELECT id, pipeline, started_at, finished_at, status, error_message,
		processed, created, updated, unchanged, rejected, failed, skipped, performance_metrics
		FROM etl_sync_history ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []histRun
	for rows.Next() {
		var r histRun
		var started, finished, metrics any
		require.NoError(t, rows.Scan(&r.ID, &r.Pipeline, &started, &finished, &r.Status, &r.Error,
			&r.Processed, &r.Created, &r.Updated, &r.Unchanged, &r.Rejected, &r.Failed, &r.Skipped, &metrics))
		r.Started, r.Finshed = asTime(started), asTime(finished)
		var m map[string]any
		var raw []byte
		switch x := metrics.(type) {
		case string:
			raw = []byte(x)
		case []byte:
			raw = x
		}
		require.NoError(t, json.Unmarshal(raw, &m))
		r.Job, _ = m["job"].(string)
		r.Tick, _ = m["tick"].(string)
		r.Trigger, _ = m["trigger"].(string)
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

type tick struct {
	Pipeline   string
	Fire       time.Time
	JobID      int64
	Superseded bool
}

func readTicks(t *testing.T, db *sql.DB) []tick {
	t.Helper()
	rows, err := db.Query(`SELECT pipeline, fire_time, job_id, outcome FROM etl_ticks ORDER BY pipeline, fire_time`)
	require.NoError(t, err)
	defer rows.Close()
	var out []tick
	for rows.Next() {
		var k tick
		var fire any
		var outcome string
		require.NoError(t, rows.Scan(&k.Pipeline, &fire, &k.JobID, &outcome))
		k.Superseded = outcome == "superseded"
		k.Fire = asTime(fire)
		out = append(out, k)
	}
	require.NoError(t, rows.Err())
	return out
}

// ranBefore reports whether every tick fired at or before cutoff has a
// successful run; when not, it logs the first missing one on the last try.
func ranBefore(t *testing.T, db *sql.DB, cutoff time.Time) bool {
	if missing := notRun(t, db, cutoff); len(missing) > 0 {
		lastMissing = missing
		return false
	}
	return true
}

var lastMissing []string

func notRun(t *testing.T, db *sql.DB, cutoff time.Time) []string {
	runs := readRuns(t, db)
	done := map[string]bool{}
	for _, r := range runs {
		if r.Status == "success" && r.Tick != "" {
			done[r.Pipeline+"@"+r.Tick] = true
		}
	}
	var missing []string
	for _, k := range readTicks(t, db) {
		if !k.Fire.After(cutoff) && !k.Superseded && !done[k.Pipeline+"@"+k.Fire.UTC().Format(time.RFC3339)] {
			missing = append(missing, fmt.Sprintf("%s@%s (job %d)", k.Pipeline, k.Fire.UTC().Format(time.RFC3339), k.JobID))
		}
	}
	return missing
}

// checkHistory asserts, from the sync history and etl_ticks alone: every
// tick fired by cutoff ran exactly once, or was superseded (its pipeline
// still ran and a later tick waited) and did not run (one success; any other run of it
// was cut short: interrupted by a kill or stopped by a shutdown), no tick
// ran twice, every scheduled run belongs to a recorded tick, no two runs of
// a pipeline overlapped, each pipeline ticked at least minTicks times, and
// every target table equals its CSV.
func checkHistory(t *testing.T, db *sql.DB, rows map[string]int, cutoff time.Time, minTicks int) (cutShort, superseded int) {
	t.Helper()
	runs := readRuns(t, db)
	ticks := readTicks(t, db)
	type key struct{ pipeline, tick string }
	success := map[key]int{}
	others := map[key]int{}
	for _, r := range runs {
		if r.Trigger != "schedule" {
			continue
		}
		k := key{r.Pipeline, r.Tick}
		switch {
		case r.Status == "success":
			success[k]++
		case r.Status == "failed" && (strings.Contains(r.Error, "interrupted") || strings.Contains(r.Error, "stopped")):
			others[k]++
			cutShort++
		default:
			t.Errorf("run %d of %s (tick %s): unexpected status %s: %s", r.ID, r.Pipeline, r.Tick, r.Status, r.Error)
		}
	}
	perPipeline := map[string]int{}
	known := map[key]bool{}
	for _, k := range ticks {
		perPipeline[k.Pipeline]++
		kk := key{k.Pipeline, k.Fire.UTC().Format(time.RFC3339)}
		known[kk] = true
		assert.NotZero(t, k.JobID, "tick %v has its job", kk)
		switch {
		case k.Superseded:
			superseded++
			assert.Zero(t, success[kk], "superseded tick %s of %s did not run", kk.tick, kk.pipeline)
		case !k.Fire.After(cutoff):
			assert.Equal(t, 1, success[kk], "tick %s of %s ran exactly once", kk.tick, kk.pipeline)
		default:
			assert.LessOrEqual(t, success[kk], 1, "tick %s of %s ran at most once", kk.tick, kk.pipeline)
		}
	}
	for k := range success {
		assert.True(t, known[k], "the run of %s at tick %s belongs to a recorded tick", k.pipeline, k.tick)
	}
	for k := range others {
		assert.True(t, known[k], "the cut-short run of %s at tick %s belongs to a recorded tick", k.pipeline, k.tick)
	}
	for name := range rows {
		assert.GreaterOrEqual(t, perPipeline[name], minTicks, "ticks of %s", name)
	}

	// No overlap: a pipeline's runs, by start, each begin after the last
	// one finished. A run cut short by SIGKILL has no true end time (the
	// next run records it as interrupted when it starts), so it is left out.
	byPipeline := map[string][]histRun{}
	for _, r := range runs {
		if strings.Contains(r.Error, "interrupted") {
			continue
		}
		byPipeline[r.Pipeline] = append(byPipeline[r.Pipeline], r)
	}
	for name, rs := range byPipeline {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Started.Before(rs[j].Started) })
		for i := 1; i < len(rs); i++ {
			require.False(t, rs[i-1].Finshed.IsZero(), "run %d of %s finished", rs[i-1].ID, name)
			assert.False(t, rs[i].Started.Before(rs[i-1].Finshed), "runs %d and %d of %s overlap: %s < %s",
				rs[i-1].ID, rs[i].ID, name, rs[i].Started, rs[i-1].Finshed)
		}
	}

	// Every target equals its source.
	for name, n := range rows {
		var count, distinct, sum int64
		var bad int64
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT count(*), count(DISTINCT id), coalesce(sum(id), 0),
			sum(CASE WHEN name = '%s-' || id THEN 0 ELSE 1 END) FROM t_%s`, name, name)).Scan(&count, &distinct, &sum, &bad))
		assert.Equal(t, int64(n), count, "rows of t_%s", name)
		assert.Equal(t, int64(n), distinct, "distinct ids of t_%s", name)
		assert.Equal(t, int64(n)*int64(n+1)/2, sum, "ids of t_%s", name)
		assert.Zero(t, bad, "names of t_%s", name)
	}
	return cutShort, superseded
}

// TestServeThreeProcessesIntegration runs three `etl serve` processes on
// one PostgreSQL schema with seven pipelines on "@every 2s" for at least 20
// seconds, SIGKILLs the River leader while it runs the slow pipeline, and
// checks from the sync history that every tick ran exactly once, that no
// two runs of a pipeline overlapped, and that every target equals its
// source. The killed job is rescued (after --rescue-after, by the new
// leader) and rerun; the ticks missed while no leader ran are not run, but
// the latest of them is, once.
func TestServeThreeProcessesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three servers for 25 s or more")
	}
	url := pgtest.URL(t)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()

	dir := t.TempDir()
	rows := map[string]int{"slow": 4000}
	csvPipeline(t, dir, "slow", rows["slow"], "@every 2s", "batch_size = 100\n  timeout = \"10s\"")
	for i := 1; i <= 6; i++ {
		name := fmt.Sprintf("p%d", i)
		rows[name] = 50 * i
		csvPipeline(t, dir, name, rows[name], "@every 2s", `timeout = "10s"`)
	}
	start := time.Now()
	var procs []*serveProc
	for i := 0; i < 3; i++ {
		procs = append(procs, startServe(t, dir, url, "--workers", "3", "--rescue-after", "12s", "--grace", "15s"))
	}
	t.Logf("three servers listening after %s", time.Since(start).Round(time.Millisecond))

	// Kill the leader while it runs the slow pipeline: mid-run, and
	// leaderless for a while.
	var victim *serveProc
	waitFor(t, 40*time.Second, "the leader to run the slow pipeline", func() bool {
		var leader, by string
		err := db.QueryRow(`SELECT l.leader_id, j.attempted_by[array_length(j.attempted_by, 1)]
			FROM river_leader l, river_job j
			WHERE j.state = 'running' AND j.args->>'pipeline' = 'slow'
			AND EXISTS (SELECT 1 FROM etl_sync_history h WHERE h.pipeline = 'slow' AND h.status = 'running')`).Scan(&leader, &by)
		if err != nil || leader != by {
			return false
		}
		for _, p := range procs {
			if p.clientID == leader {
				victim = p
			}
		}
		return victim != nil
	})
	var killedJob int64
	require.NoError(t, db.QueryRow(`SELECT id FROM river_job WHERE state = 'running' AND args->>'pipeline' = 'slow'
		AND attempted_by[array_length(attempted_by, 1)] = $1`, victim.clientID).Scan(&killedJob))
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.exited
	t.Logf("killed the leader (pid %d) running job %d at %s", victim.cmd.Process.Pid, killedJob, time.Since(start).Round(time.Millisecond))

	// At least 20 s in all, and the killed job rerun by another process.
	waitFor(t, 60*time.Second, "the killed job to be rescued and rerun", func() bool {
		var state string
		err := db.QueryRow(`SELECT state FROM river_job WHERE id = $1`, killedJob).Scan(&state)
		return err == nil && state == "completed" && time.Since(start) >= 20*time.Second
	})
	t.Logf("the killed job was rerun by %s", time.Since(start).Round(time.Millisecond))
	cutoff := time.Now()
	waitFor(t, 30*time.Second, "every tick so far to have run", func() bool { return ranBefore(t, db, cutoff) })
	t.Logf("every tick so far ran by %s", time.Since(start).Round(time.Millisecond))
	for _, p := range procs {
		if p != victim {
			took := p.stop(t, 25*time.Second)
			t.Logf("pid %d stopped %s after SIGTERM", p.cmd.Process.Pid, took.Round(time.Millisecond))
		}
	}
	cut, superseded := checkHistory(t, db, rows, cutoff, 4)
	t.Logf("%d runs cut short, %d ticks superseded", cut, superseded)
	assert.GreaterOrEqual(t, cut, 1, "the killed run is in the history as interrupted")

	// The rescued job reran the killed tick (one interrupted run and one
	// success carry its job id), unless a later tick superseded it.
	var jobRuns []string
	var killedTick string
	for _, r := range readRuns(t, db) {
		if r.Job == fmt.Sprint(killedJob) {
			jobRuns = append(jobRuns, r.Status)
			killedTick = r.Tick
		}
	}
	wantRuns := []string{"failed", "success"}
	for _, k := range readTicks(t, db) {
		if k.Pipeline == "slow" && k.Fire.UTC().Format(time.RFC3339) == killedTick && k.Superseded {
			wantRuns = []string{"failed"}
		}
	}
	assert.ElementsMatch(t, wantRuns, jobRuns, "runs of the killed job %d", killedJob)
}

// TestServeSQLiteGracefulStop runs one `etl serve` on the embedded SQLite
// default with six pipelines on "@every 1s", stops it with SIGTERM while the
// slow pipeline runs, starts it again, and checks the same: every tick ran
// exactly once, no overlap, every target equals its source. The stopped run
// ended after its current batch ("stopped") within the grace period, and its
// job ran again at once on the next start.
func TestServeSQLiteGracefulStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server for about 10 s")
	}
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(t.TempDir(), "etl.db")
	rows := map[string]int{"slow": 30000}
	csvPipeline(t, dir, "slow", rows["slow"], "@every 1s", "batch_size = 100")
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("p%d", i)
		rows[name] = 40 * i
		csvPipeline(t, dir, name, rows[name], "@every 1s", "")
	}
	p := startServe(t, dir, url, "--workers", "4", "--grace", "20s")
	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite://")+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	start := time.Now()
	waitFor(t, 30*time.Second, "the slow pipeline to be running", func() bool {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM etl_sync_history WHERE pipeline = 'slow' AND status = 'running' AND processed >= 0`).Scan(&n)
		return err == nil && n > 0 && time.Since(start) > 3*time.Second
	})
	took := p.stop(t, 25*time.Second)
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	stopped := 0
	for _, r := range readRuns(t, db) {
		if r.Pipeline == "slow" && strings.Contains(r.Error, "stopped") {
			stopped++
			assert.Less(t, r.Processed, int64(rows["slow"]), "the stopped run ended before the end of the file")
		}
		assert.NotEqual(t, "running", r.Status, "run %d of %s was left running by a graceful stop", r.ID, r.Pipeline)
	}
	assert.Equal(t, 1, stopped, "the run of slow was stopped gracefully")

	p = startServe(t, dir, url, "--workers", "4")
	waitFor(t, 60*time.Second, "five ticks of every pipeline", func() bool {
		n := map[string]int{}
		for _, k := range readTicks(t, db) {
			n[k.Pipeline]++
		}
		for name := range rows {
			if n[name] < 5 {
				return false
			}
		}
		return true
	})
	cutoff := time.Now()
	waitFor(t, 30*time.Second, "every tick so far to have run", func() bool { return ranBefore(t, db, cutoff) })
	p.stop(t, 25*time.Second)
	checkHistory(t, db, rows, cutoff, 5)
}

// readAll reads a response body for assertions.
func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

var _ = context.Background
