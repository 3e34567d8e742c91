package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/etl-dev/etl/engine"
)

// reader is the state of one Read.
type reader struct {
	s        *Source
	db       *sql.DB
	loc      *time.Location
	log      *slog.Logger
	cols     []column       // the result set's columns
	schema   *engine.Schema // their names, for the records' Values
	index    map[string]int // lower-cased column name → position in cols
	keys     []int          // positions of the key columns
	page     atomic.Int64   // round trips so far
	zeros    map[string]int // zero dates read as nil, by column
	read     int64          // rows read so far
	progress func(done, total int64)
	count    func(name string, n int64) // ReadOptions.Count; may be nil
}

// stream is one keyset-paged SELECT: rows matching filter, in the order of
// the ord columns, read page by page after the last row emitted.
type stream struct {
	name   string // for messages: "full", "incremental", "fallback", "no cursor"
	filter string // SQL condition, "" for none
	args   []any
	ord    []int // positions of the order columns: the cursor column (if any), then the key
	cursor int   // position of the column whose value orders streams, or -1
	after  []any // order values of the last row read; nil before the first
	buf    []row
	pos    int
	more   bool             // the last page was full: there may be more rows
	next   chan fetchResult // the next page, being read ahead; nil when none is
}

// fetchResult is a page read ahead.
type fetchResult struct {
	rows  []row
	after []any // the last row's order columns as read, for the next page's keyset
	err   error
}

// row is one row read, ready to emit.
type row struct {
	rec   engine.Record
	cur   any      // the stream's cursor value (time.Time, int64, …), nil for none
	zeros []string // columns whose zero dates became nil
}

// Read emits every row the source selects, in keyset order; see
// engine.Source and the package doc. opts.Since, when set, is the inclusive
// lower bound of the incremental column.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	if s.conn == nil {
		return fmt.Errorf("pipeline %s: the mysql dsn is empty: set the environment variable its env() reads", s.pipeline)
	}
	r := &reader{s: s, loc: opts.Location, log: opts.Logger, zeros: map[string]int{}, progress: opts.Progress, count: opts.Count}
	if r.loc == nil {
		r.loc = time.UTC
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	db, err := s.open(r.log)
	if err != nil {
		return err
	}
	defer db.Close()
	r.db = db

	if err := r.probe(ctx); err != nil {
		return err
	}
	streams, err := r.plan(opts.Since)
	if err != nil {
		return err
	}
	err = r.run(ctx, streams, emit)
	r.logZeroDates()
	return err
}

