// Package mysql is the "mysql" source kind: it reads one table, or the rows
// of one query, from MySQL or MariaDB with go-sql-driver/mysql.
//
// Rows are read in keyset order, never with OFFSET: by the key for a full
// load, and by (incremental column, key) for an incremental one, page_size
// rows a round trip, starting inclusively at the engine's cursor. Rows whose
// incremental column is NULL (or a zero date) are read through the declared
// fallback column, merged into the same order, so none is lost. Values keep
// their meaning: DATETIME in the pipeline's timezone, TIMESTAMP as the
// instant it is, zero dates as nil (counted), DECIMAL as exact text, text of
// any character set as UTF-8. A dropped connection is retried with backoff
// and the read resumes after the last row it emitted; refused credentials fail
// at once. See README.md for the attributes and the exact rules.
package mysql

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/engine"
)

// Register adds the "mysql" source kind to r.
func Register(r *engine.Registry) {
	r.RegisterSource("mysql", New)
}

// Defaults of the optional attributes.
const (
	DefaultPageSize       = 5000
	DefaultAttempts       = 5
	DefaultMaxWait        = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultReadTimeout    = 10 * time.Minute
	maxPageSize           = 100000
)

// Config is the schema of a `source "mysql" {}` block body. The *Range
// fields are filled by the decoder with where each attribute's value is, for
// diagnostics.
type Config struct {
	// DSN is a go-sql-driver/mysql data source name, normally env("…"):
	// user:password@tcp(host:3306)/database. The source adds its own
	// session settings (utf8mb4, UTC session time zone, no parseTime).
	DSN string `hcl:"dsn"`
	// Table is the table to read: name or database.name. Either Table or
	// Query is set.
	Table string `hcl:"table,optional"`
	// Columns are the table's columns to read; all (*) when empty. Only with
	// Table.
	Columns []string `hcl:"columns,optional"`
	// Query is a SELECT (joins allowed) read as a derived table; its output
	// column names must be unique and include Key and the incremental and
	// fallback columns.
	Query string `hcl:"query,optional"`
	// Key names the column(s) that identify a row, unique and never NULL:
	// the keyset order.
	Key []string `hcl:"key"`
	// IncrementalColumn is the column an incremental run filters and orders
	// by (updated_at); empty: every run is a full load by Key.
	IncrementalColumn string `hcl:"incremental_column,optional"`
	// FallbackColumn stands in for IncrementalColumn where that is NULL or
	// a zero date (created_at, added_on).
	FallbackColumn string `hcl:"fallback_column,optional"`
	// PageSize is how many rows one round trip reads; default 5000.
	PageSize int `hcl:"page_size,optional"`
	// ConnectTimeout and ReadTimeout are Go durations; defaults 10s and 10m.
	ConnectTimeout string `hcl:"connect_timeout,optional"`
	ReadTimeout    string `hcl:"read_timeout,optional"`
	// Retry says how often a round trip that lost its connection is tried.
	Retry *RetryConfig `hcl:"retry,block"`

	DSNRange               hcl.Range `hcl:"dsn,attr_value_range"`
	TableRange             hcl.Range `hcl:"table,attr_value_range"`
	ColumnsRange           hcl.Range `hcl:"columns,attr_value_range"`
	QueryRange             hcl.Range `hcl:"query,attr_value_range"`
	KeyRange               hcl.Range `hcl:"key,attr_value_range"`
	IncrementalColumnRange hcl.Range `hcl:"incremental_column,attr_value_range"`
	FallbackColumnRange    hcl.Range `hcl:"fallback_column,attr_value_range"`
	PageSizeRange          hcl.Range `hcl:"page_size,attr_value_range"`
	ConnectTimeoutRange    hcl.Range `hcl:"connect_timeout,attr_value_range"`
	ReadTimeoutRange       hcl.Range `hcl:"read_timeout,attr_value_range"`
}

// RetryConfig is the `retry {}` block: attempts per round trip (default 5)
// and the longest wait between two (default "30s"); waits double from 1s.
type RetryConfig struct {
	Attempts int    `hcl:"attempts,optional"`
	MaxWait  string `hcl:"max_wait,optional"`

	AttemptsRange hcl.Range `hcl:"attempts,attr_value_range"`
	MaxWaitRange  hcl.Range `hcl:"max_wait,attr_value_range"`
}

// Source reads one table or query. It holds no connection between runs:
// each Read opens its own and closes it. It is safe to Read more than once,
// not concurrently.
type Source struct {
	cfg      Config
	pipeline string
	conn     *mysql.Config // parsed DSN; nil when the DSN was empty at load
	pageSize int
	attempts int
	maxWait  time.Duration
	minWait  time.Duration // first backoff; tests shorten it
	connTO   time.Duration
	readTO   time.Duration
	scanned  func(page, n int) // tests: called after each row a page scans
}

