// Command bench measures `etl run` side by side with PostgreSQL's own COPY,
// as issue 7 asks, and prints a table of medians.
//
//	go run ./bench                 # cases 1, 2, 4, 5, 6 and 7, 3 runs each
//	go run ./bench --all           # also case 3: 5,000,000 rows
//	go run ./bench --cases 1 --runs 5 --rows 200000
//
// It generates its data (seeded, no downloads) into bench/data/, builds the
// etl binary once, creates the schema etl_bench in the --pg database and
// drops it at the end. Every case runs alternately with its baseline in the
// same process, --runs times, so a noisy machine slows both alike; wall time
// and peak RSS are those of the child process (etl or psql). See
// BENCHMARKS.md for the figures and what limits each case.
//
// The cases:
//
//  1. a 10-column contact CSV upserted by `etl run` into an empty table with
//     a primary key, against psql \copy into a temporary staging table plus one
//     INSERT … ON CONFLICT (and, for reference, a plain \copy into the indexed
//     table and, with --dry, `etl run --dry-run`, which reads, maps and
//     checks only);
//  2. the same file again onto the full table (every row unchanged), and a
//     file with 10% of the rows changed;
//  3. five times the rows, to show that peak RSS stays flat;
//  4. go test -bench BenchmarkTransform ./engine: the per-record map and
//     validate path, in ns and allocations per record;
//  5. a MariaDB table of --rows rows copied into PostgreSQL, against
//     mariadb --batch | psql \copy;
//  6. cases 1 and 2a through a proxy that adds 1 ms each way between the
//     client and PostgreSQL (a warehouse 2 ms away), the baseline too;
//  7. a REST API answering each request after 250 ms, 101 pages, with a
//     budget of 10 requests a second: the share of the budget used, paged
//     by page number and by cursor.
//
// Each line also shows the 1-minute load average when its runs began.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/etl-dev/etl/engine"
)

// schema holds every table the bench creates, the engine's own included; it
// is dropped at the end.
const schema = "etl_bench"

// The three target tables: one for etl, one for the psql upsert baseline,
// one for the plain \copy.
const (
	etlTable   = schema + ".contacts_etl"
	copyTable  = schema + ".contacts_copy"
	plainTable = schema + ".contacts_plain"
)

// tableDDL is the target table, as etl would create it from the pipeline's
// map: a column per map entry, typed from its function, and the key.
const tableDDL = `CREATE TABLE %s (
	id bigint, email text, first_name text, last_name text, phone text, company text,
	stage text, created_at timestamptz, updated_at timestamptz, amount numeric,
	PRIMARY KEY (id))`

// pipelineHCL is the case pipeline: a realistic map (email, phone, two
// timestamps, a decimal, trims) and two checks, upserted on id. %[1]s is the
// CSV file, %[2]d the batch size, %[3]s the table.
const pipelineHCL = `pipeline "bench_contacts" {
  system     = "bench"
  entity     = "contacts"
  batch_size = %[2]d

  source "csv" {
    path = %[1]q
  }

  map {
    id         = "int(record.id)"
    email      = "email(record.email)"
    first_name = "trim(record.first_name)"
    last_name  = "trim(record.last_name)"
    phone      = "phone(record.phone)"
    company    = "trim(record.company)"
    stage      = "lower(trim(record.stage))"
    created_at = "timestamp(record.created_at)"
    updated_at = "timestamp(record.updated_at)"
    amount     = "decimal(record.amount)"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "contact has no email"
  }

  validate "amount_not_negative" {
    check   = "amount == nil || amount >= 0"
    message = "amount is negative"
  }

  sink "postgres" {
    table = %[3]q
    key   = ["id"]
    mode  = "upsert"
  }
}
`

