// Package postgres is the PostgreSQL warehouse: it lands batches in tables
// (upsert through a COPY-filled staging table and one INSERT … ON CONFLICT,
// or by COPY alone into a table that was empty when the run began; append by
// COPY; replace by a shadow table swapped in when the run ends) and
// keeps the engine's journal (sync history, state, rejects) in the tables of
// migrations/postgres.
//
// Every table, the engine's own included, is created unqualified unless the
// pipeline names a schema, so it lands in the connection's search_path: a URL
// with ?search_path=etl keeps a warehouse's tables in schema etl.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/etl-dev/etl/engine"
)

// Register adds the postgres sink driver (URL schemes postgres and
// postgresql) to r.
func Register(r *engine.Registry) {
	r.RegisterSink(engine.SinkDriver{Name: "postgres", Schemes: []string{"postgres", "postgresql"}, Open: Open})
}

// Warehouse is a PostgreSQL database opened as an engine.Warehouse. It is safe
// for concurrent use; each call takes a pooled connection of its own. The
// URL's pool_* parameters (pool_max_conns, …) tune the pool, as
// pgxpool.ParseConfig documents.
type Warehouse struct {
	pool     *pgxpool.Pool
	password string // kept out of connection errors
	desc     string

	mu       sync.Mutex
	locks    map[*pgx.Conn]struct{} // connections holding a pipeline lock
	lockConn map[string]*pgx.Conn   // pipeline → the connection holding its lock
	lockPID  map[string]uint32      // pipeline → backend PID of the session holding its lock
	seqCache []any                  // see seqs
	plans    map[string]upsertPlan  // upsert targets (sanitized) → what Prepare learned of them

	newTables   sync.Map // targets (sanitized) this Warehouse's Prepare created (see DropIfNew)
	schemaNotes sync.Map // targets (sanitized) → what their last Prepare changed (see SchemaNotes)

	retry      time.Duration // see RetryFor
	log        *slog.Logger
	reconnects atomic.Int64
}

var (
	_ engine.Warehouse        = (*Warehouse)(nil)
	_ engine.TablePlanner     = (*Warehouse)(nil)
	_ engine.SourceStateStore = (*Warehouse)(nil)
)

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string, as pgxpool parses it). It does not migrate. Errors never
// contain the URL's password.
func Open(ctx context.Context, url string) (engine.Warehouse, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("sink postgres: open: %w", redact(err, urlPassword(url)))
	}
	cc := cfg.ConnConfig
	w := &Warehouse{
		password: cc.Password,
		desc:     "postgres " + net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))) + "/" + cc.Database,
		locks:    map[*pgx.Conn]struct{}{},
		lockConn: map[string]*pgx.Conn{},
		lockPID:  map[string]uint32{},
		plans:    map[string]upsertPlan{},
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerNumeric(c.TypeMap())
		return nil
	}
	if w.pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
		if err = w.pool.Ping(ctx); err != nil {
			w.pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sink postgres: open %s: %w", w.desc, redact(err, w.password))
	}
	return w, nil
}

// Describe names the warehouse as "postgres host:port/database".
func (w *Warehouse) Describe() string { return w.desc }

// Close closes the warehouse's connections, releasing any pipeline lock still
// held. It waits for calls in progress to return their connections.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	locks := w.locks
	w.locks = map[*pgx.Conn]struct{}{}
	w.lockConn = map[string]*pgx.Conn{}
	w.lockPID = map[string]uint32{}
	w.mu.Unlock()
	for c := range locks {
		_ = releaseLock(c)
	}
	w.pool.Close()
	return nil
}

// acquire takes a pooled connection; its errors never contain the password.
func (w *Warehouse) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := w.pool.Acquire(ctx)
	return c, redact(err, w.password)
}

// withConn runs f on a pooled connection.
func (w *Warehouse) withConn(ctx context.Context, f func(c *pgx.Conn) error) error {
	c, err := w.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return f(c.Conn())
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
