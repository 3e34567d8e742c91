package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sources/csv"
)

// TestProfile runs the case pipeline in this process, so that go test can
// profile it and time the sink's Writes (etl run --cpuprofile gives the
// binary's CPU profile alone). It is skipped unless
// ETL_BENCH_PROFILE says what to run:
//
//	load       the file into an empty table (case 1)
//	unchanged  the file onto the full table (case 2a); psql fills the table
//	           first, outside this process and so outside the profile
//	changed    the file with 10% of rows changed onto the full table (case 2b)
//	dry        read, map and check only (etl run --dry-run)
//
// ETL_BENCH_HEAP=file writes a heap profile halfway through the run.
// ETL_BENCH_ROWS (default 1000000), ETL_BENCH_BATCH (default the engine's batch_size) and
// ETL_BENCH_PG (default the bench's --pg) adjust it. For example:
//
//	ETL_BENCH_PROFILE=load go test ./bench -run TestProfile -count 1 -v -cpuprofile cpu.out
//	go tool pprof -top bench.test cpu.out
//
// Besides the profile it logs where the wall time went: in the sink's Write
// (COPY, INSERT … ON CONFLICT, commit — the server's work included) or
// outside it, the Go process's CPU time, and the CPU time of the PostgreSQL
// backends that served the run.
func TestProfile(t *testing.T) {
	mode := os.Getenv("ETL_BENCH_PROFILE")
	if mode == "" {
		t.Skip("set ETL_BENCH_PROFILE=load, unchanged, changed or dry to run the case pipeline in-process")
	}
	rows := envInt(t, "ETL_BENCH_ROWS", 1_000_000)
	batch := envInt(t, "ETL_BENCH_BATCH", engine.DefaultBatchSize)
	pg := os.Getenv("ETL_BENCH_PG")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test"
	}
	ctx := context.Background()
	root, err := moduleRoot()
	require.NoError(t, err)
	b := &bench{
		opts: options{rows: rows, batch: batch, pg: pg},
		root: root,
		data: filepath.Join(root, "bench", "data"),
	}
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	b.whURL = pg + sep + "search_path=" + schema + "&application_name=etl_bench_profile"
	require.NoError(t, os.MkdirAll(b.data, 0o755))
	file := filepath.Join(b.data, "contacts_"+strconv.Itoa(rows)+".csv")
	if _, err := os.Stat(file); err != nil {
		require.NoError(t, writeContacts(file, rows, 7, false))
	}
	source := file
	if mode == "changed" {
		source = filepath.Join(b.data, "contacts_"+strconv.Itoa(rows)+"_changed.csv")
		if _, err := os.Stat(source); err != nil {
			require.NoError(t, writeContacts(source, rows, 7, true))
		}
	}
	pipeline, err := b.pipeline(source, etlTable, "_profile")
	require.NoError(t, err)

	if mode != "dry" {
		require.NoError(t, b.psql(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema))
		defer func() { require.NoError(t, b.psql(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")) }()
		require.NoError(t, b.resetTables(ctx, etlTable))
	}
	switch mode {
	case "load", "dry":
	case "unchanged", "changed":
		// The values etl would land: psql loads the file, then the columns
		// the map normalizes are normalized the same way in SQL.
		require.NoError(t, b.measurePsql(ctx, &result{}, upsertSQL, file, etlTable))
		require.NoError(t, b.psql(ctx, `UPDATE `+etlTable+` SET email = lower(email), first_name = trim(first_name),
			phone = regexp_replace(phone, '[^0-9]', '', 'g')`))
		require.NoError(t, b.psql(ctx, "VACUUM ANALYZE "+etlTable))
		require.NoError(t, b.psql(ctx, "CHECKPOINT"))
	default:
		t.Fatalf("ETL_BENCH_PROFILE=%q: use load, unchanged, changed or dry", mode)
	}

	reg := engine.NewRegistry()
	csv.Register(reg)
	var timed *timedWarehouse
	reg.RegisterSink(engine.SinkDriver{Name: "postgres", Schemes: []string{"postgres", "postgresql"},
		Open: func(ctx context.Context, url string) (engine.Warehouse, error) {
			w, err := postgres.Open(ctx, url)
			if err != nil {
				return nil, err
			}
			timed = &timedWarehouse{Warehouse: w}
			return timed, nil
		}})
	p, diags := engine.NewLoader(reg).Load(pipeline)
	require.False(t, diags.HasErrors(), diags.Error())

	backends := watchBackends(ctx, t, pg)
	var before, after syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &before))
	start := time.Now()
	opts := engine.RunOptions{DryRun: mode == "dry", WarehouseURL: b.whURL}
	if heap := os.Getenv("ETL_BENCH_HEAP"); heap != "" {
		// A heap profile halfway through the run: what the run holds on to.
		opts.Progress = func(pr engine.Progress) {
			if pr.Tally.Processed < int64(rows/2) || pr.Tally.Processed-int64(batch) >= int64(rows/2) {
				return
			}
			f, err := os.Create(heap)
			require.NoError(t, err)
			defer f.Close()
			runtime.GC()
			require.NoError(t, pprof.WriteHeapProfile(f))
		}
	}
	res, err := p.Run(ctx, reg, opts)
	wall := time.Since(start)
	require.NoError(t, err)
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	serverCPU := backends()

	goCPU := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	t.Logf("%s: %d rows, batch %d: %v wall, %.0f rows/s; Go CPU %v; %+v",
		mode, rows, batch, wall.Round(time.Millisecond), float64(rows)/wall.Seconds(), goCPU.Round(time.Millisecond), res.Tally)
	if timed != nil {
		t.Logf("sink Write: %d calls, %v in all (%.0f%% of wall), %v a call; outside Write %v",
			timed.calls, timed.total.Round(time.Millisecond), 100*timed.total.Seconds()/wall.Seconds(),
			(timed.total / time.Duration(max(timed.calls, 1))).Round(time.Microsecond), (wall - timed.total).Round(time.Millisecond))
		t.Logf("PostgreSQL backends of this run: %v CPU (%.0f%% of wall)", serverCPU.Round(time.Millisecond), 100*serverCPU.Seconds()/wall.Seconds())
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, name)
	return n
}