// upsertSQL is the baseline: COPY into a temporary staging table, then the
// same INSERT … ON CONFLICT … WHERE … IS DISTINCT FROM the sink runs, in one
// statement. %[1]s is the CSV file, %[2]s the table.
const upsertSQL = `CREATE TEMP TABLE staging (LIKE %[2]s);
\copy staging FROM '%[1]s' WITH (FORMAT csv, HEADER true)
INSERT INTO %[2]s AS t SELECT * FROM staging
ON CONFLICT (id) DO UPDATE SET
	email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
	phone = EXCLUDED.phone, company = EXCLUDED.company, stage = EXCLUDED.stage,
	created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, amount = EXCLUDED.amount
WHERE ROW(t.email, t.first_name, t.last_name, t.phone, t.company, t.stage, t.created_at, t.updated_at, t.amount)
	IS DISTINCT FROM ROW(EXCLUDED.email, EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.phone,
		EXCLUDED.company, EXCLUDED.stage, EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.amount);
`

// plainSQL is a plain \copy into the indexed table: the floor.
const plainSQL = `\copy %[2]s FROM '%[1]s' WITH (FORMAT csv, HEADER true)
`

type options struct {
	myHost, myPort, myUser string // case 5's MariaDB
	myBatch                int    // case 5's batch_size and page_size
	rows                   int
	runs                   int
	batch                  int
	seed                   uint64
	cases                  map[int]bool
	pg                     string
	keepData               bool
	dry                    bool
}

