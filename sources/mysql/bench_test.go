package mysql_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
	"github.com/etl-dev/etl/internal/pgtest"
)

// BenchmarkCopy1M copies a 1,000,000-row table from MariaDB into PostgreSQL
// with the etl binary (built for the benchmark, so its GC settings and its
// process's peak memory are what a user gets), and the same rows with
// `mariadb --batch … | psql -c '\copy …'`, one after the other in each
// iteration, and prints both. It needs ETL_BENCH_MYSQL=1 (it seeds a
// million rows):
//
//	ETL_BENCH_MYSQL=1 go test ./sources/mysql/ -run '^$' -bench Copy1M -benchtime 3x
//
// ETL_BENCH_MODE=append measures the sink's append mode instead of upsert;
// ETL_BENCH_CPUPROFILE=file profiles the last run (etl run --cpuprofile).
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
	dir := b.TempDir()
	etl := filepath.Join(dir, "etl")
	if out, err := exec.Command("go", "build", "-o", etl, "github.com/etl-dev/etl/cmd/etl").CombinedOutput(); err != nil {
		b.Fatalf("build etl: %v\n%s", err, out)
	}

	mode := os.Getenv("ETL_BENCH_MODE") // the sink's mode; upsert by default
	if mode == "" {
		mode = "upsert"
	}
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		table := fmt.Sprintf("bench_etl_%d", i)
		file := filepath.Join(dir, table+".hcl")
		require.NoError(b, os.WriteFile(file, []byte(fmt.Sprintf(`pipeline "bench_%d" {
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
}`, i, table, mode)), 0o644))

		// Read and map only, to tell the source's share from the sink's.
		dry, err := runETL(ctx, etl, dsn, "run", file, "--dry-run")
		require.NoError(b, err)

		args := []string{"run", file, "--warehouse", pgURL}
		if p := os.Getenv("ETL_BENCH_CPUPROFILE"); p != "" {
			args = append(args, "--cpuprofile", p)
		}
		run, err := runETL(ctx, etl, dsn, args...)
		require.NoError(b, err)
		require.Contains(b, run.out, fmt.Sprintf("processed %d = created %d + updated 0", rows, rows))

		pipeTime, err := pipe(ctx, dsn, pgURL, schema, fmt.Sprintf("bench_pipe_%d", i))
		require.NoError(b, err)
		ratio := run.wall.Seconds() / pipeTime.Seconds()
		ratios = append(ratios, ratio)
		b.ReportMetric(float64(rows)/run.wall.Seconds(), "rows/s")
		b.ReportMetric(float64(run.maxRSS)/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(rows)/pipeTime.Seconds(), "pipe-rows/s")
		b.ReportMetric(ratio, "x-pipe")
		b.Logf("etl run: %s (%.0f rows/s, peak RSS %.0f MB, CPU %s); --dry-run (read + map): %s (peak RSS %.0f MB); mariadb --batch | psql \\copy: %s (%.0f rows/s); etl/pipe %.2f",
			run.wall.Round(time.Millisecond), float64(rows)/run.wall.Seconds(), float64(run.maxRSS)/(1<<20), run.cpu.Round(time.Millisecond),
			dry.wall.Round(time.Millisecond), float64(dry.maxRSS)/(1<<20), pipeTime.Round(time.Millisecond), float64(rows)/pipeTime.Seconds(), ratio)
	}
	slices.Sort(ratios)
	b.Logf("etl/pipe: median %.2f of %d (target ≤ 1.5)", ratios[len(ratios)/2], len(ratios))
}

// etlRun is what one etl process took.
type etlRun struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	out       string
}

// runETL runs the etl binary with BENCH_DSN set to dsn.
func runETL(ctx context.Context, etl, dsn string, args ...string) (etlRun, error) {
	cmd := exec.CommandContext(ctx, etl, args...)
	cmd.Env = append(os.Environ(), "BENCH_DSN="+dsn)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := etlRun{wall: time.Since(start), out: stdout.String()}
	if err != nil {
		return r, fmt.Errorf("etl %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
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