var (
	_ engine.Source        = (*Source)(nil)
	_ engine.CursorOrdered = (*Source)(nil)
	_ engine.FieldLister   = (*Source)(nil)
	_ engine.Describer     = (*Source)(nil)
	_ engine.ReadPlanner   = (*Source)(nil)
)

// New decodes body into a Config, fills defaults, validates it and returns
// the Source. An empty dsn (an unset env() while validating) is accepted
// here and refused by Read.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	var cfg Config
	diags := gohcl.DecodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	s := &Source{
		cfg:      cfg,
		pipeline: pc.Pipeline,
		pageSize: DefaultPageSize,
		attempts: DefaultAttempts,
		maxWait:  DefaultMaxWait,
		minWait:  time.Second,
		connTO:   DefaultConnectTimeout,
		readTO:   DefaultReadTimeout,
	}
	diags = append(diags, s.validate(pc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

func (s *Source) validate(pc engine.PluginContext) hcl.Diagnostics {
	c := &s.cfg
	var diags hcl.Diagnostics
	bad := func(r hcl.Range, summary, detail string) {
		if r == (hcl.Range{}) {
			r = pc.DefRange
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()})
	}

	if c.DSN != "" {
		conn, err := mysql.ParseDSN(c.DSN)
		if err != nil {
			bad(c.DSNRange, "Invalid dsn", fmt.Sprintf("The dsn is not a MySQL data source name (%s); write it as user:password@tcp(host:3306)/database.", redact(err.Error(), passwordOf(c.DSN))))
		} else {
			if conn.DBName == "" && !strings.Contains(c.Table, ".") {
				bad(c.DSNRange, "No database in dsn", "The dsn names no database: end it with /database, e.g. user:password@tcp(host:3306)/genius.")
			}
			s.conn = conn
		}
	}

	switch {
	case c.Table == "" && c.Query == "":
		bad(pc.DefRange, "Missing table or query", `Name what to read: table = "prospect" (with optional columns = [...]), or query = "SELECT … FROM …".`)
	case c.Table != "" && c.Query != "":
		bad(c.QueryRange, "Both table and query", "Set either table (with columns) or query, not both.")
	case c.Query != "" && c.Columns != nil:
		bad(c.ColumnsRange, "Columns with a query", "columns lists a table's columns; with query, select the columns in the query itself.")
	}
	if c.Table != "" {
		parts := strings.Split(c.Table, ".")
		if len(parts) > 2 || slices.Contains(parts, "") || !validName(c.Table) {
			bad(c.TableRange, "Invalid table name", fmt.Sprintf("%q is not a table name: use name or database.name.", c.Table))
		}
	}
	if c.Query != "" && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(c.Query)), "SELECT") && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(c.Query)), "WITH") {
		bad(c.QueryRange, "Query is not a SELECT", "query must be one SELECT statement (joins allowed); the source wraps it as a derived table to page through it.")
	}
	if c.Columns != nil {
		if len(c.Columns) == 0 {
			bad(c.ColumnsRange, "Empty columns", `List the columns to read, e.g. columns = ["id", "email"], or remove columns to read them all.`)
		}
		seen := map[string]bool{}
		for _, col := range c.Columns {
			switch {
			case !validName(col):
				bad(c.ColumnsRange, "Invalid column name", fmt.Sprintf("%q is not a column name.", col))
			case seen[strings.ToLower(col)]:
				bad(c.ColumnsRange, "Duplicate column", fmt.Sprintf("%q is listed twice.", col))
			}
			seen[strings.ToLower(col)] = true
		}
	}

	if len(c.Key) == 0 {
		bad(c.KeyRange, "Missing key", `key names the column(s) that identify a row (unique, never NULL), e.g. key = ["id"]; rows are read in key order.`)
	}
	seen := map[string]bool{}
	for _, k := range c.Key {
		switch {
		case !validName(k):
			bad(c.KeyRange, "Invalid key column", fmt.Sprintf("%q is not a column name.", k))
		case seen[strings.ToLower(k)]:
			bad(c.KeyRange, "Duplicate key column", fmt.Sprintf("%q is listed twice in key.", k))
		}
		seen[strings.ToLower(k)] = true
	}
	if c.IncrementalColumn != "" && !validName(c.IncrementalColumn) {
		bad(c.IncrementalColumnRange, "Invalid incremental_column", fmt.Sprintf("%q is not a column name.", c.IncrementalColumn))
	}
	if c.IncrementalColumn != "" && seen[strings.ToLower(c.IncrementalColumn)] {
		bad(c.IncrementalColumnRange, "Incremental column in key", "The incremental column orders rows ahead of the key; it cannot be part of the key.")
	}
	if c.FallbackColumn != "" {
		switch {
		case c.IncrementalColumn == "":
			bad(c.FallbackColumnRange, "Fallback without incremental_column", "fallback_column stands in for incremental_column where that is NULL; set incremental_column too.")
		case !validName(c.FallbackColumn):
			bad(c.FallbackColumnRange, "Invalid fallback_column", fmt.Sprintf("%q is not a column name.", c.FallbackColumn))
		case strings.EqualFold(c.FallbackColumn, c.IncrementalColumn):
			bad(c.FallbackColumnRange, "Fallback is the incremental column", "fallback_column must be another column, such as created_at.")
		}
	}

	if c.PageSize != 0 {
		if c.PageSize < 1 || c.PageSize > maxPageSize {
			bad(c.PageSizeRange, "Invalid page_size", fmt.Sprintf("page_size is %d; it must be between 1 and %d.", c.PageSize, maxPageSize))
		} else {
			s.pageSize = c.PageSize
		}
	}
	duration := func(v string, r hcl.Range, name string, dst *time.Duration) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(r, "Invalid "+name, fmt.Sprintf("%s is %q; write a positive Go duration such as \"30s\" or \"5m\".", name, v))
			return
		}
		*dst = d
	}
	duration(c.ConnectTimeout, c.ConnectTimeoutRange, "connect_timeout", &s.connTO)
	duration(c.ReadTimeout, c.ReadTimeoutRange, "read_timeout", &s.readTO)
	if r := c.Retry; r != nil {
		if r.Attempts != 0 {
			if r.Attempts < 1 || r.Attempts > 100 {
				bad(r.AttemptsRange, "Invalid attempts", fmt.Sprintf("attempts is %d; it must be between 1 (no retry) and 100.", r.Attempts))
			} else {
				s.attempts = r.Attempts
			}
		}
		duration(r.MaxWait, r.MaxWaitRange, "max_wait", &s.maxWait)
	}
	return diags
}