func main() {
	var opts options
	var cases string
	var all bool
	flag.IntVar(&opts.rows, "rows", 1_000_000, "rows in the case 1 and 2 file (case 3 uses 5×)")
	flag.IntVar(&opts.runs, "runs", 3, "runs of each case and of its baseline, alternating")
	flag.IntVar(&opts.batch, "batch-size", engine.DefaultBatchSize, "the pipeline's batch_size (default the engine's)")
	flag.Uint64Var(&opts.seed, "seed", 7, "seed of the generated data")
	flag.StringVar(&cases, "cases", "1,2,4,5,6,7", "comma-separated cases to run: 1 to 7")
	var mysql string
	flag.StringVar(&mysql, "mysql", "root@127.0.0.1:3306", "case 5's MariaDB, user@host:port (no password); the bench creates and drops the database "+mysqlDatabase)
	flag.IntVar(&opts.myBatch, "mysql-batch", 5000, "case 5's batch_size and page_size")
	flag.BoolVar(&all, "all", false, "run every case, 3 (5× the rows) included")
	flag.StringVar(&opts.pg, "pg", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL URL; the bench creates and drops the schema "+schema+" there")
	flag.BoolVar(&opts.keepData, "keep-data", false, "keep the generated files and the etl binary in bench/data")
	flag.BoolVar(&opts.dry, "dry", false, "case 1 also times etl run --dry-run (read, map and check only)")
	flag.Parse()
	if all {
		cases = "1,2,3,4,5,6,7"
	}
	user, hostPort, _ := strings.Cut(mysql, "@")
	opts.myUser = user
	opts.myHost, opts.myPort, _ = strings.Cut(hostPort, ":")
	opts.cases = map[int]bool{}
	for _, c := range strings.Split(cases, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 7 {
			fmt.Fprintf(os.Stderr, "bench: --cases %q: list case numbers 1 to 7, e.g. 1,2,4\n", cases)
			os.Exit(2)
		}
		opts.cases[n] = true
	}
	if opts.rows < 10 || opts.runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: --rows must be at least 10 and --runs at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// bench is one bench run's state.
type bench struct {
	opts    options
	root    string // the module root
	data    string // bench/data
	etl     string // the built binary
	whURL   string // the warehouse URL etl runs with: --pg in schema etl_bench
	results []*result
}

// result is the measurements of one line of the table.
type result struct {
	label    string
	rows     int
	ms       []measurement
	baseline *result // nil: this is a baseline or a reference
	counts   func(measurement) string
	extra    func(measurement) string // more about the last run
}

// measurement is one run of a child process.
type measurement struct {
	wall     time.Duration
	cpu      time.Duration // user + system time of the child
	maxRSS   int64         // bytes
	stdout   string
	load     float64 // the 1-minute load average when it began
	requests int64   // case 7: requests the API served
}

func run(ctx context.Context, opts options) error {
	started := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	b := &bench{opts: opts, root: root, data: filepath.Join(root, "bench", "data")}
	sep := "?"
	if strings.Contains(opts.pg, "?") {
		sep = "&"
	}
	b.whURL = opts.pg + sep + "search_path=" + schema
	if err := os.MkdirAll(b.data, 0o755); err != nil {
		return err
	}
	defer func() {
		if !opts.keepData {
			os.RemoveAll(b.data) // generated files only; gitignored
		}
	}()

	// Data: the file, the same file with 10% of rows changed, and case 3's 5×.
	file := filepath.Join(b.data, fmt.Sprintf("contacts_%d.csv", opts.rows))
	changedFile := filepath.Join(b.data, fmt.Sprintf("contacts_%d_changed.csv", opts.rows))
	bigFile := filepath.Join(b.data, fmt.Sprintf("contacts_%d.csv", 5*opts.rows))
	type dataFile struct {
		path    string
		rows    int
		changed bool
	}
	var files []dataFile
	if opts.cases[1] || opts.cases[2] || opts.cases[6] {
		files = append(files, dataFile{file, opts.rows, false})
	}
	if opts.cases[2] {
		files = append(files, dataFile{changedFile, opts.rows, true})
	}
	if opts.cases[3] {
		files = append(files, dataFile{bigFile, 5 * opts.rows, false})
	}
	for _, f := range files {
		t := time.Now()
		if err := writeContacts(f.path, f.rows, opts.seed, f.changed); err != nil {
			return fmt.Errorf("generate %s: %w", f.path, err)
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return err
		}
		fmt.Printf("generated %s: %d rows, %.0f MB in %v\n", rel(root, f.path), f.rows, float64(st.Size())/1e6, time.Since(t).Round(time.Millisecond))
	}

	if opts.cases[1] || opts.cases[2] || opts.cases[3] || opts.cases[5] || opts.cases[6] || opts.cases[7] {
		b.etl = filepath.Join(b.data, "etl")
		fmt.Printf("building %s\n", rel(root, b.etl))
		build := exec.CommandContext(ctx, "go", "build", "-o", b.etl, "./cmd/etl")
		build.Dir = root
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/etl: %w", err)
		}

		if err := b.psql(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
			return fmt.Errorf("create schema %s: %w (is PostgreSQL at --pg reachable?)", schema, err)
		}
		defer func() {
			if err := b.psql(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
				fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", schema, err)
			}
		}()
	}

	full := false // the etl and copy tables hold the original file
	if opts.cases[1] {
		if err := b.case1(ctx, file); err != nil {
			return fmt.Errorf("case 1: %w", err)
		}
		full = true
	}
	if opts.cases[2] {
		if err := b.case2(ctx, file, changedFile, full); err != nil {
			return fmt.Errorf("case 2: %w", err)
		}
	}
	if opts.cases[3] {
		if err := b.case3(ctx, bigFile); err != nil {
			return fmt.Errorf("case 3: %w", err)
		}
	}
	if opts.cases[5] {
		if err := b.case5(ctx); err != nil {
			return fmt.Errorf("case 5: %w", err)
		}
	}
	if opts.cases[6] {
		if err := b.case6(ctx, file); err != nil {
			return fmt.Errorf("case 6: %w", err)
		}
	}
	if opts.cases[7] {
		if err := b.case7(ctx); err != nil {
			return fmt.Errorf("case 7: %w", err)
		}
	}
	b.print()
	if opts.cases[4] {
		if err := b.case4(ctx); err != nil {
			return fmt.Errorf("case 4: %w", err)
		}
	}
	fmt.Printf("\nbench finished in %v\n", time.Since(started).Round(time.Second))
	return nil
}

// case1 loads the file into empty tables: etl, the staging upsert, a plain
// \copy, and etl --dry-run.
func (b *bench) case1(ctx context.Context, file string) error {
	n := b.opts.rows
	base := &result{label: "1  baseline: psql \\copy → staging + INSERT … ON CONFLICT", rows: n}
	etl := &result{label: "1  etl run, empty table", rows: n, baseline: base, counts: etlCounts}
	plain := &result{label: "1  reference: psql \\copy into the indexed table", rows: n}
	dry := &result{label: "1  reference: etl run --dry-run (read, map, check)", rows: n, counts: etlCounts}
	b.results = append(b.results, etl, base, plain, dry)
	etlPipeline, err := b.pipeline(file, etlTable, "")
	if err != nil {
		return err
	}
	for i := range b.opts.runs {
		fmt.Printf("case 1, run %d/%d\n", i+1, b.opts.runs)
		if err := b.resetTables(ctx, etlTable, copyTable, plainTable); err != nil {
			return err
		}
		steps := []func() error{
			func() error { return b.measureEtl(ctx, etl, etlPipeline) },
			func() error { return b.measurePsql(ctx, base, upsertSQL, file, copyTable) },
		}
		if i%2 == 1 { // alternate which goes first, too
			steps[0], steps[1] = steps[1], steps[0]
		}
		steps = append(steps, func() error { return b.measurePsql(ctx, plain, plainSQL, file, plainTable) })
		if b.opts.dry {
			steps = append(steps, func() error { return b.measureEtl(ctx, dry, etlPipeline, "--dry-run") })
		}
		for _, step := range steps {
			if err := b.psql(ctx, "CHECKPOINT"); err != nil {
				return err
			}
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// case2 runs the file again onto the full tables (every row unchanged), then
// switches the tables between the file and its changed twin, so every run
// changes 10% of the rows.
func (b *bench) case2(ctx context.Context, file, changedFile string, full bool) error {
	n := b.opts.rows
	orig, err := b.pipeline(file, etlTable, "")
	if err != nil {
		return err
	}
	changed, err := b.pipeline(changedFile, etlTable, "")
	if err != nil {
		return err
	}
	if !full {
		fmt.Println("case 2: loading the tables first (not timed)")
		if err := b.resetTables(ctx, etlTable, copyTable); err != nil {
			return err
		}
		if _, err := b.command(ctx, b.etl, "run", "--warehouse", b.whURL, orig); err != nil {
			return err
		}
		if err := b.measurePsql(ctx, &result{}, upsertSQL, file, copyTable); err != nil {
			return err
		}
	}
	ubase := &result{label: "2a baseline: same file onto the full table", rows: n, counts: psqlCounts}
	uetl := &result{label: "2a etl run, same file, every row unchanged", rows: n, baseline: ubase, counts: etlCounts}
	cbase := &result{label: "2b baseline: 10% of rows changed", rows: n, counts: psqlCounts}
	cetl := &result{label: "2b etl run, 10% of rows changed", rows: n, baseline: cbase, counts: etlCounts}
	b.results = append(b.results, uetl, ubase, cetl, cbase)

	steps := func(i int, r, base *result, pipeline, file string) []func() error {
		s := []func() error{
			func() error { return b.measureEtl(ctx, r, pipeline) },
			func() error { return b.measurePsql(ctx, base, upsertSQL, file, copyTable) },
		}
		if i%2 == 1 {
			s[0], s[1] = s[1], s[0]
		}
		return s
	}
	// Leave the tables as a steady state, not fresh from a load: vacuumed,
	// analyzed, hint bits set.
	if err := b.psql(ctx, "VACUUM ANALYZE "+etlTable+", "+copyTable); err != nil {
		return err
	}
	for i := range b.opts.runs {
		fmt.Printf("case 2a, run %d/%d\n", i+1, b.opts.runs)
		for _, step := range steps(i, uetl, ubase, orig, file) {
			if err := b.psql(ctx, "CHECKPOINT"); err != nil {
				return err
			}
			if err := step(); err != nil {
				return err
			}
		}
	}
	for i := range b.opts.runs {
		fmt.Printf("case 2b, run %d/%d\n", i+1, b.opts.runs)
		p, f := changed, changedFile
		if i%2 == 1 { // and back: another 10% of the rows change
			p, f = orig, file
		}
		if err := b.psql(ctx, "VACUUM "+etlTable+", "+copyTable); err != nil {
			return err
		}
		for _, step := range steps(i, cetl, cbase, p, f) {
			if err := b.psql(ctx, "CHECKPOINT"); err != nil {
				return err
			}
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// case3 loads five times the rows into empty tables, to show that peak RSS
// does not grow with the file.
func (b *bench) case3(ctx context.Context, file string) error {
	n := 5 * b.opts.rows
	base := &result{label: "3  baseline: psql \\copy → staging + INSERT … ON CONFLICT, 5× rows", rows: n}
	etl := &result{label: "3  etl run, empty table, 5× rows", rows: n, baseline: base, counts: etlCounts}
	b.results = append(b.results, etl, base)
	p, err := b.pipeline(file, etlTable, "")
	if err != nil {
		return err
	}
	for i := range b.opts.runs {
		fmt.Printf("case 3, run %d/%d\n", i+1, b.opts.runs)
		if err := b.resetTables(ctx, etlTable, copyTable); err != nil {
			return err
		}
		steps := []func() error{
			func() error { return b.measureEtl(ctx, etl, p) },
			func() error { return b.measurePsql(ctx, base, upsertSQL, file, copyTable) },
		}
		if i%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := b.psql(ctx, "CHECKPOINT"); err != nil {
				return err
			}
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// case4 runs the per-record benchmark in engine/bench_test.go and prints the
// median of each metric over --runs counts.
func (b *bench) case4(ctx context.Context) error {
	fmt.Printf("\ncase 4: go test -run '^$' -bench BenchmarkTransform -benchmem -count %d ./engine\n", b.opts.runs)
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkTransform", "-benchmem",
		"-count", strconv.Itoa(b.opts.runs), "./engine")
	cmd.Dir = b.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test: %w\n%s", err, out.String())
	}
	// name → unit → values
	metrics := map[string]map[string][]float64{}
	var names []string
	for line := range strings.Lines(out.String()) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if metrics[name] == nil {
			metrics[name] = map[string][]float64{}
			names = append(names, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[name][f[i+1]] = append(metrics[name][f[i+1]], v)
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no benchmark results in:\n%s", out.String())
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "benchmark (median of "+strconv.Itoa(b.opts.runs)+")\tns/record\tallocs/record\tB/record\t")
	for _, name := range names {
		m := metrics[name]
		fmt.Fprintf(w, "%s\t%.0f\t%.1f\t%.0f\t\n", name, medianFloat(m["ns/record"]), medianFloat(m["allocs/record"]), medianFloat(m["B/record"]))
	}
	return w.Flush()
}

// pipeline writes the case pipeline for file and table into bench/data,
// named after the file with suffix, and returns its path.
func (b *bench) pipeline(file, table, suffix string) (string, error) {
	path := filepath.Join(b.data, strings.TrimSuffix(filepath.Base(file), ".csv")+suffix+".hcl")
	src := fmt.Sprintf(pipelineHCL, filepath.Base(file), b.opts.batch, table)
	return path, os.WriteFile(path, []byte(src), 0o644)
}

// resetTables drops and recreates tables, empty.
func (b *bench) resetTables(ctx context.Context, tables ...string) error {
	var sql strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&sql, "DROP TABLE IF EXISTS %s; "+tableDDL+";\n", t, t)
	}
	return b.psql(ctx, sql.String())
}

// measureEtl times `etl run` of pipeline into the bench warehouse.
func (b *bench) measureEtl(ctx context.Context, r *result, pipeline string, flags ...string) error {
	args := append([]string{"run", "--warehouse", b.whURL}, flags...)
	m, err := b.command(ctx, b.etl, append(args, pipeline)...)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(m.stdout, "success") {
		return fmt.Errorf("etl run did not succeed: %s", m.stdout)
	}
	r.ms = append(r.ms, m)
	return nil
}

// measurePsql times psql running the script (upsertSQL or plainSQL) for
// file and table.
func (b *bench) measurePsql(ctx context.Context, r *result, script, file, table string) error {
	return b.measurePsqlAt(ctx, b.opts.pg, r, script, file, table)
}

// psql runs sql, not timed.
func (b *bench) psql(ctx context.Context, sql string) error {
	_, err := b.command(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.opts.pg, "-c", sql)
	return err
}

// command runs a child process and measures it.
func (b *bench) command(ctx context.Context, name string, args ...string) (measurement, error) {
	return b.run(ctx, nil, name, args...)
}

// run runs a child process with env added to its environment and measures
// it.
func (b *bench) run(ctx context.Context, env []string, name string, args ...string) (measurement, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = b.data
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	load := loadAverage()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return measurement{}, fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	m := measurement{wall: wall, stdout: stdout.String(), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), load: load}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	return m, nil
}

var (
	etlSummary = regexp.MustCompile(`processed (\d+) = created (\d+) \+ updated (\d+) \+ unchanged (\d+) \+ rejected (\d+) \+ failed (\d+)`)
	etlDry     = regexp.MustCompile(`processed (\d+) \(valid (\d+), rejected (\d+)`)
	psqlInsert = regexp.MustCompile(`(?m)^INSERT 0 (\d+)$`)
)

// etlCounts is the created/updated/unchanged part of etl's summary line.
func etlCounts(m measurement) string {
	if s := etlSummary.FindStringSubmatch(m.stdout); s != nil {
		out := fmt.Sprintf("created %s, updated %s, unchanged %s", s[2], s[3], s[4])
		if s[5] != "0" || s[6] != "0" {
			out += fmt.Sprintf(", rejected %s, failed %s", s[5], s[6])
		}
		return out
	}
	if s := etlDry.FindStringSubmatch(m.stdout); s != nil {
		return fmt.Sprintf("valid %s, rejected %s", s[2], s[3])
	}
	return "?"
}

// psqlCounts is the rows the baseline's INSERT inserted or updated.
func psqlCounts(m measurement) string {
	if s := psqlInsert.FindStringSubmatch(m.stdout); s != nil {
		return "inserted or updated " + s[1]
	}
	return "?"
}

// print writes the table of medians.
func (b *bench) print() {
	if len(b.results) == 0 {
		return
	}
	fmt.Printf("\nmedians of %d runs, alternating; batch_size %d\n", b.opts.runs, b.opts.batch)
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		fmt.Printf("(a child's peak RSS also counts the bench's own high-water mark when it started the child: %.0f MB at most)\n", float64(self.Maxrss)*1024/1e6)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "case\ttime\trows/s\tpeak RSS\tCPU (child)\tratio\tload\tcounts (last run)")
	for _, r := range b.results {
		if len(r.ms) == 0 {
			continue
		}
		wall := median(r.ms, func(m measurement) float64 { return m.wall.Seconds() })
		rss := median(r.ms, func(m measurement) float64 { return float64(m.maxRSS) })
		cpu := median(r.ms, func(m measurement) float64 { return m.cpu.Seconds() })
		ratio := ""
		if r.baseline != nil && len(r.baseline.ms) > 0 {
			ratio = fmt.Sprintf("%.2f×", wall/median(r.baseline.ms, func(m measurement) float64 { return m.wall.Seconds() }))
		}
		counts := ""
		if r.counts != nil {
			counts = r.counts(r.ms[len(r.ms)-1])
		}
		if r.extra != nil {
			counts += "; " + r.extra(r.ms[len(r.ms)-1])
		}
		loads := median(r.ms, func(m measurement) float64 { return m.load })
		fmt.Fprintf(w, "%s\t%.2f s\t%.0f\t%.0f MB\t%.2f s\t%s\t%.1f\t%s\n", r.label, wall, float64(r.rows)/wall, rss/1e6, cpu, ratio, loads, counts)
	}
	w.Flush()
	fmt.Println("\nall runs (wall seconds, peak RSS, load average at the start):")
	for _, r := range b.results {
		var ts []string
		for _, m := range r.ms {
			ts = append(ts, fmt.Sprintf("%.2f s %.0f MB (load %.1f)", m.wall.Seconds(), float64(m.maxRSS)/1e6, m.load))
		}
		if len(ts) > 0 {
			fmt.Printf("  %s: %s\n", r.label, strings.Join(ts, ", "))
		}
	}
}

func median(ms []measurement, f func(measurement) float64) float64 {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(m)
	}
	return medianFloat(vs)
}

func medianFloat(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// moduleRoot is the directory of go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run the bench from inside the etl module (go run ./bench)")
		}
		dir = parent
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