// timedWarehouse adds up the time the engine spends in Write. The engine
// calls Write from one goroutine.
type timedWarehouse struct {
	engine.Warehouse
	calls int
	total time.Duration
}

func (w *timedWarehouse) Write(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	start := time.Now()
	c, err := w.Warehouse.Write(ctx, t, b)
	w.total += time.Since(start)
	w.calls++
	return c, err
}

// watchBackends polls, every 100 ms until the returned function is called,
// the PostgreSQL backends whose application_name is etl_bench_profile, and
// reads their CPU time from /proc (the server runs on this machine). The
// function returns the CPU time they used in all.
func watchBackends(ctx context.Context, t *testing.T, pg string) func() time.Duration {
	conn, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	hz := 100.0 // USER_HZ on Linux
	var mu sync.Mutex
	cpu := map[int]time.Duration{} // pid → CPU time last seen
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer conn.Close(context.Background())
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'etl_bench_profile'`)
			if err == nil {
				pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
				mu.Lock()
				for _, pid := range pids {
					stat, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
					if err != nil {
						continue
					}
					// utime and stime are fields 14 and 15; the command, field 2,
					// is in parentheses and may hold spaces.
					f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
					ut, _ := strconv.ParseFloat(f[11], 64)
					st, _ := strconv.ParseFloat(f[12], 64)
					cpu[int(pid)] = time.Duration((ut + st) / hz * float64(time.Second))
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() time.Duration {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		var sum time.Duration
		for _, d := range cpu {
			sum += d
		}
		return sum
	}
}
