package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadAverage is the 1-minute load average, from /proc/loadavg (0 where
// there is none).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// alternate runs a and b, a first on even runs and b first on odd ones,
// with a CHECKPOINT before each.
func (b *bench) alternate(ctx context.Context, i int, steps ...func() error) error {
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
	return nil
}

// ---- case 5: MySQL → PostgreSQL ----

// mysqlDatabase is the MariaDB database case 5 creates and drops.
const mysqlDatabase = "etl_bench"

// mysqlPipelineHCL copies the MariaDB table bench into PostgreSQL: a full
// load by key. %[1]d is the batch and page size, %[2]s the table.
const mysqlPipelineHCL = `pipeline "bench_mysql" {
  system     = "bench"
  entity     = "mysql"
  batch_size = %[1]d
  source "mysql" {
    dsn       = env("BENCH_DSN")
    table     = "bench"
    key       = ["id"]
    page_size = %[1]d
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
  sink "postgres" {
    table = %[2]q
    key   = ["id"]
    mode  = "upsert"
  }
}
`

// mysqlPipeSQL is the baseline's target, as etl creates its own.
const mysqlPipeDDL = `DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, email text, name text, amount numeric,
	active boolean, created_at timestamptz, updated_at timestamptz)`

// mariadb runs the mariadb client on the bench's server.
func (b *bench) mariadb(ctx context.Context, args ...string) error {
	base := []string{"--batch", "-h", b.opts.myHost, "-P", b.opts.myPort, "-u", b.opts.myUser}
	_, err := b.command(ctx, "mariadb", append(base, args...)...)
	return err
}

// case5 copies a MariaDB table of --rows rows into an empty PostgreSQL
// table: etl run against mariadb --batch | psql \copy, alternating.
func (b *bench) case5(ctx context.Context) error {
	n := b.opts.rows
	fmt.Printf("case 5: filling MariaDB %s.bench with %d rows (not timed)\n", mysqlDatabase, n)
	if err := b.mariadb(ctx, "-e", fmt.Sprintf(`DROP DATABASE IF EXISTS %[1]s; CREATE DATABASE %[1]s CHARACTER SET utf8mb4; USE %[1]s;
		CREATE TABLE bench (id INT PRIMARY KEY, email VARCHAR(100), name VARCHAR(100), amount DECIMAL(12,2), active TINYINT(1),
			created_at DATETIME, updated_at DATETIME, KEY bench_updated (updated_at));
		INSERT INTO bench SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('Name ', seq), seq / 100, seq %% 2,
			'2024-01-01 00:00:00' + INTERVAL seq SECOND, '2024-06-01 00:00:00' + INTERVAL (seq DIV 7) SECOND FROM seq_1_to_%[2]d;`, mysqlDatabase, n)); err != nil {
		return fmt.Errorf("fill MariaDB (is it at --mysql?): %w", err)
	}
	defer func() { _ = b.mariadb(context.WithoutCancel(ctx), "-e", "DROP DATABASE IF EXISTS "+mysqlDatabase) }()

	table := schema + ".mysql_etl"
	pipeTable := schema + ".mysql_pipe"
	path := filepath.Join(b.data, "mysql.hcl")
	if err := os.WriteFile(path, fmt.Appendf(nil, mysqlPipelineHCL, b.opts.myBatch, table), 0o644); err != nil {
		return err
	}
	base := &result{label: "5  baseline: mariadb --batch | psql \\copy", rows: n}
	etl := &result{label: fmt.Sprintf("5  etl run, MySQL → PostgreSQL (batch and page %d)", b.opts.myBatch), rows: n, baseline: base, counts: etlCounts}
	b.results = append(b.results, etl, base)
	dsn := fmt.Sprintf("%s@tcp(%s:%s)/%s", b.opts.myUser, b.opts.myHost, b.opts.myPort, mysqlDatabase)
	pipe := fmt.Sprintf(`mariadb --batch --skip-column-names -h %s -P %s -u %s %s -e 'SELECT id, email, name, amount, active = 1, CONCAT(created_at, "+00"), CONCAT(updated_at, "+00") FROM bench' | psql -X -q %q -c '\copy %s from stdin'`,
		b.opts.myHost, b.opts.myPort, b.opts.myUser, mysqlDatabase, b.opts.pg, pipeTable)
	for i := range b.opts.runs {
		fmt.Printf("case 5, run %d/%d\n", i+1, b.opts.runs)
		if err := b.psql(ctx, fmt.Sprintf(mysqlPipeDDL, pipeTable)+"; DROP TABLE IF EXISTS "+table); err != nil {
			return err
		}
		err := b.alternate(ctx, i,
			func() error {
				m, err := b.run(ctx, []string{"BENCH_DSN=" + dsn}, b.etl, "run", "--warehouse", b.whURL, path)
				if err == nil {
					etl.ms = append(etl.ms, m)
				}
				return err
			},
			func() error {
				m, err := b.command(ctx, "bash", "-o", "pipefail", "-c", pipe)
				if err == nil {
					base.ms = append(base.ms, m)
				}
				return err
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- case 6: a warehouse 2 ms away ----

// delayProxy forwards TCP connections to target, holding every chunk of
// data for delay in each direction (so a round trip takes 2×delay more)
// without limiting throughput: chunks queue and leave when due.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
}

func newDelayProxy(target string, delay time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, delay: delay}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

func (p *delayProxy) Close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *delayProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

// proxyChunk and proxyQueue bound what a direction holds: 256 chunks of
// 16 KiB. The bench's own memory matters: a child's peak RSS as the kernel
// reports it counts the bench's high-water mark at the child's start
// (vfork, then exec).
const (
	proxyChunk = 16 << 10
	proxyQueue = 256
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, proxyChunk); return &b }}

// pipe copies src to dst, each chunk delay after it was read.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		due time.Time
		buf *[]byte
		n   int
	}
	q := make(chan chunk, proxyQueue)
	go func() {
		defer close(q)
		for {
			buf := chunkPool.Get().(*[]byte)
			n, err := src.Read(*buf)
			if n > 0 {
				q <- chunk{time.Now().Add(p.delay), buf, n}
			} else {
				chunkPool.Put(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q {
		if d := time.Until(c.due); d > 0 && !failed {
			time.Sleep(d)
		}
		if !failed {
			if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				failed = true
				src.Close()
			}
		}
		chunkPool.Put(c.buf)
	}
	dst.Close()
	src.Close()
}

// case6 runs case 1 (a first load) and case 2a (the same file again)
// through a proxy that adds 1 ms each way to every packet to and from
// PostgreSQL, for etl and the psql baseline alike.
func (b *bench) case6(ctx context.Context, file string) error {
	u, err := url.Parse(b.opts.pg)
	if err != nil {
		return err
	}
	proxy, err := newDelayProxy(u.Host, time.Millisecond)
	if err != nil {
		return err
	}
	defer proxy.Close()
	u.Host = proxy.Addr()
	pg := u.String()
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	whURL := pg + sep + "search_path=" + schema
	n := b.opts.rows
	lbase := &result{label: "6a baseline through the proxy: first load", rows: n}
	load := &result{label: "6a etl run, 2 ms round trip, empty table", rows: n, baseline: lbase, counts: etlCounts}
	ubase := &result{label: "6b baseline through the proxy: same file again", rows: n, counts: psqlCounts}
	unch := &result{label: "6b etl run, 2 ms round trip, every row unchanged", rows: n, baseline: ubase, counts: etlCounts}
	b.results = append(b.results, load, lbase, unch, ubase)
	p, err := b.pipeline(file, etlTable, "")
	if err != nil {
		return err
	}
	etlStep := func(r *result) func() error {
		return func() error {
			m, err := b.command(ctx, b.etl, "run", "--warehouse", whURL, p)
			if err == nil && !strings.HasPrefix(m.stdout, "success") {
				err = fmt.Errorf("etl run did not succeed: %s", m.stdout)
			}
			if err == nil {
				r.ms = append(r.ms, m)
			}
			return err
		}
	}
	psqlStep := func(r *result) func() error {
		return func() error { return b.measurePsqlAt(ctx, pg, r, upsertSQL, file, copyTable) }
	}
	for i := range b.opts.runs {
		fmt.Printf("case 6, run %d/%d\n", i+1, b.opts.runs)
		if err := b.resetTables(ctx, etlTable, copyTable); err != nil {
			return err
		}
		if err := b.alternate(ctx, i, etlStep(load), psqlStep(lbase)); err != nil {
			return err
		}
		if err := b.psql(ctx, "VACUUM ANALYZE "+etlTable+", "+copyTable); err != nil {
			return err
		}
		if err := b.alternate(ctx, i, etlStep(unch), psqlStep(ubase)); err != nil {
			return err
		}
	}
	return nil
}

// ---- case 7: a paged API 250 ms away ----

// restPipelineHCL reads the fake API. %[1]s is its URL, %[2]s the
// paginate block, %[3]s the table.
const restPipelineHCL = `pipeline "bench_rest" {
  system = "bench"
  entity = "rest"
  source "rest" {
    url     = %[1]q
    query   = { limit = 100 }
    records = "results"
    %[2]s
    rate_limit {
      requests = 10
      per      = "1s"
    }
  }
  map {
    id    = "int(record.id)"
    email = "record.email"
  }
  sink "postgres" {
    table = %[3]q
    key   = ["id"]
    mode  = "upsert"
  }
}
`

// case7 reads 101 pages of 100 records from an API that answers each
// request after 250 ms, declaring a budget of 10 requests a second, once
// paged by page number and once by an opaque cursor, and reports the share
// of the budget used: requests a second over 10.
func (b *bench) case7(ctx context.Context) error {
	const pages, per = 101, 100
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		time.Sleep(250 * time.Millisecond)
		page := 1
		if v := r.URL.Query().Get("page"); v != "" {
			page, _ = strconv.Atoi(v)
		}
		if v := r.URL.Query().Get("after"); v != "" {
			page, _ = strconv.Atoi(v)
		}
		body := map[string]any{"total": pages * per}
		var recs []map[string]any
		if page >= 1 && page <= pages {
			for i := range per {
				id := (page-1)*per + i + 1
				recs = append(recs, map[string]any{"id": id, "email": fmt.Sprintf("user%d@example.com", id)})
			}
		}
		body["results"] = recs
		if page < pages {
			body["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(page + 1)}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()
	for _, style := range []struct{ name, block string }{
		{"page (declared total)", `paginate "page" {
      limit = 100
      total = "body.total"
    }`},
		{"cursor", `paginate "cursor" {
      next  = "body.paging?.next?.after"
      param = "after"
    }`},
	} {
		r := &result{label: "7  etl run, REST paged by " + style.name + ", 250 ms a request", rows: pages * per, counts: etlCounts}
		r.extra = func(m measurement) string {
			return fmt.Sprintf("%d requests, %.1f req/s: %.0f%% of the 10 req/s budget", m.requests, float64(m.requests)/m.wall.Seconds(), 10*float64(m.requests)/m.wall.Seconds())
		}
		b.results = append(b.results, r)
		path := filepath.Join(b.data, "rest.hcl")
		if err := os.WriteFile(path, fmt.Appendf(nil, restPipelineHCL, srv.URL, style.block, schema+".rest_etl"), 0o644); err != nil {
			return err
		}
		for i := range b.opts.runs {
			fmt.Printf("case 7 (%s), run %d/%d\n", style.name, i+1, b.opts.runs)
			if err := b.psql(ctx, "DROP TABLE IF EXISTS "+schema+".rest_etl"); err != nil {
				return err
			}
			requests.Store(0)
			m, err := b.command(ctx, b.etl, "run", "--warehouse", b.whURL, path)
			if err != nil {
				return err
			}
			m.requests = requests.Load()
			r.ms = append(r.ms, m)
		}
	}
	return nil
}

// measurePsqlAt is measurePsql against the database at pg.
func (b *bench) measurePsqlAt(ctx context.Context, pg string, r *result, script, file, table string) error {
	path := filepath.Join(b.data, "baseline.sql")
	if err := os.WriteFile(path, fmt.Appendf(nil, script, file, table), 0o644); err != nil {
		return err
	}
	m, err := b.command(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", pg, "-f", path)
	if err != nil {
		return err
	}
	r.ms = append(r.ms, m)
	return nil
}
