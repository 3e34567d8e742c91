package mysql_test

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
)

// BenchmarkCopy1M copies a 1,000,000-row table from MariaDB into PostgreSQL
// through the engine, and the same rows through
// `mariadb --batch … | psql -c '\copy …'`, and prints both. It needs
// ETL_BENCH_MYSQL=1 (it seeds a million rows) and runs once per iteration:
//
//	ETL_BENCH_MYSQL=1 go test ./sources/mysql/ -run '^$' -bench Copy1M -benchtime 1x
//
// ETL_BENCH_MODE=append measures the sink's append mode instead of upsert.
func BenchmarkCopy1M(b *testing.B) {
	if os.Getenv("ETL_BENCH_MYSQL") != "1" {
		b.Skip("set ETL_BENCH_MYSQL=1 to copy a million rows")
	}
	const rows = 1_000_000
	dsn := mysqltest.DSN(b)
	mysqltest.Exec(b, dsn, `
		CREATE TABLE bench (
			id         INT PRIMARY KEY,
			email      VARCHAR(100),
			name       VARCHAR(100),
			amount     DECIMAL(12,2),
			active     TINYINT(1),
			created_at DATETIME,
			updated_at DATETIME,
			KEY bench_updated (updated_at)
		);
		INSERT INTO bench
		SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('Name ', seq), seq / 100, seq % 2,
		       '2024-01-01 00:00:00' + INTERVAL seq SECOND, '2024-06-01 00:00:00' + INTERVAL (seq DIV 7) SECOND
		FROM seq_1_to_1000000;`)
	pgURL := pgtest.URL(b)
	schema := pgtest.Schema(b, pgURL)
	ctx := context.Background()
	reg := registry()

	mode := os.Getenv("ETL_BENCH_MODE") // the sink's mode; upsert by default
	if mode == "" {
		mode = "upsert"
	}
	for i := 0; b.Loop(); i++ {
		// The engine.
		table := fmt.Sprintf("bench_etl_%d", i)
		pipeline := fmt.Sprintf(`pipeline "bench" {
  system     = "bench"
  entity     = "bench"
  batch_size = 10000
  source "mysql" {
    dsn                = env("BENCH_DSN")
    table              = "bench"
    key                = ["id"]
    incremental_column = "updated_at"
    page_size          = 10000
  }
  incremental {
    cursor = "updated_at"
  }
  map {
    id         = "int(record.id)"
    email      = "record.email"
    name       = "record.name"
    amount     = "decimal(record.amount)"
    active     = "bool(record.active)"
    created_at = "timestamp(record.created_at)"
    updated_at = "timestamp(record.updated_at)"
  }
  sink "warehouse" {
    table = %q
    key   = ["id"]
    mode  = %q
  }
}`, table, mode)
		l := engine.NewLoader(reg)
		l.LookupEnv = func(string) (string, bool) { return dsn, true }
		p, diags := l.LoadSource("bench.hcl", []byte(pipeline))
		require.False(b, diags.HasErrors(), diags.Error())

		// Read and map only, to tell the source's share from the sink's.
		start := time.Now()
		res, err := p.Run(ctx, reg, engine.RunOptions{DryRun: true})
		require.NoError(b, err)
		require.Equal(b, int64(rows), res.Valid)
		dryTime := time.Since(start)

		peak, stop := samplePeakMemory()
		start = time.Now()
		res, err = p.Run(ctx, reg, engine.RunOptions{WarehouseURL: pgURL})
		engineTime := time.Since(start)
		stop()
		require.NoError(b, err)
		require.Equal(b, int64(rows), res.Tally.Created)

		// The pipe.
		pipeTime, err := pipe(ctx, dsn, pgURL, schema, fmt.Sprintf("bench_pipe_%d", i))
		if err != nil {
			b.Logf("pipe: %v", err)
		}
		b.ReportMetric(float64(rows)/engineTime.Seconds(), "rows/s")
		b.ReportMetric(float64(*peak)/(1<<20), "peak-MB")
		if pipeTime > 0 {
			b.ReportMetric(float64(rows)/pipeTime.Seconds(), "pipe-rows/s")
			b.ReportMetric(engineTime.Seconds()/pipeTime.Seconds(), "x-pipe")
		}
		b.Logf("engine: %s (%.0f rows/s, peak Go memory %.0f MB, VmHWM %s); dry run (read + map): %s; mariadb --batch | psql \\copy: %s (%.0f rows/s)",
			engineTime.Round(time.Millisecond), float64(rows)/engineTime.Seconds(), float64(*peak)/(1<<20), vmHWM(),
			dryTime.Round(time.Millisecond), pipeTime.Round(time.Millisecond), float64(rows)/pipeTime.Seconds())
	}
}

// pipe copies the bench table with the command-line clients and returns
// how long it took.
func pipe(ctx context.Context, dsn, pgURL, schema, table string) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return 0, err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s.%s (id bigint PRIMARY KEY, email text, name text, amount numeric,
		active boolean, created_at timestamptz, updated_at timestamptz)`, schema, table))
	conn.Close(ctx)
	if err != nil {
		return 0, err
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return 0, err
	}
	host, port, _ := strings.Cut(cfg.Addr, ":")
	u, err := url.Parse(pgURL)
	if err != nil {
		return 0, err
	}
	u.RawQuery = "sslmode=disable"
	script := fmt.Sprintf(`mariadb --batch --skip-column-names -h %s -P %s -u %s %s -e 'SELECT id, email, name, amount, active = 1, CONCAT(created_at, "+00"), CONCAT(updated_at, "+00") FROM bench' | psql -q %q -c '\copy %s.%s from stdin'`,
		host, port, cfg.User, cfg.DBName, u.String(), schema, table)
	start := time.Now()
	out, err := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, out)
	}
	return time.Since(start), nil
}

// samplePeakMemory samples the memory the Go runtime holds from the OS
// until stop is called.
func samplePeakMemory() (*uint64, func()) {
	var peak uint64
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for !done.Load() {
			runtime.ReadMemStats(&ms)
			if ms.Sys-ms.HeapReleased > peak {
				peak = ms.Sys - ms.HeapReleased
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return &peak, func() { done.Store(true); <-finished }
}

// vmHWM is the process's peak resident set size, from /proc.
func vmHWM() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