// open returns a pool for the DSN with the source's session settings.
func (s *Source) open(log *slog.Logger) (*sql.DB, error) {
	cfg := s.conn.Clone()
	cfg.ParseTime = false // date-times are parsed here, in the pipeline's timezone
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true // one round trip a page, text protocol
	cfg.MultiStatements = false
	cfg.Timeout = s.connTO
	cfg.ReadTimeout = s.readTO
	cfg.Logger = driverLogger{log}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'" // TIMESTAMP values arrive in UTC
	if err := cfg.Apply(mysql.Charset("utf8mb4", "")); err != nil {
		return nil, fmt.Errorf("pipeline %s: mysql connection settings: %w", s.pipeline, err)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: mysql connection settings: %s", s.pipeline, redact(err.Error(), cfg.Passwd))
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(4) // a page read ahead per stream, three streams at most
	db.SetMaxIdleConns(4)
	return db, nil
}

// driverLogger sends the driver's own messages (a bad idle connection
// closed) to the run's log.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) { l.log.Debug("mysql driver: " + fmt.Sprint(v...)) }

// quote quotes an identifier with backticks.
func quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// from is the FROM clause's subject: the quoted table, or the query as a
// derived table.
func (s *Source) from() string {
	if s.cfg.Table != "" {
		parts := strings.Split(s.cfg.Table, ".")
		for i, p := range parts {
			parts[i] = quote(p)
		}
		return strings.Join(parts, ".")
	}
	q := strings.TrimSpace(s.cfg.Query)
	for strings.HasSuffix(q, ";") {
		q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	}
	// The newline ends a trailing -- comment before the closing parenthesis.
	return "(\n" + q + "\n) AS `_etl`"
}

// selectList is what the SELECT reads.
func (s *Source) selectList() string {
	if s.cfg.Columns == nil {
		return "*"
	}
	cols := s.selectColumns()
	for i, c := range cols {
		cols[i] = quote(c)
	}
	return strings.Join(cols, ", ")
}

// probe learns the result set's columns with a query that reads no row,
// and checks that the key and cursor columns are among them.
func (r *reader) probe(ctx context.Context) error {
	q := "SELECT " + r.s.selectList() + " FROM " + r.s.from() + " LIMIT 0"
	err := r.roundTrip(ctx, "read the columns", q, func() error {
		rows, err := r.db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		types, err := rows.ColumnTypes()
		if err != nil {
			return err
		}
		r.cols = columnsOf(types)
		return rows.Close()
	})
	if err != nil {
		return err
	}
	r.index = make(map[string]int, len(r.cols))
	var names []string
	for i, c := range r.cols {
		lc := strings.ToLower(c.name)
		if _, dup := r.index[lc]; dup {
			return fmt.Errorf("pipeline %s: mysql %s selects two columns named %q: give them distinct names with AS", r.s.pipeline, r.what(), c.name)
		}
		r.index[lc] = i
		names = append(names, c.name)
	}
	r.schema = engine.NewSchema(names)
	find := func(attr, name string) (int, error) {
		i, ok := r.index[strings.ToLower(name)]
		if !ok {
			return 0, fmt.Errorf("pipeline %s: %s column %q is not among the columns the mysql %s selects (%s)", r.s.pipeline, attr, name, r.what(), strings.Join(names, ", "))
		}
		return i, nil
	}
	for _, k := range r.s.cfg.Key {
		i, err := find("key", k)
		if err != nil {
			return err
		}
		r.keys = append(r.keys, i)
	}
	for attr, name := range map[string]string{"incremental": r.s.cfg.IncrementalColumn, "fallback": r.s.cfg.FallbackColumn} {
		if name != "" {
			if _, err := find(attr, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) what() string {
	if r.s.cfg.Table != "" {
		return "table " + r.s.cfg.Table
	}
	return "query"
}

// plan lays out the streams of this read; see README.md, "Incremental
// reads and NULL cursors".
func (r *reader) plan(since any) ([]*stream, error) {
	cfg := r.s.cfg
	key := r.keys
	ident := func(i int) string { return quote(r.cols[i].name) }
	if cfg.IncrementalColumn == "" {
		return []*stream{{name: "full", ord: key, cursor: -1, more: true}}, nil
	}
	u := r.index[strings.ToLower(cfg.IncrementalColumn)]
	f := -1
	if cfg.FallbackColumn != "" {
		f = r.index[strings.ToLower(cfg.FallbackColumn)]
		if r.cols[u].isTime() != r.cols[f].isTime() {
			return nil, fmt.Errorf("pipeline %s: incremental_column %s is %s but fallback_column %s is %s: both must be date-times, or neither", r.s.pipeline, r.cols[u].name, r.cols[u].dbType, r.cols[f].name, r.cols[f].dbType)
		}
	}
	present := func(i int) string {
		if r.cols[i].isTime() {
			return ident(i) + " >= '0001-01-01'" // neither NULL nor a zero date
		}
		return ident(i) + " IS NOT NULL"
	}
	missing := func(i int) string {
		if r.cols[i].isTime() {
			return "(" + ident(i) + " IS NULL OR " + ident(i) + " < '0001-01-01')"
		}
		return ident(i) + " IS NULL"
	}
	order := func(c int) []int { return append([]int{c}, key...) }

	var out []*stream
	if since == nil {
		if f < 0 {
			out = append(out, &stream{name: "no cursor", filter: missing(u), ord: key, cursor: -1, more: true})
		} else {
			out = append(out,
				&stream{name: "no cursor", filter: missing(u) + " AND " + missing(f), ord: key, cursor: -1, more: true},
				&stream{name: "fallback", filter: missing(u) + " AND " + present(f), ord: order(f), cursor: f, more: true})
		}
		out = append(out, &stream{name: "incremental", filter: present(u), ord: order(u), cursor: u, more: true})
		return out, nil
	}
	su, err := r.sinceArg(since, u)
	if err != nil {
		return nil, err
	}
	if f >= 0 {
		sf, err := r.sinceArg(since, f)
		if err != nil {
			return nil, err
		}
		out = append(out, &stream{name: "fallback", filter: missing(u) + " AND " + ident(f) + " >= ?", args: []any{sf}, ord: order(f), cursor: f, more: true})
	}
	out = append(out, &stream{name: "incremental", filter: ident(u) + " >= ?", args: []any{su}, ord: order(u), cursor: u, more: true})
	return out, nil
}

// sinceArg is the engine's cursor as a value to compare column i with.
func (r *reader) sinceArg(since any, i int) (any, error) {
	c := r.cols[i]
	switch v := since.(type) {
	case time.Time:
		if !c.isTime() {
			return nil, fmt.Errorf("pipeline %s: the incremental cursor is a timestamp but column %s is %s: map the cursor from that column, or use --full-refresh", r.s.pipeline, c.name, c.dbType)
		}
		return sqlTime(v, c.kind, r.loc), nil
	case int64, float64, string:
		return v, nil
	case int:
		return int64(v), nil
	}
	return nil, fmt.Errorf("pipeline %s: cannot compare column %s with the cursor %v (%T)", r.s.pipeline, c.name, since, since)
}

// pageQuery is the SELECT of a stream's next page: its filter, then, after
// the first page, the keyset condition (strictly after the last row).
func (r *reader) pageQuery(st *stream) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(r.s.selectList())
	b.WriteString(" FROM ")
	b.WriteString(r.s.from())
	var conds []string
	args := append([]any(nil), st.args...)
	if st.filter != "" {
		conds = append(conds, st.filter)
	}
	if st.after != nil {
		// (a > ?) OR (a = ? AND b > ?) OR …: index-friendly on every server.
		var ors []string
		for i := range st.ord {
			var ands []string
			for j := 0; j < i; j++ {
				ands = append(ands, quote(r.cols[st.ord[j]].name)+" = ?")
				args = append(args, st.after[j])
			}
			ands = append(ands, quote(r.cols[st.ord[i]].name)+" > ?")
			args = append(args, st.after[i])
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	for i, o := range st.ord {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(r.cols[o].name))
	}
	b.WriteString(" LIMIT ")
	b.WriteString(strconv.Itoa(r.s.pageSize))
	return b.String(), args
}

// run merges the streams in cursor order (rows without a cursor first) and
// emits their rows. While a stream's page is emitted, its next page is read
// ahead on another connection.
func (r *reader) run(ctx context.Context, streams []*stream, emit func(engine.Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for {
		var best *stream
		for _, st := range streams {
			if st.pos == len(st.buf) {
				if st.next == nil {
					if !st.more {
						continue
					}
					r.readAhead(ctx, &wg, st)
				}
				res := <-st.next
				st.next = nil
				if res.err != nil {
					return res.err
				}
				st.buf, st.pos = res.rows, 0
				st.more = len(res.rows) == r.s.pageSize
				if len(res.rows) > 0 {
					st.after = res.after
				}
				r.read += int64(len(res.rows))
				if r.progress != nil {
					r.progress(r.read, 0)
				}
				if st.more {
					r.readAhead(ctx, &wg, st)
				}
				if len(st.buf) == 0 {
					continue
				}
			}
			if best == nil || before(st.buf[st.pos].cur, best.buf[best.pos].cur) {
				best = st
			}
		}
		if best == nil {
			return nil
		}
		rw := best.buf[best.pos]
		best.buf[best.pos] = row{}
		best.pos++
		for _, z := range rw.zeros {
			r.zeros[z]++
		}
		if err := emit(rw.rec); err != nil {
			return err
		}
	}
}

// readAhead starts reading the page of st after its last row read.
func (r *reader) readAhead(ctx context.Context, wg *sync.WaitGroup, st *stream) {
	q, args := r.pageQuery(st)
	ch := make(chan fetchResult, 1)
	st.next = ch
	wg.Add(1)
	go func() {
		defer wg.Done()
		rows, after, err := r.fetch(ctx, st, q, args)
		ch <- fetchResult{rows, after, err}
	}()
}

// before orders stream heads by cursor; nil (no cursor) comes first. Equal
// values are not before each other, so the earlier stream goes first.
func before(a, b any) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	switch x := a.(type) {
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Before(y)
		}
	case int64:
		switch y := b.(type) {
		case int64:
			return x < y
		case float64:
			return float64(x) < y
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return x < y
		case int64:
			return x < float64(y)
		}
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
	}
	return false
}

// fetch reads one page of st with query q. It does not touch st's
// mutable state: it runs while st's previous page is emitted.
func (r *reader) fetch(ctx context.Context, st *stream, q string, args []any) ([]row, []any, error) {
	page := strconv.FormatInt(r.page.Add(1), 10)
	var out []row
	last := newLastOrder(len(st.ord))
	err := r.roundTrip(ctx, "read page "+page, q, func() error {
		out = make([]row, 0, r.s.pageSize)
		return r.query(ctx, q, args, func(vals []driver.Value) error {
			rw, err := r.row(st, vals, page)
			if err != nil {
				return err
			}
			out = append(out, rw)
			last.keep(vals, st.ord)
			if r.s.scanned != nil {
				r.s.scanned(int(r.page.Load()), len(out))
			}
			return nil
		})
	})
	if err != nil || len(out) == 0 {
		return out, nil, err
	}
	return out, last.values(), nil
}

// lastOrder keeps the order columns of the latest row read, as the driver
// gave them, copying their bytes into one reused buffer: only a page's
// last row is needed, and the driver's buffer is reused row after row.
type lastOrder struct {
	vals  []any // a value that is not bytes
	spans [][2]int
	bytes []bool // whether vals[j] is bytes, held in buf[spans[j][0]:spans[j][1]]
	buf   []byte
}

func newLastOrder(n int) *lastOrder {
	return &lastOrder{vals: make([]any, n), spans: make([][2]int, n), bytes: make([]bool, n)}
}

func (l *lastOrder) keep(vals []driver.Value, ord []int) {
	l.buf = l.buf[:0]
	for j, o := range ord {
		b, ok := vals[o].([]byte)
		l.bytes[j] = ok
		if !ok {
			l.vals[j] = vals[o]
			continue
		}
		start := len(l.buf)
		l.buf = append(l.buf, b...)
		l.spans[j] = [2]int{start, len(l.buf)}
	}
}

// values are the kept row's order columns, bytes as strings.
func (l *lastOrder) values() []any {
	out := make([]any, len(l.vals))
	for j, v := range l.vals {
		if l.bytes[j] {
			v = string(l.buf[l.spans[j][0]:l.spans[j][1]])
		}
		out[j] = v
	}
	return out
}

// query runs q on a connection of the pool and calls each with every row's
// values. The values' bytes are the driver's buffer, valid only during the
// call: database/sql would copy each of them once more.
func (r *reader) query(ctx context.Context, q string, args []any, each func([]driver.Value) error) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("mysql driver connection %T cannot query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := qc.QueryContext(ctx, q, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		if n := len(rows.Columns()); n != len(r.cols) {
			return fmt.Errorf("the query returned %d columns, the probe %d: did the table change during the read?", n, len(r.cols))
		}
		vals := make([]driver.Value, len(r.cols))
		for {
			err := rows.Next(vals)
			if err == io.EOF {
				return rows.Close()
			}
			if err != nil {
				return err
			}
			if err := each(vals); err != nil {
				return err
			}
		}
	})
}

