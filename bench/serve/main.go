// Command serve measures etl serve's scheduling overhead: with --pipelines
// trivial pipelines (a one-row CSV each) on one schedule, the time from each
// tick to its run's start, on one and on three processes.
//
//	go run ./bench/serve                      # 100 pipelines, @every 10s, 3 ticks, 1 and 3 processes
//	go run ./bench/serve --procs 3 --ticks 5  # only three processes, more ticks
//
// It builds etl once, works in a fresh schema of --pg (dropped at the end),
// starts the processes, waits until --ticks ticks of every pipeline have
// run, stops them with SIGTERM and reads everything from the sync history:
// a run's start (started_at, taken once the pipeline's lock is held) minus
// its tick (the fire time the run's job carries). It prints the median,
// p90, p99 and max of those delays, the runs counted and the 1-minute load
// average.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server")
	pipelines := flag.Int("pipelines", 100, "trivial pipelines on the one schedule")
	every := flag.Duration("every", 10*time.Second, "the schedule: @every this")
	ticks := flag.Int("ticks", 3, "ticks of every pipeline to measure (the first, a catch-up on start, is left out)")
	procsFlag := flag.String("procs", "1,3", "process counts to measure, comma-separated")
	workers := flag.Int("workers", 10, "--workers of each process")
	flag.Parse()
	if err := run(*pg, *pipelines, *every, *ticks, *procsFlag, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

func run(pg string, n int, every time.Duration, ticks int, procsFlag string, workers int) error {
	tmp, err := os.MkdirTemp("", "etl-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "etl")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/etl").CombinedOutput(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "pipelines")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "one.csv"), []byte("id\n1\n"), 0o644); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		hcl := fmt.Sprintf(`pipeline "p%03d" {
  system   = "bench"
  entity   = "p%03d"
  schedule = "@every %s"
  source "csv" {
    path = "one.csv"
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "t%03d"
    key   = ["id"]
  }
}
`, i, i, every, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%03d.hcl", i)), []byte(hcl), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("scheduling overhead: %d trivial pipelines on @every %s, %d ticks each, --workers %d per process\n", n, every, ticks, workers)
	fmt.Printf("%-10s %8s %10s %10s %10s %10s %8s\n", "processes", "runs", "median", "p90", "p99", "max", "load1")
	for _, f := range strings.Split(procsFlag, ",") {
		var procs int
		if _, err := fmt.Sscan(f, &procs); err != nil || procs < 1 {
			return fmt.Errorf("--procs %q: give counts such as 1,3", procsFlag)
		}
		load := loadAvg()
		d, err := measure(pg, bin, dir, n, ticks, procs, workers)
		if err != nil {
			return err
		}
		fmt.Printf("%-10d %8d %10s %10s %10s %10s %8s\n", procs, len(d), pct(d, 50), pct(d, 90), pct(d, 99), pct(d, 100), load)
	}
	return nil
}

func measure(pg, bin, dir string, n, ticks, procs, workers int) ([]time.Duration, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("etl_bench_serve_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, err
	}
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	url := pg + sep + "search_path=" + schema

	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}()
	for i := 0; i < procs; i++ {
		c := exec.Command(bin, "serve", dir, "--listen", "127.0.0.1:0", "--warehouse", url, "--workers", fmt.Sprint(workers), "--log-level", "warn")
		out, err := c.StdoutPipe()
		if err != nil {
			return nil, err
		}
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
		s := bufio.NewScanner(out)
		for s.Scan() && !strings.Contains(s.Text(), "listening on") {
		}
		go func() {
			for s.Scan() {
			}
		}()
	}
	// Wait for ticks+1 ticks of every pipeline to have run: the first is
	// the catch-up a new leader enqueues at once, not a tick on time.
	q := fmt.Sprintf(`SELECT count(*) FROM %s.etl_sync_history WHERE status = 'success'`, schema)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var done int
		if err := conn.QueryRow(ctx, q).Scan(&done); err == nil && done >= n*(ticks+1) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d processes: the runs did not finish within 10 minutes", procs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT pipeline, started_at, performance_metrics::text FROM %s.etl_sync_history WHERE status = 'success'`, schema))
	if err != nil {
		return nil, err
	}
	type run struct {
		pipeline string
		tick     time.Time
		delay    time.Duration
	}
	var runs []run
	for rows.Next() {
		var r run
		var started time.Time
		var metrics string
		if err := rows.Scan(&r.pipeline, &started, &metrics); err != nil {
			return nil, err
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(metrics), &m)
		tick, _ := m["tick"].(string)
		if r.tick, err = time.Parse(time.RFC3339, tick); err != nil {
			continue
		}
		r.delay = started.Sub(r.tick)
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	first := map[string]time.Time{}
	for _, r := range runs {
		if f, ok := first[r.pipeline]; !ok || r.tick.Before(f) {
			first[r.pipeline] = r.tick
		}
	}
	var d []time.Duration
	for _, r := range runs {
		if r.tick.After(first[r.pipeline]) {
			d = append(d, r.delay)
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d, nil
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	i := (len(d)*p + 99) / 100
	i = min(max(i-1, 0), len(d)-1)
	return d[i].Round(time.Millisecond).String()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