// validName accepts any identifier MySQL can quote: not empty, no NUL, no
// surrounding blanks.
func validName(s string) bool {
	return s != "" && !strings.ContainsRune(s, 0) && strings.TrimSpace(s) == s
}

// Fields returns the columns a record has when table and columns are
// declared (the key, incremental and fallback columns included), else nil.
func (s *Source) Fields() []string {
	if s.cfg.Columns == nil {
		return nil
	}
	return s.selectColumns()
}

// selectColumns is Columns plus any key, incremental or fallback column it
// lacks.
func (s *Source) selectColumns() []string {
	cols := slices.Clone(s.cfg.Columns)
	has := func(name string) bool {
		return slices.ContainsFunc(cols, func(c string) bool { return strings.EqualFold(c, name) })
	}
	extra := append(slices.Clone(s.cfg.Key), s.cfg.IncrementalColumn, s.cfg.FallbackColumn)
	for _, e := range extra {
		if e != "" && !has(e) {
			cols = append(cols, e)
		}
	}
	return cols
}

// CursorOrdered reports whether rows arrive in ascending order of the
// incremental column (with the fallback standing in for it): true when
// incremental_column is set.
func (s *Source) CursorOrdered() bool { return s.cfg.IncrementalColumn != "" }

// Describe returns "mysql <host:port>/<database> table <name>" (or
// "… query"), never the user or password.
func (s *Source) Describe() string {
	where := "?"
	if s.conn != nil {
		host := s.conn.Addr
		if h, p, err := net.SplitHostPort(host); err == nil && p == "3306" {
			host = h
		}
		where = host + "/" + s.conn.DBName
	}
	if s.cfg.Table != "" {
		return "mysql " + where + " table " + s.cfg.Table
	}
	return "mysql " + where + " query"
}

// passwordOf is the password in a DSN, or "" when it has none or cannot be
// parsed (then the text up to the last @ is a best guess).
func passwordOf(dsn string) string {
	if c, err := mysql.ParseDSN(dsn); err == nil {
		return c.Passwd
	}
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return ""
	}
	_, pw, ok := strings.Cut(dsn[:at], ":")
	if !ok {
		return ""
	}
	return pw
}

// redact removes the password from a message.
func redact(msg, password string) string {
	if password == "" {
		return msg
	}
	return strings.ReplaceAll(msg, password, "[redacted]")
}
