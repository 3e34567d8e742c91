// Package postgres is the PostgreSQL warehouse: it lands batches in tables
// (upsert through a COPY-filled staging table and one INSERT … ON CONFLICT,
// append by COPY, replace by a shadow table swapped in when the run ends) and
// keeps the engine's journal (sync history, state, rejects) in the tables of
// migrations/postgres.
//
// Every table, the engine's own included, is created unqualified unless the
// pipeline names a schema, so it lands in the connection's search_path: a URL
// with ?search_path=etl keeps a warehouse's tables in schema etl.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

// Register adds the postgres sink driver (URL schemes postgres and
// postgresql) to r.
func Register(r *engine.Registry) {
	r.RegisterSink(engine.SinkDriver{Name: "postgres", Schemes: []string{"postgres", "postgresql"}, Open: Open})
}

// Warehouse is a PostgreSQL database opened as an engine.Warehouse. It is safe
// for concurrent use; each call takes a connection of its own.
type Warehouse struct {
	cfg  *pgx.ConnConfig
	desc string
	pool *pool

	mu       sync.Mutex
	locks    map[*pgx.Conn]struct{} // connections holding a pipeline lock
	seqCache []any                  // see seqs
}

var _ engine.Warehouse = (*Warehouse)(nil)

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string, as pgx parses it). It does not migrate. Errors never
// contain the URL's password.
func Open(ctx context.Context, url string) (engine.Warehouse, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("sink postgres: open: %w", redact(err, urlPassword(url)))
	}
	w := &Warehouse{
		cfg:   cfg,
		desc:  "postgres " + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database,
		locks: map[*pgx.Conn]struct{}{},
	}
	w.pool = &pool{connect: w.connect}
	c, err := w.pool.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("sink postgres: open %s: %w", w.desc, err)
	}
	w.pool.release(c)
	return w, nil
}

// connect opens a new session; its errors never contain the password.
func (w *Warehouse) connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, w.cfg)
	if err != nil {
		return nil, redact(err, w.cfg.Password)
	}
	return c, nil
}

// Describe names the warehouse as "postgres host:port/database".
func (w *Warehouse) Describe() string { return w.desc }

// Close closes the warehouse's connections, releasing any pipeline lock still
// held.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	locks := w.locks
	w.locks = map[*pgx.Conn]struct{}{}
	w.mu.Unlock()
	for c := range locks {
		_ = releaseLock(c)
	}
	w.pool.close()
	return nil
}

// pool is a minimal connection pool. pgxpool would do, but it needs
// github.com/jackc/puddle/v2, which go.mod does not carry; a warehouse makes
// few concurrent calls, so idle connections in a list are enough. Each
// connection remembers the staging tables its session created.
type pool struct {
	connect func(context.Context) (*pgx.Conn, error)

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// conn is a pooled session.
type conn struct {
	*pgx.Conn
	staging  map[string]string // staging table name by column-type signature
	lastUsed time.Time
}

const (
	maxIdle   = 4
	pingAfter = 30 * time.Second // an idle connection older than this is pinged before reuse
)

func (p *pool) acquire(ctx context.Context) (*conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("warehouse is closed")
		}
		var c *conn
		if n := len(p.idle); n > 0 {
			c = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			pc, err := p.connect(ctx)
			if err != nil {
				return nil, err
			}
			return &conn{Conn: pc, staging: map[string]string{}}, nil
		}
		if time.Since(c.lastUsed) < pingAfter || c.Ping(ctx) == nil {
			return c, nil
		}
		_ = c.Close(context.Background())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// release returns c to the pool, or closes it when it is broken, still in a
// transaction, or not needed.
func (p *pool) release(c *conn) {
	if c.IsClosed() {
		return
	}
	p.mu.Lock()
	keep := !p.closed && len(p.idle) < maxIdle && c.PgConn().TxStatus() == 'I'
	if keep {
		c.lastUsed = time.Now()
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		_ = c.Close(context.Background())
	}
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.Close(context.Background())
	}
}

// withConn runs f on a pooled connection.
func (w *Warehouse) withConn(ctx context.Context, f func(c *conn) error) error {
	c, err := w.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer w.pool.release(c)
	return f(c)
}

// redactedError hides a secret in its wrapped error's message.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	s := e.err.Error()
	for _, x := range e.secrets {
		s = strings.ReplaceAll(s, x, "xxxxx")
	}
	return s
}

func (e *redactedError) Unwrap() error { return e.err }

// redact wraps err so that its message never shows password, raw or
// URL-escaped. pgx already leaves passwords out of its messages; this makes
// sure of it.
func redact(err error, password string) error {
	if err == nil || password == "" {
		return err
	}
	secrets := []string{password}
	for _, esc := range []string{url.QueryEscape(password), url.PathEscape(password)} {
		if esc != password {
			secrets = append(secrets, esc)
		}
	}
	return &redactedError{err: err, secrets: secrets}
}

// urlPassword returns the password of a postgres:// URL, or "".
func urlPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}