// row builds the record of one scanned row.
func (r *reader) row(st *stream, vals []driver.Value, page string) (row, error) {
	values := make([]any, len(r.cols))
	var rw row
	var errs []string
	for i, c := range r.cols {
		v, zero, err := c.value(vals[i], r.loc)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if zero {
			rw.zeros = append(rw.zeros, c.name)
		}
		values[i] = v
	}
	var key string
	for j, k := range r.keys {
		if vals[k] == nil {
			return row{}, fmt.Errorf("a row has NULL in key column %s (page %s): key columns must identify every row; pick a NOT NULL unique key", r.cols[k].name, page)
		}
		if j > 0 {
			key += ","
		}
		key += keyText(vals[k])
	}
	if st.cursor >= 0 {
		rw.cur = values[st.cursor]
	}
	rw.rec = engine.Record{Values: values, Schema: r.schema, Pos: engine.Position{Page: page, Key: key}}
	if errs != nil {
		rw.rec.Err = errors.New(strings.Join(errs, "; "))
	}
	return rw, nil
}

// roundTrip runs do, one query q, retrying with backoff when the
// connection was lost. Refused credentials and SQL errors fail at once.
func (r *reader) roundTrip(ctx context.Context, what, q string, do func() error) error {
	for attempt := 1; ; attempt++ {
		err := do()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if msg := r.loginError(err); msg != "" {
			return errors.New(msg)
		}
		if !transient(err) || attempt >= r.s.attempts {
			tries := ""
			if attempt > 1 {
				tries = fmt.Sprintf(" after %d attempts", attempt)
			}
			return fmt.Errorf("pipeline %s: mysql %s: %s%s: %w; query: %s", r.s.pipeline, what, r.what(), tries, redactErr{err, r.s.conn.Passwd}, oneLine(q))
		}
		wait := r.backoff(attempt)
		r.log.Warn("mysql connection lost; retrying", "pipeline", r.s.pipeline, "doing", what, "attempt", attempt, "wait", wait, "error", redact(err.Error(), r.s.conn.Passwd))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt+1: minWait doubled per attempt, at
// most maxWait, with up to 20% jitter.
func (r *reader) backoff(attempt int) time.Duration {
	d := r.s.minWait << (attempt - 1)
	if d <= 0 || d > r.s.maxWait {
		d = r.s.maxWait
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// loginError is the message for an error that no retry can fix because the
// server refused the credentials, or "".
func (r *reader) loginError(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	who := fmt.Sprintf("user %q at %s", r.s.conn.User, r.s.conn.Addr)
	switch me.Number {
	case 1045:
		return fmt.Sprintf("pipeline %s: mysql refused the login of %s (error 1045, access denied): check the user and password in the dsn; not retried", r.s.pipeline, who)
	case 1862, 1820:
		return fmt.Sprintf("pipeline %s: the mysql password of %s has expired (error %d): an administrator must reset it (ALTER USER … IDENTIFIED BY …) and the dsn must carry the new one; not retried", r.s.pipeline, who, me.Number)
	case 1044:
		return fmt.Sprintf("pipeline %s: mysql %s may not use database %q (error 1044, access denied): grant it SELECT there; not retried", r.s.pipeline, who, r.s.conn.DBName)
	}
	return ""
}

// transient reports whether err means the connection, not the query, failed:
// the round trip is worth trying again on a new connection.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,                         // server shutdown in progress
			1152,                         // aborted connection
			1153, 1158, 1159, 1160, 1161, // packet and network read/write errors
			1205,       // lock wait timeout
			1213,       // deadlock
			1317,       // query interrupted (KILL QUERY)
			1927,       // connection killed (MariaDB)
			2006, 2013: // server gone away, lost connection
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, mysql.ErrMalformPkt) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne)
}

// redactErr is an error whose message has the password removed; it still
// unwraps to the original.
type redactErr struct {
	err      error
	password string
}

func (e redactErr) Error() string { return redact(e.err.Error(), e.password) }
func (e redactErr) Unwrap() error { return e.err }

// oneLine collapses a query's white space for a one-line message.
func oneLine(q string) string {
	return strings.Join(strings.Fields(q), " ")
}

// logZeroDates reports the zero dates read as nil, by column.
func (r *reader) logZeroDates() {
	if len(r.zeros) == 0 {
		return
	}
	names := make([]string, 0, len(r.zeros))
	total := 0
	for n, c := range r.zeros {
		names = append(names, n)
		total += c
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.Itoa(r.zeros[n])
	}
	r.log.Warn("mysql zero dates read as null", "pipeline", r.s.pipeline, "count", total, "columns", strings.Join(parts, ", "))
	if r.count != nil {
		r.count("zero_dates_as_null", int64(total))
	}
}

// PlanRead describes, without connecting, the first page queries a Read
// with opts would send, one a line, their arguments after them. It assumes
// the incremental and fallback columns are DATETIME, which the real read
// learns from the server.
func (s *Source) PlanRead(opts engine.ReadOptions) string {
	r := &reader{s: s, loc: opts.Location, index: map[string]int{}}
	if r.loc == nil {
		r.loc = time.UTC
	}
	names := s.cfg.Columns
	if names == nil {
		names = []string{}
	}
	names = append(slices.Clone(names), s.cfg.Key...)
	names = append(names, s.cfg.IncrementalColumn, s.cfg.FallbackColumn)
	for _, n := range names {
		if _, seen := r.index[strings.ToLower(n)]; n == "" || seen {
			continue
		}
		k := kindAsIs
		if strings.EqualFold(n, s.cfg.IncrementalColumn) || strings.EqualFold(n, s.cfg.FallbackColumn) {
			k = kindDateTime
		}
		r.index[strings.ToLower(n)] = len(r.cols)
		r.cols = append(r.cols, column{name: n, dbType: "DATETIME", kind: k})
	}
	for _, k := range s.cfg.Key {
		r.keys = append(r.keys, r.index[strings.ToLower(k)])
	}
	streams, err := r.plan(opts.Since)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, st := range streams {
		q, args := r.pageQuery(st)
		line := oneLine(q)
		if len(args) > 0 {
			var as []string
			for _, a := range args {
				as = append(as, fmt.Sprintf("%q", fmt.Sprint(a)))
			}
			line += " -- ? = " + strings.Join(as, ", ")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
